"""Radicado numbering and the ticket records.

A radicado is ``{prefix}-{YYYY}-{NNNNNN}``. Its sequence number is taken
inside the caller's ``BEGIN IMMEDIATE`` transaction with one upsert, so a
crash or an error rolls the number back with everything else: numbers are
never reused and never skipped, even with two processes allocating at once.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .config import DEFAULT_PROCEDURE
from .intake.robots import Robot
from .store import iso, now

if TYPE_CHECKING:
    from .rules import Procedure

# Contract states, plus RECEIVED: acknowledged, documents not yet examined.
RECEIVED = "received"
NEEDS_CORRECTION = "needs_correction"
PENDING_APPROVAL = "pending_approval"
RESOLVED = "resolved"
REJECTED = "rejected"
# Approved with [reset] delivery = "link": the links are out, the ticket is
# resolved when every account's link has been used (CONTRACT §10).
LINK_SENT = "link_sent"
# The requester did not complete a correction within the legal month
# (desistimiento tácito, Ley 1755 de 2015 art. 17; CONTRACT 12).
WITHDRAWN = "withdrawn"
STATES = (RECEIVED, NEEDS_CORRECTION, PENDING_APPROVAL, LINK_SENT, RESOLVED, REJECTED, WITHDRAWN)
OPEN_STATES = (RECEIVED, NEEDS_CORRECTION, PENDING_APPROVAL, LINK_SENT)

# Kinds of inbound rows recorded for robots (pipeline._record_robot).
ROBOT_KINDS = tuple(r.value for r in Robot if r is not Robot.HUMAN)

# Inbound kinds a person may have written: a request, a reply, and a
# message with no usable sender (two From addresses, a broken one), which
# nothing can answer automatically but somebody wrote all the same.
PERSON_KINDS = ("request", "reply", Robot.NO_SENDER.value)

STATE_LABELS = {
    RECEIVED: "recibida",
    NEEDS_CORRECTION: "requiere corrección",
    PENDING_APPROVAL: "pendiente de aprobación",
    LINK_SENT: "enlaces enviados",
    RESOLVED: "resuelta",
    REJECTED: "rechazada",
    WITHDRAWN: "desistida",
}


def state_label(state: str) -> str:
    """A state as every screen and message names it (the code itself if unknown)."""
    return STATE_LABELS.get(state, state)


@dataclass(frozen=True)
class Ticket:
    id: int
    radicado: str
    state: str
    sender: str
    requester: str
    subject: str
    entity_name: str | None
    entity_nit: str | None
    legal_rep_name: str | None
    legal_rep_email: str | None
    created_at: str
    updated_at: str
    procedure: str  # its trámite (CONTRACT §9): rules/procedures/ID

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "Ticket":
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})


def verdict_recipient(ticket: Ticket, procedure: Procedure | None) -> str:
    """Where a ticket's corrections, verdicts, reminders and results go.

    The requester (Reply-To when the message had one) for most procedures;
    the From address for one that hands over an account (CONTRACT §13):
    anyone can write a Reply-To, so there only the ack may follow it. A
    procedure since removed from the rules is taken as handing over (the
    safe side)."""
    if procedure is None or procedure.hands_over_account:
        return ticket.sender
    return ticket.requester


def radicado_pattern(prefixes: list[str]) -> re.Pattern:
    """Matches ``[Radicado GEL-2026-000042]`` (any case) in a subject, for
    any of ``prefixes`` ([radicado] prefix and the procedures' own)."""
    choice = "|".join(re.escape(p) for p in prefixes)
    return re.compile(rf"\[\s*radicado\s*:?\s*((?:{choice})-\d{{4}}-\d{{6}})\s*\]", re.IGNORECASE)


def allocate_radicado(conn: sqlite3.Connection, prefix: str, year: int, own_prefix: bool = False) -> str:
    """Next number of ``year``; must run inside a BEGIN IMMEDIATE transaction.
    ``own_prefix``: a procedure's own prefix, numbered apart from the
    default one ([radicado] prefix, whose sequence is keyed '')."""
    key = prefix.upper() if own_prefix else ""
    (number,) = conn.execute(
        "INSERT INTO radicado_sequence(prefix, year, last) VALUES (?, ?, 1) "
        "ON CONFLICT(prefix, year) DO UPDATE SET last = last + 1 RETURNING last",
        (key, year),
    ).fetchone()
    return f"{prefix.upper()}-{year:04d}-{number:06d}"


def create(conn: sqlite3.Connection, prefix: str, sender: str, requester: str, subject: str,
           procedure: str = DEFAULT_PROCEDURE, own_prefix: bool = False) -> Ticket:
    stamp = now()
    radicado = allocate_radicado(conn, prefix, stamp.year, own_prefix)
    conn.execute(
        "INSERT INTO tickets(radicado, state, sender, requester, subject, created_at, updated_at, procedure) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (radicado, RECEIVED, sender, requester, subject, iso(stamp), iso(stamp), procedure),
    )
    return get(conn, radicado)


def get(conn: sqlite3.Connection, radicado: str) -> Ticket | None:
    row = conn.execute("SELECT * FROM tickets WHERE radicado = ?", (radicado.upper(),)).fetchone()
    return Ticket.from_row(row) if row else None


def get_by_id(conn: sqlite3.Connection, ticket_id: int) -> Ticket:
    return Ticket.from_row(conn.execute("SELECT * FROM tickets WHERE id = ?", (ticket_id,)).fetchone())


def record_event(conn: sqlite3.Connection, ticket_id: int | None, actor: str, action: str, detail: str = "") -> None:
    """Append to the audit trail; rows are never updated or deleted."""
    conn.execute(
        "INSERT INTO events(ticket_id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)",
        (ticket_id, iso(), actor, action, detail),
    )


def add_finding(conn: sqlite3.Connection, ticket_id: int, severity: str, code: str, detail: str,
                document: str | None = None, source: str = "intake") -> None:
    """``source`` "examination" findings are replaced when the documents are examined again."""
    conn.execute(
        "INSERT INTO findings(ticket_id, severity, code, detail, document, at, source) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (ticket_id, severity, code, detail, document, iso(), source),
    )


def thread_ids(conn: sqlite3.Connection, ticket_id: int) -> list[str]:
    """The conversation's Message-IDs for References, ending with the
    entity's latest message (which becomes In-Reply-To).

    Robots' messages linked to the ticket (an out-of-office answering our
    ack, a bounce) are no part of the conversation: an answer threads to
    what a person of the entity wrote, never to a robot."""
    marks = ",".join("?" * len(ROBOT_KINDS))
    rows = conn.execute("SELECT direction, message_id FROM messages WHERE ticket_id = ? AND message_id != '' "
                        f"AND message_id IS NOT NULL AND NOT (direction = 'in' AND kind IN ({marks})) ORDER BY id",
                        (ticket_id, *ROBOT_KINDS)).fetchall()
    ids = [r["message_id"] for r in rows]
    latest_in = [r["message_id"] for r in rows if r["direction"] == "in"][-1:]
    return [i for i in ids if i not in latest_in] + latest_in


def set_follow_up(conn: sqlite3.Connection, ticket_id: int, message_row: int | None = None) -> None:
    """Flag the ticket for a person (``follow_up``, CONTRACT §1, any state).

    ``follow_up_since`` keeps the first message still waiting (messages.id):
    ``queue`` shows it and every later one, even when an automatic email
    came in between (new documents answered by the examination after a
    question nobody answered). Without a message (an examination's verdict
    held back by the daily cap) the entity's latest message waits."""
    if message_row is None:
        marks = ",".join("?" * len(PERSON_KINDS))
        (message_row,) = conn.execute(f"SELECT max(id) FROM messages WHERE ticket_id = ? AND direction = 'in' "
                                      f"AND kind IN ({marks})", (ticket_id, *PERSON_KINDS)).fetchone()
    conn.execute("UPDATE tickets SET follow_up = 1, follow_up_since = coalesce(follow_up_since, ?), updated_at = ? "
                 "WHERE id = ?", (message_row, iso(), ticket_id))


def clear_follow_up(conn: sqlite3.Connection, ticket_id: int) -> None:
    """A person answered or decided: nothing the entity wrote waits any more."""
    conn.execute("UPDATE tickets SET follow_up = 0, follow_up_since = NULL WHERE id = ?", (ticket_id,))
