"""Messages whose processing raised: kept, listed, retried.

Like Mailman's shunt queue: a message that makes the pipeline fail is never
dropped and never blocks the messages behind it. Its raw bytes are already
in the raw store; this table remembers which bytes, where they came from and
the error. ``helpdesk failed`` lists them, ``helpdesk retry`` runs them
through the pipeline again once the cause is fixed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from ..errors import Refused
from ..store import Store, iso

# Headers of a quarantined message are read from at most this many bytes.
HEADER_BYTES = 64 * 1024


@dataclass(frozen=True)
class Quarantined:
    id: int
    sha256: str
    source_ref: str
    error: str
    status: str
    attempts: int
    created_at: str
    updated_at: str
    # A retry asked of the lock holder (`helpdesk retry`), and its last result.
    retry_requested_at: str | None = None
    retried_at: str | None = None
    retry_outcome: str | None = None


def add(store: Store, sha256: str, source_ref: str, error: str) -> None:
    with store.transaction() as conn:
        existing = conn.execute("SELECT id FROM quarantine WHERE sha256 = ? AND status = 'open'", (sha256,)).fetchone()
        if existing:
            conn.execute(
                "UPDATE quarantine SET attempts = attempts + 1, error = ?, updated_at = ? WHERE id = ?",
                (error[:2000], iso(), existing["id"]),
            )
        else:
            conn.execute(
                "INSERT INTO quarantine(sha256, source_ref, error, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                (sha256, source_ref, error[:2000], iso(), iso()),
            )


def listing(store: Store, include_resolved: bool = False) -> list[Quarantined]:
    where = "" if include_resolved else "WHERE status = 'open'"
    return [Quarantined(**dict(r)) for r in store.query(f"SELECT * FROM quarantine {where} ORDER BY id")]


def get(store: Store, item_id: int) -> Quarantined | None:
    row = store.one("SELECT * FROM quarantine WHERE id = ?", (item_id,))
    return Quarantined(**dict(row)) if row else None


def resolve(store: Store, item_id: int) -> None:
    with store.transaction() as conn:
        conn.execute("UPDATE quarantine SET status = 'resolved', updated_at = ? WHERE id = ?", (iso(), item_id))


def request_retry(store: Store, item_ids: list[int]) -> str:
    """Ask the lock holder to retry these entries; return the request's time."""
    stamp = iso()
    with store.transaction() as conn:
        conn.executemany("UPDATE quarantine SET retry_requested_at = ? WHERE id = ?", [(stamp, i) for i in item_ids])
    return stamp


def requested(store: Store) -> list[Quarantined]:
    """Entries whose retry was asked for, oldest request first."""
    return [Quarantined(**dict(r)) for r in store.query(
        "SELECT * FROM quarantine WHERE retry_requested_at IS NOT NULL ORDER BY retry_requested_at, id")]


def has_requests(store: Store) -> bool:
    return store.one("SELECT 1 FROM quarantine WHERE retry_requested_at IS NOT NULL LIMIT 1") is not None


def record_retry(store: Store, item_id: int, outcome) -> None:
    """The holder's answer to a request: the pipeline's Outcome, as JSON."""
    with store.transaction() as conn:
        conn.execute("UPDATE quarantine SET retry_requested_at = NULL, retried_at = ?, retry_outcome = ? WHERE id = ?",
                     (iso(), json.dumps(asdict(outcome), ensure_ascii=False), item_id))


def check_retryable(store: Store, item: Quarantined) -> None:
    """Refuse, saying why, when the message's original bytes are gone.

    The retention policy never removes what an open entry names; a resolved
    entry retried by its ID may name bytes removed since.
    """
    if store.raw_path(item.sha256).exists():
        return
    row = store.one("SELECT max(raw_purged_at) FROM messages WHERE sha256 = ?", (item.sha256,))
    if row and row[0]:
        raise Refused(f"el correo original del mensaje #{item.id} fue eliminado por la política de retención "
                      f"el {row[0][:10]}; no se puede reprocesar")
    raise Refused(f"falta el correo original del mensaje #{item.id} ({store.raw_path(item.sha256)}); "
                  "restáurelo desde una copia (helpdesk restore) para reprocesarlo")


@dataclass(frozen=True)
class Envelope:
    """Who sent a quarantined message, about what and when: what staff
    need to recognise it. Read from its stored headers, cleaned."""

    sender: str
    subject: str
    date: str


def envelope(store: Store, item: Quarantined) -> Envelope:
    """The headers of a quarantined message. Its processing failed, so only
    its header block is parsed, and nothing here may raise."""
    from ..config import LimitsConfig
    from .message import clean_text, parse

    try:
        with open(store.raw_path(item.sha256), "rb") as fh:
            head = fh.read(HEADER_BYTES)
        block = head.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
        intake = parse(block + b"\n\n", LimitsConfig())
        sender = intake.sender or clean_text(intake.header("from"), 200)
        subject, date = intake.subject, clean_text(intake.header("date"), 80)
    except Exception:  # unreadable, purged or unparseable: say so, never fail the listing
        return Envelope("(no disponible)", "(no disponible)", "")
    return Envelope(sender or "(sin remitente)", clean_text(subject, 200) or "(sin asunto)", date)
