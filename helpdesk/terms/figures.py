"""Figures of the legal terms, for ``stats`` and the metrics file (CONTRACT 12).

- The share of requests answered within their term, over the requests
  answered in a window, counted by the date of the answer (an approval or
  a rejection), overall, per month and per procedure. A withdrawn request
  (desistimiento) was not answered, and is not counted.
- How many running requests are overdue, and how many fall due within
  ``[terms] warn_days`` business days.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from .. import wording
from .due import ANSWERED, histories, term_of
from .office import Office, standings


@dataclass
class Share:
    answered: int = 0
    in_term: int = 0

    @property
    def percent(self) -> float | None:
        return round(100 * self.in_term / self.answered, 1) if self.answered else None


@dataclass
class TermShares:
    """Answered within the term, among the requests answered since ``since`` (local date)."""

    since: str
    overall: Share = field(default_factory=Share)
    by_month: dict[str, Share] = field(default_factory=dict)  # "2026-12" -> share
    by_procedure: dict[str, Share] = field(default_factory=dict)


def shares(conn: sqlite3.Connection, office: Office, since: date) -> TermShares:
    # Candidates by the UTC time of an answering state, a day early for the
    # zone; each is then kept by its answer's local date.
    start = datetime.combine(since - timedelta(days=1), time(0)).isoformat()
    marks = ",".join("?" * len(ANSWERED))
    ids = [r[0] for r in conn.execute(f"SELECT DISTINCT ticket_id FROM ticket_clock WHERE state IN ({marks}) "
                                      "AND at >= ?", (*ANSWERED, start))]
    result = TermShares(since.isoformat())
    for history in histories(conn, office.deadlines, ids).values():
        term = term_of(history, office.calendar(history.procedure), office.zone)
        if term.answered_on is None or term.answered_on < since:
            continue
        for share in (result.overall, result.by_month.setdefault(term.answered_on.strftime("%Y-%m"), Share()),
                      result.by_procedure.setdefault(history.procedure, Share())):
            share.answered += 1
            share.in_term += bool(term.answered_in_term)
    result.by_month = dict(sorted(result.by_month.items()))
    result.by_procedure = dict(sorted(result.by_procedure.items()))
    return result


def report(s: TermShares, days: int) -> list[str]:
    """The lines of ``helpdesk stats``; the first names "término" with a percentage."""
    def text(share: Share) -> str:
        return f"{share.percent:g} % ({share.in_term} de {share.answered})"

    window = wording.last_days(days)  # stats --days 1: "el último día"
    if not s.overall.answered:
        return [f"Respondidas dentro del término legal: sin solicitudes respondidas en {window}"]
    lines = [f"Respondidas dentro del término legal: {text(s.overall)}, de las respondidas en {window} "
             "(por fecha de respuesta; Ley 1755 de 2015, art. 14)"]
    lines += [f"  mes {month}: {text(share)}" for month, share in s.by_month.items()]
    lines += [f"  trámite {procedure}: {text(share)}" for procedure, share in s.by_procedure.items()]
    return lines


@dataclass(frozen=True)
class Urgency:
    overdue: int
    due_soon: int  # due within warn_days business days, not overdue


def urgency(conn: sqlite3.Connection, office: Office, warn_days: int, now: datetime | None = None) -> Urgency:
    ids = [r[0] for r in conn.execute("SELECT id FROM tickets WHERE state IN ('received', 'pending_approval')")]
    found = [s for s in standings(conn, office, ids, now).values() if s.due is not None]
    overdue = sum(1 for s in found if s.overdue)
    return Urgency(overdue, sum(1 for s in found if not s.overdue and s.left <= warn_days))
