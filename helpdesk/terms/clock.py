"""What the daemon does for the legal terms, once per cycle (CONTRACT 12).

- A ticket waiting for the requester's correction has until the same date
  ``[terms] withdrawal_months`` later (Ley 1755 de 2015, art. 17: one
  month). From ``reminder_days`` business days before that limit (the
  limit day not counted) the requester gets ``correction_reminder``, once
  per correction asked.
- With no answer by the limit, from the next day the ticket is
  ``withdrawn`` (desistimiento tácito) and the requester gets
  ``withdrawn``: the request is closed, how to ask again, and that the
  decision can be contested by recurso de reposición.
- Once a day, from ``[terms] digest_hour``, staff get the digest
  (digest.py).

A ticket whose requester did answer is never withdrawn: one whose new
documents wait for the examination (``examine_pending``) or with a
message that waits for a person (``follow_up``: it may be the requester
asking for the extra month art. 17 allows) stays for staff to decide.

Each ticket is handled in its own transaction, the state change, the
audit event and the email together, so a crash repeats nothing and loses
nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime

from ..config import Config
from ..outgoing import outbox
from ..outgoing.replies import Renderer
from ..rules import Rules
from ..store import Store, iso
from ..store import now as clock_now
from ..tickets import NEEDS_CORRECTION, WITHDRAWN, Ticket, record_event, thread_ids, verdict_recipient
from .calendar import add_months, local_day, long_date
from .due import histories, term_of
from .office import Office, office_of

log = logging.getLogger(__name__)

SYSTEM = "sistema"
REMINDER_KIND = "correction_reminder"
WITHDRAWN_KIND = "withdrawn"
WITHDRAWN_EVENT = "desistimiento tácito"
REMINDER_EVENT = "recordatorio del plazo de corrección"


@dataclass(frozen=True)
class Waiting:
    """A ticket waiting for its requester's correction."""

    ticket: Ticket
    asked_at: str  # UTC time the correction was asked (the latest)
    limit: date  # the last day to answer
    remind_from: date  # first day of the reminder
    reminded: bool  # a correction_reminder went out for this correction
    held: bool  # the requester wrote: new documents to examine, or a message for staff
    extended: bool = False  # the requester's extra month (art. 17) was granted


@dataclass
class ClockRun:
    reminded: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    digest_tickets: int | None = None  # tickets in the digest queued in this run


def waiting(conn, config: Config, office: Office, ticket_id: int | None = None) -> list[Waiting]:
    """Tickets waiting for a correction (only ``ticket_id`` when given)."""
    only = "" if ticket_id is None else f" AND id = {int(ticket_id)}"
    rows = conn.execute(f"SELECT * FROM tickets WHERE state = ?{only} ORDER BY id", (NEEDS_CORRECTION,)).fetchall()
    found = histories(conn, office.deadlines, [r["id"] for r in rows])
    result = []
    for row in rows:
        ticket = Ticket.from_row(row)
        calendar = office.calendar(ticket.procedure)
        term = term_of(found[ticket.id], calendar, office.zone)
        asked_at = term.waiting_since or ticket.updated_at
        limit = add_months(local_day(asked_at, office.zone), config.terms.withdrawal_months)
        # The extra month the requester asked for (art. 17), granted by
        # staff with helpdesk extend --correction-month for this correction.
        granted, granted_at = conn.execute(
            "SELECT max(due_after), max(at) FROM term_extensions WHERE ticket_id = ? AND kind = 'correction' "
            "AND at >= ?", (ticket.id, asked_at)).fetchone()
        extended = granted is not None
        if extended:
            limit = date.fromisoformat(granted)
        # Once per limit: the new limit of an extra month has its own reminder.
        reminded = conn.execute("SELECT 1 FROM messages WHERE ticket_id = ? AND direction = 'out' AND kind = ? "
                                "AND at >= ? LIMIT 1",
                                (ticket.id, REMINDER_KIND, granted_at or asked_at)).fetchone() is not None
        result.append(Waiting(ticket, asked_at, limit, calendar.before(limit, config.terms.reminder_days), reminded,
                              bool(row["examine_pending"] or row["follow_up"]), extended))
    return result


def run(store: Store, config: Config, renderer: Renderer, rules: Rules, now: datetime | None = None) -> ClockRun:
    """One pass: reminders and withdrawals due today, then the day's digest."""
    from .digest import send_digest

    now = now or clock_now()
    office = office_of(config, rules.procedures)
    today = office.today(now)
    done = ClockRun()
    for item in waiting(store.conn, config, office):
        if today > item.limit and not item.held:
            if _withdraw(store, config, renderer, rules, item):
                done.withdrawn.append(item.ticket.radicado)
        elif today >= item.remind_from and not item.reminded and today <= item.limit:
            if _remind(store, config, renderer, rules, item):
                done.reminded.append(item.ticket.radicado)
    done.digest_tickets = send_digest(store, config, renderer, office, now)
    return done


def _remind(store: Store, config: Config, renderer: Renderer, rules: Rules, item: Waiting) -> bool:
    ticket = item.ticket
    with store.transaction() as conn:
        still = conn.execute("SELECT 1 FROM tickets WHERE id = ? AND state = ? AND updated_at = ?",
                             (ticket.id, NEEDS_CORRECTION, ticket.updated_at)).fetchone()
        if not still:
            return False  # answered or decided meanwhile: the next pass sees it as it is
        to = verdict_recipient(ticket, rules.procedures.get(ticket.procedure))
        context = {"asked_on": long_date(local_day(item.asked_at, _zone(config))), "limit": long_date(item.limit),
                   "withdrawal_months": config.terms.withdrawal_months}
        reply = renderer.build(REMINDER_KIND, to, ticket.radicado, context, answering=thread_ids(conn, ticket.id),
                               automatic=False, procedure=ticket.procedure)
        outbox.enqueue(conn, config, ticket.id, reply)
        record_event(conn, ticket.id, SYSTEM, REMINDER_EVENT, f"a {to}; plazo para responder: {item.limit}")
    log.info("correction reminder queued", extra={"event": "correction_reminder", "radicado": ticket.radicado})
    return True


def _withdraw(store: Store, config: Config, renderer: Renderer, rules: Rules, item: Waiting) -> bool:
    ticket = item.ticket
    with store.transaction() as conn:
        # Only as it was read: an answer that arrived meanwhile wins.
        updated = conn.execute(
            "UPDATE tickets SET state = ?, updated_at = ? WHERE id = ? AND state = ? AND updated_at = ? "
            "AND examine_pending = 0 AND follow_up = 0",
            (WITHDRAWN, iso(), ticket.id, NEEDS_CORRECTION, ticket.updated_at)).rowcount
        if not updated:
            return False
        to = verdict_recipient(ticket, rules.procedures.get(ticket.procedure))
        asked_on = long_date(local_day(item.asked_at, _zone(config)))
        context = {"asked_on": asked_on, "limit": long_date(item.limit),
                   "withdrawal_months": config.terms.withdrawal_months}
        reply = renderer.build(WITHDRAWN_KIND, to, ticket.radicado, context, answering=thread_ids(conn, ticket.id),
                               automatic=False, procedure=ticket.procedure)
        outbox.enqueue(conn, config, ticket.id, reply)
        record_event(conn, ticket.id, SYSTEM, WITHDRAWN_EVENT,
                     f"corrección pedida el {asked_on} sin respuesta hasta el {long_date(item.limit)} "
                     f"(Ley 1755 de 2015, art. 17); aviso a {to}")
    log.info("ticket withdrawn: no answer to the correction by %s", item.limit,
             extra={"event": "withdrawn", "radicado": ticket.radicado})
    return True


def _zone(config: Config):
    from .. import localtime

    return localtime.zone(config.site.timezone)
