"""What the running daemon tells the outside: its last poll, its failures.

Kept in the database (table ``daemon_status``) rather than in memory, so
that ``helpdesk stats`` and the metrics file, read by other processes, see
a mailbox that has been failing for an hour even after a restart.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..store import Store, iso

LAST_POLL_OK = "last_poll_ok_at"
CONSECUTIVE_FAILURES = "poll_failures"
TOTAL_FAILURES = "poll_failures_total"
LAST_ERROR = "last_poll_error"
LAST_ERROR_AT = "last_poll_error_at"


@dataclass(frozen=True)
class DaemonStatus:
    last_poll_ok_at: str | None
    consecutive_failures: int
    total_failures: int
    last_error: str | None
    last_error_at: str | None


def poll_succeeded(store: Store) -> None:
    with store.transaction() as conn:
        _put(conn, LAST_POLL_OK, iso())
        _put(conn, CONSECUTIVE_FAILURES, "0")


def poll_failed(store: Store, error: str) -> int:
    """Record one more failed poll; return how many in a row."""
    with store.transaction() as conn:
        failures = _get_int(conn, CONSECUTIVE_FAILURES) + 1
        _put(conn, CONSECUTIVE_FAILURES, str(failures))
        _put(conn, TOTAL_FAILURES, str(_get_int(conn, TOTAL_FAILURES) + 1))
        _put(conn, LAST_ERROR, error[:500])
        _put(conn, LAST_ERROR_AT, iso())
    return failures


def read(store: Store) -> DaemonStatus:
    values = {r["key"]: r["value"] for r in store.query("SELECT key, value FROM daemon_status")}
    return DaemonStatus(
        last_poll_ok_at=values.get(LAST_POLL_OK),
        consecutive_failures=int(values.get(CONSECUTIVE_FAILURES, "0")),
        total_failures=int(values.get(TOTAL_FAILURES, "0")),
        last_error=values.get(LAST_ERROR),
        last_error_at=values.get(LAST_ERROR_AT),
    )


def _get_int(conn, key: str) -> int:
    row = conn.execute("SELECT value FROM daemon_status WHERE key = ?", (key,)).fetchone()
    return int(row["value"]) if row else 0


def _put(conn, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO daemon_status(key, value, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        (key, value, iso()),
    )
