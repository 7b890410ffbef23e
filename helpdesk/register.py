"""The register of corporate accounts (seed 002's FT-GTI-002, "Lista de
correos corporativos").

One row per account with its present state (activa, deshabilitada,
eliminada), the official and office it belongs to, the dates of its
creation, last modification and closing, the radicado and the staff member
of the last decision; every change is also kept in
``corporate_account_changes``. Rows are written by the approval of an
account request (staff/accounts.py) in the same transaction as the ticket's
resolution and its emails, so the register never disagrees with what was
answered. The examination reads it: a deletion or modification must name
an active account, a creation must not.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from .rules import normalise
from .store import iso

ACTIVE, DISABLED, DELETED = "activa", "deshabilitada", "eliminada"
STATES = (ACTIVE, DISABLED, DELETED)


@dataclass(frozen=True)
class RegisteredAccount:
    account: str
    official_name: str
    official_document: str
    official_position: str
    office: str
    state: str
    created_at: str | None
    modified_at: str | None
    closed_at: str | None
    radicado: str | None
    decided_by: str

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "RegisteredAccount":
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class AccountChange:
    """What an approved request did to one account."""

    action: str  # "create" | "modify" | "delete" | "disable"
    account: str
    official_name: str
    official_document: str
    official_position: str
    office: str
    radicado: str
    decided_by: str
    detail: str = ""


# The state an account is left in by each action.
STATE_AFTER = {"create": ACTIVE, "modify": ACTIVE, "delete": DELETED, "disable": DISABLED}
ACTION_LABELS = {"create": "creación", "modify": "modificación", "delete": "eliminación",
                 "disable": "deshabilitación"}


# What the form's "Tipo de solicitud" says -> the action (accents and case ignored).
REQUEST_TYPES = {"creacion": "create", "modificacion": "modify", "eliminacion": "delete"}


def account_action(written: str | None) -> str | None:
    """'Creación' -> 'create'; None for anything else."""
    return REQUEST_TYPES.get(normalise(written or ""))


def lookup(conn: sqlite3.Connection, account: str) -> RegisteredAccount | None:
    row = conn.execute("SELECT * FROM corporate_accounts WHERE account = ?", (account.strip().lower(),)).fetchone()
    return RegisteredAccount.from_row(row) if row else None


def size(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM corporate_accounts").fetchone()[0]


def listing(conn: sqlite3.Connection) -> list[RegisteredAccount]:
    rows = conn.execute("SELECT * FROM corporate_accounts ORDER BY account").fetchall()
    return [RegisteredAccount.from_row(r) for r in rows]


def record(conn: sqlite3.Connection, change: AccountChange) -> None:
    """Apply ``change`` to the register, inside the caller's transaction.
    A modification keeps what the form left empty; a deletion changes the
    state and dates only (the record keeps who held the account); a
    creation of an account deleted before starts it anew: its new holder
    and creation date, and no closing or modification date of its former
    life (that life stays in ``corporate_account_changes``)."""
    at = iso()
    account = change.account.strip().lower()
    if change.action in ("delete", "disable") and lookup(conn, account) is not None:
        change = AccountChange(change.action, account, "", "", "", "", change.radicado, change.decided_by,
                               change.detail)
    state = STATE_AFTER[change.action]
    conn.execute(
        "INSERT INTO corporate_accounts(account, official_name, official_document, official_position, office, state, "
        "created_at, modified_at, closed_at, radicado, decided_by, updated_at) "
        "VALUES (:account, :name, :document, :position, :office, :state, :created, :modified, :closed, :radicado, "
        ":decided_by, :at) "
        "ON CONFLICT(account) DO UPDATE SET "
        f"official_name = {_kept('official_name')}, official_document = {_kept('official_document')}, "
        f"official_position = {_kept('official_position')}, office = {_kept('office')}, "
        "state = excluded.state, "
        "created_at = CASE WHEN :action = 'create' THEN excluded.created_at ELSE created_at END, "
        "modified_at = CASE :action WHEN 'modify' THEN excluded.updated_at WHEN 'create' THEN NULL "
        "ELSE modified_at END, "
        "closed_at = excluded.closed_at, radicado = excluded.radicado, decided_by = excluded.decided_by, "
        "updated_at = excluded.updated_at",
        {"account": account, "name": change.official_name, "document": change.official_document,
         "position": change.official_position, "office": change.office, "state": state,
         "created": at if change.action == "create" else None, "modified": at if change.action == "modify" else None,
         "closed": at if state != ACTIVE else None, "radicado": change.radicado, "decided_by": change.decided_by,
         "at": at, "action": change.action},
    )
    conn.execute("INSERT INTO corporate_account_changes(account, action, radicado, decided_by, detail, at) "
                 "VALUES (?, ?, ?, ?, ?, ?)",
                 (account, change.action, change.radicado, change.decided_by, change.detail, at))


def _kept(column: str) -> str:
    """SQL for a holder's column on update: a creation writes its own value
    (the account's new life), anything else keeps what the form left empty."""
    return (f"CASE WHEN :action = 'create' THEN excluded.{column} "
            f"ELSE coalesce(nullif(excluded.{column}, ''), {column}) END")


def changes(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM corporate_account_changes ORDER BY id").fetchall()
