"""The office's terms: its calendars, today, and where each ticket stands.

The one place that joins the configuration ([site], [terms]), the
procedures' ``deadline_days`` and ``country``, and the tickets' histories,
for every reader: the ack, ``queue``, ``show``, the daemon's steps, the
digest, ``stats`` and the metrics. Every function takes ``now`` (UTC),
so that a test decides what day it is.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from .. import localtime
from ..config import Config
from ..rules import Procedure
from ..store import now as clock_now
from ..tickets import WITHDRAWN
from .calendar import Calendar, calendar_of, local_day, long_date
from .due import ANSWERED, History, Term, histories, term_of


@dataclass(frozen=True)
class Office:
    """What counting a term needs, read once per command or cycle."""

    zone: tzinfo
    site_calendar: Calendar
    calendars: dict[str, Calendar]  # procedure id -> its calendar (its country, else [site] country)
    deadlines: dict[str, int]  # procedure id -> deadline_days

    def calendar(self, procedure: str) -> Calendar:
        return self.calendars.get(procedure, self.site_calendar)

    def today(self, now: datetime | None = None) -> date:
        return local_day(now or clock_now(), self.zone)


def office_of(config: Config, procedures: dict[str, Procedure]) -> Office:
    site = calendar_of(config.site)
    calendars = {pid: Calendar(p.country, site.extra) if p.country and p.country != site.country else site
                 for pid, p in procedures.items()}
    return Office(localtime.zone(config.site.timezone), site, calendars,
                  {pid: p.deadline_days for pid, p in procedures.items()})


@dataclass(frozen=True)
class Standing:
    """A ticket's term as people and JSON read it."""

    term: Term
    due: date | None  # None while the clock is stopped
    left: int | None  # business_days_left: 0 on the due date, -1 the business day after
    # Past the due date; also on the weekend or holiday right after it,
    # when business_days_left is still 0.
    overdue: bool = False

    def json(self) -> dict:
        return {"due": self.due.isoformat() if self.due else None, "business_days_left": self.left}

    def text(self) -> str:
        """``vence el 28 de diciembre de 2026 (faltan 3 días hábiles)``."""
        if self.due is None:
            term = self.term
            if term.state == WITHDRAWN:
                return "archivada por desistimiento"
            if term.state in ANSWERED:
                return "respondida " + ("dentro del término" if term.answered_in_term else "fuera del término")
            return (f"término suspendido mientras el solicitante corrige ({term.spent} de {term.total} días "
                    "hábiles usados)")
        when = long_date(self.due)
        if self.left is None or self.left > 1:
            return f"vence el {when} (faltan {self.left} días hábiles)"
        if self.left == 1:
            return f"vence el {when} (falta 1 día hábil)"
        if self.left == 0 and not self.overdue:
            return f"vence hoy, {when}"
        days = -self.left
        if days == 0:
            return f"vencida (venció el {when})"
        plural = days != 1
        return f"vencida hace {days} día{'s' if plural else ''} hábil{'es' if plural else ''} (venció el {when})"


def standing(office: Office, history: History, now: datetime | None = None) -> Standing:
    calendar = office.calendar(history.procedure)
    term = term_of(history, calendar, office.zone)
    today = office.today(now)
    return Standing(term, term.due, term.left(calendar, today), term.due is not None and today > term.due)


def standings(conn: sqlite3.Connection, office: Office, ticket_ids: list[int] | None = None,
              now: datetime | None = None) -> dict[int, Standing]:
    """The standing of each ticket of ``ticket_ids`` (every ticket when None)."""
    return {tid: standing(office, history, now)
            for tid, history in histories(conn, office.deadlines, ticket_ids).items()}


def first_due(office: Office, procedure: str, created_at: str) -> date:
    """The due date of a ticket just opened: what the ack promises."""
    history = History(created_at, (), office.deadlines.get(procedure, 15), procedure=procedure)
    return term_of(history, office.calendar(procedure), office.zone).due
