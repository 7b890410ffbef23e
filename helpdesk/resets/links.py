"""Single-use reset links (CONTRACT §10; seeds 001, 003, 004).

A link carries a random token of 256 bits (``secrets``); only its SHA-256
is stored, so the database alone opens nothing. A link is valid for
``[reset] link_hours``, for one successful use, and only while it is the
newest for its account (seed 001: "se activará con el último correo
recibido"): issuing one marks the older ones replaced, in the same
transaction.

Using one is claim, apply, commit, like an approval: ``claim`` marks the
link as being used (one of two simultaneous posts wins), the backend
applies the password outside any transaction, ``mark_used`` commits the
use; a failed backend call releases the claim and the link stays valid.

Staff can take links back (``revoke_ticket``: helpdesk revoke, a reject of
a ``link_sent`` ticket, the old owner's cancel of an email change): a
revoked link answers 410 like a used one, and the reason is audited.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from ..config import Config
from ..errors import ResetFailed
from ..store import Store, iso, now
from ..tickets import add_finding
from .backends import make_backend

APPROVAL, SELF_SERVICE = "approval", "self-service"
VALID, USED, EXPIRED, REPLACED, REVOKED, UNKNOWN = "valid", "used", "expired", "replaced", "revoked", "unknown"
# A claim older than this belongs to a request that died half-way: longer
# than any backend call can take (an LDAP reconnect with its timeouts).
CLAIM_SECONDS = 600


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


@dataclass(frozen=True)
class Link:
    id: int
    ticket_id: int | None
    account: str
    account_type: str
    scope: dict  # EntityScope's fields, for the ldap search
    purpose: str
    created_at: str
    expires_at: str
    used_at: str | None
    replaced_at: str | None
    claimed_at: str | None
    revoked_at: str | None = None

    def status(self, at: datetime | None = None) -> str:
        if self.used_at:
            return USED
        if self.revoked_at:
            return REVOKED
        if self.replaced_at:
            return REPLACED
        if (at or now()) >= datetime.fromisoformat(self.expires_at):
            return EXPIRED
        return VALID


def issue(conn: sqlite3.Connection, account: str, hours: float, purpose: str, ticket_id: int | None = None,
          account_type: str = "", scope: dict | None = None, at: datetime | None = None) -> str:
    """A new link for ``account`` (the older ones replaced); returns the
    token, which exists nowhere else: put it in the email now."""
    at = at or now()
    token = secrets.token_urlsafe(32)
    # Only a link of the same purpose replaces: a self-service request must
    # not cancel the link staff approved, nor an email change's confirmation.
    conn.execute("UPDATE reset_links SET replaced_at = ? WHERE account = ? AND purpose = ? AND used_at IS NULL "
                 "AND replaced_at IS NULL", (iso(at), account.lower(), purpose))
    conn.execute(
        "INSERT INTO reset_links(token_hash, ticket_id, account, account_type, scope_json, purpose, created_at, "
        "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (digest(token), ticket_id, account.lower(), account_type, json.dumps(scope or {}), purpose, iso(at),
         iso(at + timedelta(hours=hours))))
    return token


def find(conn: sqlite3.Connection, token: str) -> Link | None:
    if not token or len(token) > 100:
        return None
    return _by_hash(conn, digest(token))


def _by_hash(conn: sqlite3.Connection, token_hash: str) -> Link | None:
    row = conn.execute("SELECT * FROM reset_links WHERE token_hash = ?", (token_hash,)).fetchone()
    if row is None:
        return None
    return Link(row["id"], row["ticket_id"], row["account"], row["account_type"], json.loads(row["scope_json"] or "{}"),
                row["purpose"], row["created_at"], row["expires_at"], row["used_at"], row["replaced_at"],
                row["claimed_at"], row["revoked_at"])


def find_for(conn: sqlite3.Connection, ticket_id: int, account: str) -> Link | None:
    """The newest link of a ticket's account (for the audit: no token here)."""
    row = conn.execute("SELECT token_hash FROM reset_links WHERE ticket_id = ? AND account = ? ORDER BY id DESC "
                       "LIMIT 1", (ticket_id, account.lower())).fetchone()
    return _by_hash(conn, row["token_hash"]) if row else None


def claim(conn: sqlite3.Connection, link_id: int, at: datetime | None = None) -> bool:
    """Mark the link as being used, if it is still valid and nobody else
    holds it; False otherwise."""
    at = at or now()
    stale = iso(at - timedelta(seconds=CLAIM_SECONDS))
    return conn.execute(
        "UPDATE reset_links SET claimed_at = ? WHERE id = ? AND used_at IS NULL AND replaced_at IS NULL "
        "AND revoked_at IS NULL AND expires_at > ? AND (claimed_at IS NULL OR claimed_at < ?)",
        (iso(at), link_id, iso(at), stale)).rowcount == 1


def release(conn: sqlite3.Connection, link_id: int) -> None:
    conn.execute("UPDATE reset_links SET claimed_at = NULL WHERE id = ? AND used_at IS NULL", (link_id,))


@dataclass(frozen=True)
class Applied:
    """What became of a link's action: "taken" (another request holds or
    used the link), "failed" (the backend said ``error``; the link stays
    valid) or "done" (the caller commits the use)."""

    status: str
    error: str = ""
    backend: str = ""  # the backend's name, for the record


def apply_claimed(store: Store, config: Config, link: Link, client: str, action: Callable[[object], None],
                  finding: str) -> Applied:
    """Claim ``link``, then ``action(backend)`` outside any transaction (an
    LDAP server can be slow). A ResetFailed releases the claim and is
    audited, with the warning ``finding`` on the link's ticket; any other
    interruption releases the claim too. The caller commits a "done"."""
    with store.transaction() as conn:
        if not claim(conn, link.id):
            return Applied("taken")
    backend = make_backend(config)
    try:
        action(backend)
    except ResetFailed as exc:
        with store.transaction() as conn:
            release(conn, link.id)
            record(conn, "failed", client, link, detail=str(exc))
            if link.ticket_id:
                add_finding(conn, link.ticket_id, "warning", finding, str(exc), source="web")
        return Applied("failed", str(exc), backend.name)
    except BaseException:
        with store.transaction() as conn:
            release(conn, link.id)
        raise
    finally:
        backend.close()
    return Applied("done", backend=backend.name)


def mark_used(conn: sqlite3.Connection, link_id: int, at: datetime | None = None) -> None:
    conn.execute("UPDATE reset_links SET used_at = ?, claimed_at = NULL WHERE id = ? AND used_at IS NULL",
                 (iso(at or now()), link_id))


def in_use(conn: sqlite3.Connection, ticket_id: int, at: datetime | None = None) -> bool:
    """Is a link of the ticket being used right now (claimed, not stale)?
    Its page is applying a password or an email: taking the links back
    then would race with the commit of that use."""
    stale = iso((at or now()) - timedelta(seconds=CLAIM_SECONDS))
    return conn.execute("SELECT 1 FROM reset_links WHERE ticket_id = ? AND used_at IS NULL AND claimed_at >= ? "
                        "LIMIT 1", (ticket_id, stale)).fetchone() is not None


def revoke_ticket(conn: sqlite3.Connection, ticket_id: int, why: str, client: str = "",
                  at: datetime | None = None) -> int:
    """Take back every unused link of a ticket: its reset links and its
    confirmation, and the self-service links of its accounts issued since
    the ticket's first link (whoever asked for them then may be the person
    the ticket is being taken back from). Each revoked link is audited with
    ``why``; returns how many."""
    stamp = iso(at or now())
    rows = conn.execute(
        "SELECT id FROM reset_links WHERE used_at IS NULL AND revoked_at IS NULL AND replaced_at IS NULL AND ("
        "ticket_id = ? OR (purpose = ? AND ticket_id IS NULL AND account IN "
        "(SELECT account FROM reset_links WHERE ticket_id = ?) AND created_at >= "
        "(SELECT min(created_at) FROM reset_links WHERE ticket_id = ?)))",
        (ticket_id, SELF_SERVICE, ticket_id, ticket_id)).fetchall()
    for row in rows:
        conn.execute("UPDATE reset_links SET revoked_at = ? WHERE id = ?", (stamp, row["id"]))
        found = conn.execute("SELECT token_hash FROM reset_links WHERE id = ?", (row["id"],)).fetchone()
        record(conn, "revoked", client, _by_hash(conn, found["token_hash"]), detail=why, at=at)
    return len(rows)


def unused_of_ticket(conn: sqlite3.Connection, ticket_id: int) -> int:
    """Accounts of the ticket none of whose links has been used."""
    return conn.execute(
        "SELECT count(DISTINCT account) FROM reset_links WHERE ticket_id = ? AND account NOT IN "
        "(SELECT account FROM reset_links WHERE ticket_id = ? AND used_at IS NOT NULL)",
        (ticket_id, ticket_id)).fetchone()[0]


def record(conn: sqlite3.Connection, event: str, client: str, link: Link | None = None, identifier: str = "",
           detail: str = "", at: datetime | None = None) -> None:
    """One line of the web audit: what happened, to which link or
    identifier, from which client address. Never a token or a password."""
    conn.execute("INSERT INTO web_events(event, link_id, ticket_id, account, identifier, client, detail, at) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                 (event, link.id if link else None, link.ticket_id if link else None, link.account if link else "",
                  identifier, client, detail, iso(at or now())))
