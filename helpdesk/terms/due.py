"""The due date of a ticket, from its history (CONTRACT 12).

A derecho de petición is answered within its procedure's ``deadline_days``
business days (Ley 1755 de 2015, art. 14), day 1 being the first business
day after the local date of the radicado. The clock stops while the
requester owes a correction and resumes, the days already spent counted,
from the day after the requester answers (art. 17). An extension
(art. 14 parágrafo) adds its days to the term. The answer (approval,
rejection) stops it for good; ``reopen`` starts it again.

The history is the ``ticket_clock`` table: every state the ticket entered
and when (the database writes it, store.py), so this module is pure: the
same rows give the same term, which tests and the migration rely on.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, tzinfo

from ..tickets import LINK_SENT, NEEDS_CORRECTION, REJECTED, RESOLVED, WITHDRAWN
from .calendar import Calendar, local_day

# States that answer the request: the term is met or missed on entering one.
ANSWERED = (LINK_SENT, RESOLVED, REJECTED)
# States in which the clock does not run.
STOPPED = (NEEDS_CORRECTION, WITHDRAWN, *ANSWERED)


@dataclass(frozen=True)
class Mark:
    """A state the ticket entered, at a UTC ISO time."""

    at: str
    state: str


@dataclass(frozen=True)
class History:
    created_at: str
    marks: tuple[Mark, ...]
    deadline_days: int
    extended_days: int = 0
    procedure: str = ""  # whose calendar counts it (Office.calendar)


@dataclass(frozen=True)
class Term:
    """Where a ticket stands against its legal term."""

    due: date | None  # None while the clock is stopped
    spent: int  # business days used so far
    total: int  # deadline_days plus extensions
    waiting_since: str | None  # UTC time the current correction was asked (needs_correction)
    answered_on: date | None  # local date of the first answer
    answered_in_term: bool | None  # whether that answer came by the due date
    state: str = "received"  # the last state the history shows

    def left(self, calendar: Calendar, today: date) -> int | None:
        """business_days_left: 0 on the due date, -1 the business day after."""
        return None if self.due is None else calendar.left(today, self.due)


def term_of(history: History, calendar: Calendar, zone: tzinfo) -> Term:
    total = history.deadline_days + history.extended_days
    spent = 0
    resumed = local_day(history.created_at, zone)  # counting goes on from the day after this one
    stopped = False
    ran_out: date | None = None  # the day the term ended, when a stop came after it
    waiting_since: str | None = None
    answered_on: date | None = None
    in_term: bool | None = None

    def due_now() -> date:
        remaining = total - spent
        return calendar.add(resumed, remaining) if remaining >= 1 else ran_out or resumed

    for mark in history.marks:
        day = local_day(mark.at, zone)
        if mark.state in STOPPED:
            if not stopped:
                if ran_out is None and total - spent >= 1 and spent + calendar.count(resumed, day) >= total:
                    ran_out = calendar.add(resumed, total - spent)
                if mark.state in ANSWERED and answered_on is None:
                    in_term = day <= due_now()
                spent += calendar.count(resumed, day)
                stopped = True
            elif mark.state in ANSWERED and answered_on is None:
                # Decided while the requester owed a correction: in term
                # when the days spent had not run out.
                in_term = spent <= total
            if mark.state in ANSWERED and answered_on is None:
                answered_on = day
            # A correction asked again restarts the requester's month.
            waiting_since = mark.at if mark.state == NEEDS_CORRECTION else (
                waiting_since if mark.state == WITHDRAWN else None)
        elif stopped:
            stopped, resumed, waiting_since = False, day, None
    state = history.marks[-1].state if history.marks else "received"
    return Term(None if stopped else due_now(), spent, total, waiting_since, answered_on, in_term, state)


# -- reading histories ---------------------------------------------------

def histories(conn: sqlite3.Connection, deadlines: dict[str, int], ticket_ids: list[int] | None = None,
              default_days: int = 15) -> dict[int, History]:
    """The histories of ``ticket_ids`` (every ticket when None), in three
    queries whatever their number; ``deadlines``: procedure id -> days."""
    where, params = "", ()
    if ticket_ids is not None:
        if not ticket_ids:
            return {}
        where, params = f"WHERE id IN ({','.join('?' * len(ticket_ids))})", tuple(ticket_ids)
    tickets = conn.execute(f"SELECT id, created_at, procedure FROM tickets {where}", params).fetchall()
    by_id = {r["id"]: r for r in tickets}
    marks: dict[int, list[Mark]] = {i: [] for i in by_id}
    extended: dict[int, int] = {}
    clause = where.replace("WHERE id", "WHERE ticket_id")
    for row in conn.execute(f"SELECT ticket_id, at, state FROM ticket_clock {clause} ORDER BY id", params):
        if row["ticket_id"] in marks:
            marks[row["ticket_id"]].append(Mark(row["at"], row["state"]))
    kind = ("AND" if clause else "WHERE") + " kind = 'term'"
    for row in conn.execute(f"SELECT ticket_id, sum(days) AS days FROM term_extensions {clause} {kind} "
                            "GROUP BY ticket_id", params):
        extended[row["ticket_id"]] = row["days"]
    return {i: History(r["created_at"], tuple(marks[i]), deadlines.get(r["procedure"], default_days),
                       extended.get(i, 0), r["procedure"]) for i, r in by_id.items()}
