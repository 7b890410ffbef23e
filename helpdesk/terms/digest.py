"""The staff's daily digest of terms (CONTRACT 12): what falls due soon.

From ``[terms] digest_hour`` (local) each day, the addresses of ``[terms]
notify`` get one email listing the tickets due within ``warn_days``
business days and those overdue, most urgent first. The day is recorded
in ``terms_digests`` in the transaction that queues the emails: a restart,
a second daemon pass or a crash never sends the day's digest twice, and
never loses it (nothing is recorded unless the emails are queued).
A day with nothing near its due date sends nothing.
"""

from __future__ import annotations

from datetime import datetime

from .. import localtime
from ..config import Config
from ..outgoing import outbox
from ..outgoing.replies import Renderer
from ..store import Store, iso
from ..store import now as clock_now
from ..tickets import STATE_LABELS
from .calendar import long_date, weekday_date
from .office import Office, Standing, standings

DIGEST_KIND = "terms_digest"
# States in which the clock runs: a staff decision is awaited.
RUNNING = ("received", "pending_approval")


def urgent(conn, config: Config, office: Office, now: datetime | None = None) -> list[tuple[dict, Standing]]:
    """Running tickets due within warn_days or overdue, most urgent first."""
    rows = {r["id"]: r for r in conn.execute(
        f"SELECT id, radicado, state, procedure, entity_name, subject FROM tickets "
        f"WHERE state IN ({','.join('?' * len(RUNNING))})", RUNNING)}
    found = standings(conn, office, list(rows), now)
    near = [(dict(rows[tid]), s) for tid, s in found.items()
            if s.due is not None and (s.overdue or s.left <= config.terms.warn_days)]
    return sorted(near, key=lambda pair: (pair[1].left, pair[1].due, pair[0]["radicado"]))


def send_digest(store: Store, config: Config, renderer: Renderer, office: Office,
                now: datetime | None = None) -> int | None:
    """Queue today's digest when it is due; the number of tickets in it,
    or None when nothing was queued in this call."""
    if not config.terms.notify:
        return None
    now = now or clock_now()
    local = localtime.to_local(now, office.zone)
    if local.hour < config.terms.digest_hour:
        return None
    day = local.date().isoformat()
    with store.transaction() as conn:
        if conn.execute("SELECT 1 FROM terms_digests WHERE day = ?", (day,)).fetchone():
            return None
        items = urgent(conn, config, office, now)
        if items:
            context = {"day": weekday_date(local.date()), "warn_days": config.terms.warn_days,
                       "tickets": [_line(row, s) for row, s in items],
                       "overdue": sum(1 for _row, s in items if s.overdue)}
            for address in config.terms.notify:
                reply = renderer.build(DIGEST_KIND, address, "", context, answering=[], automatic=False)
                outbox.enqueue(conn, config, None, reply)
        conn.execute("INSERT INTO terms_digests(day, tickets, at) VALUES (?, ?, ?)", (day, len(items), iso()))
    return len(items)


def _line(row: dict, s: Standing) -> dict:
    return {"radicado": row["radicado"], "state": STATE_LABELS.get(row["state"], row["state"]),
            "procedure": row["procedure"], "entity": row["entity_name"] or "", "due": long_date(s.due),
            "left": s.left, "overdue": s.overdue, "standing": s.text()}
