"""Figures about the service: requests per state and per day, ages, time to
each step, delivery failures. ``helpdesk stats`` prints them; the metrics
file (``operations/metrics.py``) exports the counters among them.

Every figure is computed from the records (tickets, outbox, messages), not
from counters kept on the side, so it is right after a crash, a restore or
a restart, and two processes always agree.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo

from .. import localtime, wording
from ..store import Store, now
from ..tickets import OPEN_STATES, STATES, state_label
from . import status as status_mod

# The steps of seed 000, each measured from the ticket's intake to the
# first time it was reached. `sent_at` is when the email left; `created_at`
# is when the decision was made (staff or examination).
STEPS = (
    # (name, outbox kinds, which time)
    ("ack_sent", ("ack",), "sent_at"),
    ("examined", ("correction", "accepted"), "created_at"),
    ("accepted", ("accepted",), "created_at"),
    ("reset_sent", ("reset",), "sent_at"),
)

STEP_LABELS = {
    "ack_sent": "acuse de recibo enviado",
    "examined": "documentos revisados",
    "accepted": "documentos completos",
    "reset_sent": "respuesta de reinicio enviada",
}


@dataclass(frozen=True)
class Ages:
    """Open tickets of one state: how many and how long they have waited (seconds)."""

    count: int
    oldest: float | None
    median: float | None


@dataclass(frozen=True)
class StepTime:
    """Median and 90th percentile, in seconds, from intake to one step."""

    count: int
    median: float | None
    p90: float | None


@dataclass(frozen=True)
class Stats:
    generated_at: str
    days: int
    timezone: str  # the zone of per_day's dates ([site] timezone)
    by_state: dict[str, int]
    per_day: dict[str, int]
    ages: dict[str, Ages]
    steps: dict[str, StepTime]
    outgoing: dict[str, dict[str, int]]  # kind -> status -> count
    outbox_backlog: int
    outbox_oldest_pending: float | None
    delivery_failures: int
    deferred: int
    bounced: int
    quarantine_open: int
    examination_pending: int
    inbound: dict[str, int] = field(default_factory=dict)  # kind -> count
    daemon: status_mod.DaemonStatus | None = None
    # Answered within the legal term (CONTRACT 12, terms/figures.py); None
    # when computed without the procedures' terms.
    terms: object | None = None


def tickets_by_state(store: Store) -> dict[str, int]:
    counts = {state: 0 for state in STATES}
    for row in store.query("SELECT state, count(*) AS n FROM tickets GROUP BY state"):
        counts[row["state"]] = row["n"]
    return counts


def outgoing_counts(store: Store) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for row in store.query("SELECT kind, status, count(*) AS n FROM outbox GROUP BY kind, status"):
        counts.setdefault(row["kind"], {})[row["status"]] = row["n"]
    return counts


def inbound_counts(store: Store) -> dict[str, int]:
    return {r["kind"]: r["n"] for r in
            store.query("SELECT kind, count(*) AS n FROM messages WHERE direction = 'in' GROUP BY kind")}


def outbox_backlog(store: Store) -> tuple[int, str | None]:
    row = store.one("SELECT count(*) AS n, min(created_at) AS oldest FROM outbox WHERE status = 'pending'")
    return row["n"], row["oldest"]


def quarantine_open(store: Store) -> int:
    return store.one("SELECT count(*) FROM quarantine WHERE status = 'open'")[0]


def examination_pending(store: Store) -> int:
    return store.one("SELECT count(*) FROM tickets WHERE examine_pending = 1")[0]


def compute(store: Store, days: int = 14, at: datetime | None = None, zone: tzinfo = UTC, office=None) -> Stats:
    """All figures; ``days`` bounds the per-day table and the step times,
    whose days are those of ``zone`` (the office's, [site] timezone).
    ``office`` (terms/office.py): also the share answered within the term."""
    at = at or now()
    terms = None
    if office is not None:
        from ..terms.figures import shares

        terms = shares(store.conn, office, (at.astimezone(office.zone) - timedelta(days=days - 1)).date())
    since = (at - timedelta(days=days)).isoformat(timespec="seconds")
    backlog, oldest = outbox_backlog(store)
    # One count per status, each through the outbox_due index (status first).
    failures = {status: store.one("SELECT count(*) FROM outbox WHERE status = ?", (status,))[0]
                for status in ("failed", "bounced")}
    failures["deferred"] = store.one("SELECT count(*) FROM outbox WHERE status = 'pending' AND attempts > 0")[0]
    return Stats(
        generated_at=at.isoformat(timespec="seconds"),
        days=days,
        timezone=localtime.zone_name(zone),
        by_state=tickets_by_state(store),
        per_day=_per_day(store, at, days, zone),
        ages=_ages(store, at),
        steps=_steps(store, since),
        outgoing=outgoing_counts(store),
        outbox_backlog=backlog,
        outbox_oldest_pending=_seconds(at, oldest),
        delivery_failures=failures["failed"] or 0,
        deferred=failures["deferred"] or 0,
        bounced=failures["bounced"] or 0,
        quarantine_open=quarantine_open(store),
        examination_pending=examination_pending(store),
        inbound=inbound_counts(store),
        daemon=status_mod.read(store),
        terms=terms,
    )


def _per_day(store: Store, at: datetime, days: int, zone: tzinfo) -> dict[str, int]:
    """Requests per day of the office's calendar: a request at 02:00 UTC
    arrived the evening before in Bogotá, and is counted there."""
    first = (at.astimezone(zone) - timedelta(days=days - 1)).date()
    table = {(first + timedelta(days=i)).isoformat(): 0 for i in range(days)}
    start = datetime.combine(first, time(0), tzinfo=zone).astimezone(UTC).isoformat(timespec="seconds")
    for row in store.query("SELECT created_at FROM tickets WHERE created_at >= ?", (start,)):
        day = datetime.fromisoformat(row["created_at"]).astimezone(zone).date().isoformat()
        if day in table:
            table[day] += 1
    return table


def _ages(store: Store, at: datetime) -> dict[str, Ages]:
    ages: dict[str, list[float]] = {state: [] for state in OPEN_STATES}
    marks = ",".join("?" * len(OPEN_STATES))
    for row in store.query(f"SELECT state, created_at FROM tickets WHERE state IN ({marks})", OPEN_STATES):
        ages[row["state"]].append(_seconds(at, row["created_at"]))
    return {state: Ages(len(values), max(values) if values else None, _median(values))
            for state, values in ages.items()}


def _steps(store: Store, since: str) -> dict[str, StepTime]:
    steps = {}
    for name, kinds, column in STEPS:
        marks = ",".join("?" * len(kinds))
        # The first email of those kinds per ticket created in the window.
        rows = store.query(
            f"SELECT t.created_at AS start, min(o.{column}) AS reached FROM tickets t "
            f"JOIN outbox o ON o.ticket_id = t.id AND o.kind IN ({marks}) AND o.{column} IS NOT NULL "
            "WHERE t.created_at >= ? GROUP BY t.id",
            (*kinds, since),
        )
        values = sorted(max(0.0, _seconds(datetime.fromisoformat(r["reached"]), r["start"])) for r in rows)
        steps[name] = StepTime(len(values), _median(values), _percentile(values, 0.9))
    return steps


def _seconds(at: datetime, iso_time: str | None) -> float | None:
    if not iso_time:
        return None
    return (at - datetime.fromisoformat(iso_time)).total_seconds()


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    # Nearest rank: the smallest value with at least q of the values at or below it.
    index = max(0, math.ceil(q * len(sorted_values)) - 1)
    return sorted_values[index]


# -- the report `helpdesk stats` prints, in Spanish -----------------------

def report(s: Stats) -> list[str]:
    out = ["Solicitudes por estado:"]
    out += [f"  {state_label(state):<26} {n}" for state, n in s.by_state.items()]
    out.append(f"Solicitudes recibidas por día ({wording.last_days(s.days, article=False)}, fechas de {s.timezone}):")
    out += [f"  {localtime.show_day(day)}  {n}" for day, n in s.per_day.items()]
    out.append("Solicitudes abiertas (tiempo desde su llegada):")
    for state, ages in s.ages.items():
        if ages.count:
            out.append(f"  {state_label(state):<26} {ages.count}: la más antigua {duration(ages.oldest)}, "
                       f"mediana {duration(ages.median)}")
        else:
            out.append(f"  {state_label(state):<26} 0")
    out.append(f"Tiempo desde la llegada hasta cada paso ({wording.last_days(s.days, article=False)}; mediana, percentil 90):")
    for name, step in s.steps.items():
        if step.count:
            out.append(f"  {STEP_LABELS[name]:<30} {duration(step.median)}, {duration(step.p90)} "
                       f"({wording.count(step.count, 'solicitud', 'solicitudes')})")
        else:
            out.append(f"  {STEP_LABELS[name]:<30} sin datos")
    if s.terms is not None:
        from ..terms.figures import report as terms_report

        out += terms_report(s.terms, s.days)
    out.append("Correo saliente:")
    oldest = f" (el más antiguo espera hace {duration(s.outbox_oldest_pending)})" if s.outbox_backlog else ""
    out.append(f"  en cola: {s.outbox_backlog}{oldest}; en reintento: {s.deferred}; "
               f"fallidos: {s.delivery_failures}; rebotados: {s.bounced}")
    if s.delivery_failures or s.bounced:
        out.append("  Vea los detalles con: helpdesk outbox")
    out.append(f"Mensajes en cuarentena: {s.quarantine_open}"
               + (" (vea helpdesk failed)" if s.quarantine_open else ""))
    out.append(f"Solicitudes esperando revisión de documentos: {s.examination_pending}")
    out += _daemon_lines(s)
    return out


def _daemon_lines(s: Stats) -> list[str]:
    d = s.daemon
    if d is None or (d.last_poll_ok_at is None and not d.consecutive_failures):
        return ["Buzón: el servicio todavía no lo ha consultado."]
    at = datetime.fromisoformat(s.generated_at)
    zone = localtime.zone(s.timezone)
    lines = []
    if d.last_poll_ok_at:
        lines.append(f"Buzón: última consulta correcta hace {duration(_seconds(at, d.last_poll_ok_at))} "
                     f"({localtime.show(d.last_poll_ok_at, zone)}).")
    else:
        lines.append("Buzón: ninguna consulta correcta todavía.")
    if d.consecutive_failures:
        lines.append(f"ATENCIÓN: {d.consecutive_failures} consultas fallidas seguidas; la última "
                     f"({localtime.show(d.last_error_at, zone)}): {d.last_error}. Revise con: helpdesk check")
    return lines


def duration(seconds: float | None) -> str:
    """3 s, 4 min, 2 h 5 min, 3 d 4 h: short, for a terminal."""
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 3600:
        return f"{minutes} min"
    if seconds < 86400:
        rest = minutes - hours * 60
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    rest = hours - days * 24
    return f"{days} d {rest} h" if rest else f"{days} d"
