"""``helpdesk extend``: the entity takes more time to answer (CONTRACT 12).

Ley 1755 de 2015, art. 14 parágrafo: when a request cannot be answered in
its term, the requester is told before the term ends, with the reason and
the new date, which may not exceed twice the initial term. So an extension
is refused (exit 1, nothing changed) on the due date or after it, while
the clock is stopped (a correction owed, or the request answered), and
when it would take the extensions of the ticket past its procedure's
``deadline_days``. Otherwise, in one transaction: the extension is
recorded (the new due date is N business days past the current one), the
requester gets ``term_extended`` with the new date and the reason, and the
audit trail says who, why and by how much.

``extend_correction`` is the other extension the law gives (art. 17):
the requester's, of the month to complete a request, asked for before it
ends; staff grant it once per correction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from .. import wording
from ..config import Config
from ..errors import Refused
from ..outgoing import outbox
from ..outgoing.replies import Renderer
from ..rules import Rules
from ..store import Store, iso
from ..terms.calendar import long_date
from ..terms.due import histories, term_of
from ..terms.office import office_of
from ..tickets import STATE_LABELS, Ticket, record_event, thread_ids, verdict_recipient
from .common import Decided, actor, load_ticket

EVENT = "término ampliado"
CORRECTION_EVENT = "plazo para corregir prorrogado"


@dataclass(frozen=True)
class Extended:
    decided: Decided
    previous_due: date
    new_due: date


def extend(store: Store, config: Config, renderer: Renderer, rules: Rules, radicado: str, by: str, days: int,
           reason: str, now: datetime | None = None) -> Extended:
    reason = " ".join(reason.split())
    if not reason:
        raise Refused("indique el motivo con --reason: se le envía al solicitante")
    if days < 1:
        raise Refused("--days debe ser al menos 1 día hábil")
    ticket, _form = load_ticket(store, radicado)
    office = office_of(config, rules.procedures)
    calendar = office.calendar(ticket.procedure)
    today = office.today(now)
    who = actor(by)
    with store.transaction() as conn:
        history = histories(conn, office.deadlines, [ticket.id])[ticket.id]
        term = term_of(history, calendar, office.zone)
        _allowed(ticket, term, history.deadline_days, history.extended_days, days, today)
        new_due = calendar.add(term.due, days)
        recipient = verdict_recipient(ticket, rules.procedures.get(ticket.procedure))
        context = {"previous_due": long_date(term.due), "new_due": long_date(new_due), "days": days,
                   "reason": reason}
        reply = renderer.build("term_extended", recipient, ticket.radicado, context,
                               answering=thread_ids(conn, ticket.id), automatic=False, procedure=ticket.procedure)
        conn.execute("INSERT INTO term_extensions(ticket_id, days, due_before, due_after, reason, actor, at) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (ticket.id, days, term.due.isoformat(), new_due.isoformat(), reason, who, iso()))
        queued = outbox.enqueue(conn, config, ticket.id, reply)
        record_event(conn, ticket.id, who, EVENT,
                     f"{wording.count(days, 'día hábil', 'días hábiles')}: vencía el {long_date(term.due)}, ahora vence el "
                     f"{long_date(new_due)} "
                     f"(Ley 1755 de 2015, art. 14 parágrafo); motivo: {reason}")
    return Extended(Decided(ticket, queued, recipient=recipient), term.due, new_due)


def extend_correction(store: Store, config: Config, renderer: Renderer, rules: Rules, radicado: str, by: str,
                      reason: str, now: datetime | None = None) -> Extended:
    """The requester's extra month to complete the request (Ley 1755 de
    2015, art. 17: asked for before the month ends, up to a term equal to
    it): the limit moves ``[terms] withdrawal_months`` later, once per
    correction, and the requester is told the new date."""
    from ..terms.calendar import add_months
    from ..terms.clock import waiting

    reason = " ".join(reason.split())
    if not reason:
        raise Refused("indique el motivo con --reason: se le envía al solicitante")
    ticket, _form = load_ticket(store, radicado)
    office = office_of(config, rules.procedures)
    today = office.today(now)
    who = actor(by)
    with store.transaction() as conn:
        found = waiting(conn, config, office, ticket.id)
        if not found:
            state = STATE_LABELS.get(ticket.state, ticket.state)
            raise Refused(f"la solicitud {ticket.radicado} está en estado «{state}»: "
                          "la prórroga del plazo para corregir solo se da mientras se espera una corrección")
        item = found[0]
        if item.extended:
            raise Refused(f"la solicitud {ticket.radicado} ya tiene la prórroga del plazo para corregir, hasta el "
                          f"{long_date(item.limit)} (Ley 1755 de 2015, art. 17: una sola, por un término igual); "
                          "no se cambió nada")
        if today > item.limit:
            raise Refused(f"el plazo para corregir la solicitud {ticket.radicado} venció el "
                          f"{long_date(item.limit)}: la prórroga se pide antes de que venza (art. 17); "
                          "no se cambió nada")
        new_limit = add_months(item.limit, config.terms.withdrawal_months)
        recipient = verdict_recipient(ticket, rules.procedures.get(ticket.procedure))
        context = {"previous_due": long_date(item.limit), "new_due": long_date(new_limit), "days": 0,
                   "reason": reason, "correction": True}
        reply = renderer.build("term_extended", recipient, ticket.radicado, context,
                               answering=thread_ids(conn, ticket.id), automatic=False, procedure=ticket.procedure)
        conn.execute("INSERT INTO term_extensions(ticket_id, kind, days, due_before, due_after, reason, actor, at) "
                     "VALUES (?, 'correction', 0, ?, ?, ?, ?, ?)",
                     (ticket.id, item.limit.isoformat(), new_limit.isoformat(), reason, who, iso()))
        queued = outbox.enqueue(conn, config, ticket.id, reply)
        record_event(conn, ticket.id, who, CORRECTION_EVENT,
                     f"el plazo para corregir vencía el {long_date(item.limit)}, ahora el {long_date(new_limit)} "
                     f"(Ley 1755 de 2015, art. 17); motivo: {reason}")
    return Extended(Decided(ticket, queued, recipient=recipient), item.limit, new_limit)


def _allowed(ticket: Ticket, term, deadline_days: int, extended_days: int, days: int, today: date) -> None:
    if term.due is None:
        state = STATE_LABELS.get(ticket.state, ticket.state)
        why = ("espera la corrección del solicitante: el término está suspendido"
               if term.answered_on is None else f"ya fue respondida («{state}»)")
        raise Refused(f"la solicitud {ticket.radicado} {why}; no hay término que ampliar")
    if today >= term.due:
        when = "vence hoy" if today == term.due else f"venció el {long_date(term.due)}"
        raise Refused(f"la solicitud {ticket.radicado} {when}: el término solo se amplía antes de la fecha de "
                      "vencimiento (Ley 1755 de 2015, art. 14 parágrafo); no se cambió nada")
    room = deadline_days - extended_days
    if days > room:
        already = f" (ya se amplió {extended_days})" if extended_days else ""
        raise Refused(f"la solicitud {ticket.radicado} solo puede ampliarse "
                      f"{wording.count(room, 'día hábil', 'días hábiles')} más: la "
                      f"ampliación no puede superar el término inicial de {deadline_days} días hábiles{already} "
                      "(Ley 1755 de 2015, art. 14 parágrafo); no se cambió nada")
