"""One inbound message -> one transaction: the place that decides.

``process`` is called with bytes that are already in the raw store. It
parses their headers (outside the transaction, so the write lock is held
only for the few statements that need it), then in one ``BEGIN IMMEDIATE``
transaction:

1. drops a message already seen (same Message-ID, or same bytes when it has
   none): a redelivery makes nothing new;
2. records robots (auto-replies, bounces, lists, loops) without answering,
   linking a bounce to the ticket of the email that bounced;
3. joins a reply to its ticket (our Message-ID in In-Reply-To/References, or
   a ``[Radicado ...]`` subject tag from the ticket's own domain): new
   documents mark the ticket for examination, a reply without documents
   gets one reminder; any other message a person wrote (on a decided
   ticket, a second reply without documents, one past the daily cap, one
   too large to read, one with no usable sender) sets ``follow_up``: it
   waits for staff in ``queue``;
4. otherwise opens a ticket with a new radicado, queues its ``ack`` and
   marks it for examination (``examination/ticket.py`` reads the documents after
   this commit); a first message that is a question (no documents, no form
   fields, no request: ``question.py``) is not examined but waits for staff
   (``follow_up``), with an ack that says a person will answer.

Everything it writes, outbox rows included, commits together or not at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from email.utils import getaddresses

from .. import directory, tickets
from ..addresses import domain_of
from ..config import Config
from ..findings import Finding, problem_line
from ..outgoing import outbox
from ..outgoing.replies import AUTOMATIC_KINDS, Renderer, entity_excerpt
from ..rules import Procedure, Rules, TrustRules
from ..store import Store, iso, now
from ..tickets import (
    NEEDS_CORRECTION,
    RECEIVED,
    STATE_LABELS,
    Ticket,
    add_finding,
    record_event,
    set_follow_up,
    verdict_recipient,
)
from . import authresults, question, robots
from .authresults import Authentication
from .message import Intake, clean_text, parse

log = logging.getLogger(__name__)

SYSTEM = "sistema"
REMINDER_EVENT = "recordatorio enviado"
FOLLOW_UP_EVENT = "mensaje para el equipo"


@dataclass(frozen=True)
class Outcome:
    """What happened to one message; printed by the CLI and logged."""

    action: str  # new_ticket | joined | duplicate | ignored | quarantined (daemon)
    message_id: str
    radicado: str | None = None
    reason: str = ""  # for ignored: the robots.Robot value
    replies: list[str] = field(default_factory=list)  # kinds queued


def dedup_key(intake: Intake, sha256: str) -> str:
    return f"mid:{intake.message_id}" if intake.message_id else f"sha:{sha256}"


def process(store: Store, config: Config, renderer: Renderer, rules: Rules, raw: bytes, sha256: str) -> Outcome:
    intake = parse(raw, config.limits)
    key = dedup_key(intake, sha256)
    with store.transaction() as conn:
        if conn.execute("SELECT 1 FROM messages WHERE dedup_key = ?", (key,)).fetchone():
            return Outcome("duplicate", intake.message_id)
        robot = robots.classify(intake, config.smtp.from_address)
        if robot is not robots.Robot.HUMAN:
            return _record_robot(conn, intake, key, sha256, robot)
        ticket, suspicious = _thread(conn, config, rules, intake)
        if ticket is not None:
            if suspicious:
                # Joined by a reference to one of our Message-IDs, from
                # outside the ticket's parties: staff must know who wrote.
                add_finding(conn, ticket.id, "warning", "reply_from_outside", suspicious)
            return _join(conn, config, renderer, rules, intake, key, sha256, ticket)
        return _open_ticket(conn, config, renderer, rules, intake, key, sha256, suspicious)


def _join(conn, config: Config, renderer: Renderer, rules: Rules, intake: Intake, key: str, sha256: str,
          ticket: Ticket) -> Outcome:
    """A message on an existing ticket: new documents, a nudge, or a follow-up for staff."""
    row = _record_inbound(conn, intake, key, sha256, ticket.id, "reply",
                          auth=_authenticate(conn, config, intake, ticket.id, rules.procedures.get(ticket.procedure)))
    record_event(conn, ticket.id, intake.sender, "respuesta recibida", intake.subject)
    if intake.truncated:
        # Only its headers were read: whatever it carries, no automatic
        # answer fits ("you sent no attachments" would be false).
        add_finding(conn, ticket.id, "warning", "message_too_large", intake.truncated)
        return _follow_up(conn, intake, ticket, row, f"mensaje demasiado grande para leerlo: {intake.truncated}")
    own_files = [a for a in intake.attachments if a.content_type != "message/rfc822"]
    if ticket.state in (RECEIVED, NEEDS_CORRECTION):
        if own_files:
            # Corrections join the ticket; the newest document of each kind wins.
            conn.execute("UPDATE tickets SET examine_pending = 1, updated_at = ? WHERE id = ?", (iso(), ticket.id))
            return Outcome("joined", intake.message_id, ticket.radicado, reason="documentos nuevos")
        if ticket.state == NEEDS_CORRECTION and not _reminded(conn, ticket.id):
            return _remind(conn, config, renderer, rules, intake, ticket, row)
        return _follow_up(conn, intake, ticket, row, "mensaje sin documentos nuevos")
    # Documents already accepted, or the ticket is closed: a person decides
    # (a reply with documents to a rejected ticket is reopened by staff).
    return _follow_up(conn, intake, ticket, row, f"mensaje con la solicitud «{STATE_LABELS[ticket.state]}»")


def _follow_up(conn, intake: Intake, ticket: Ticket, row: int, why: str) -> Outcome:
    """No automatic rule answers this message: it waits for a person."""
    mark_follow_up(conn, ticket.id, why, row)
    return Outcome("joined", intake.message_id, ticket.radicado, reason="seguimiento para el equipo")


def mark_follow_up(conn, ticket_id: int, why: str, message_row: int | None = None) -> None:
    """Flag the ticket for staff (``queue`` lists it, with ``message_row``
    and what came after it) until a person answers."""
    set_follow_up(conn, ticket_id, message_row)
    record_event(conn, ticket_id, SYSTEM, FOLLOW_UP_EVENT, why)


def _reminded(conn, ticket_id: int) -> bool:
    return conn.execute("SELECT 1 FROM events WHERE ticket_id = ? AND action = ?",
                        (ticket_id, REMINDER_EVENT)).fetchone() is not None


def _remind(conn, config: Config, renderer: Renderer, rules: Rules, intake: Intake, ticket: Ticket,
            row: int) -> Outcome:
    """One answer to "ya envié los documentos" without attachments: what is still missing.

    Only once per ticket, so two robots that slipped past the robot checks
    cannot keep a conversation going."""
    record_event(conn, ticket.id, SYSTEM, REMINDER_EVENT, "respuesta sin adjuntos")
    procedure = rules.procedures.get(ticket.procedure)  # one since removed: the shared wording
    to = verdict_recipient(ticket, procedure)
    capped = over_daily_cap(conn, config, to, ticket.sender, request_auth(conn, ticket.id))
    if capped:
        return _follow_up(conn, intake, ticket, row, f"sin recordatorio automático: {capped}")
    wording = procedure.problems if procedure else rules.problems
    problems = [
        problem_line(Finding(r["severity"], r["code"], r["detail"], r["document"]), wording)
        for r in conn.execute("SELECT * FROM findings WHERE ticket_id = ? AND severity = 'problem' ORDER BY id",
                              (ticket.id,))
    ]
    if not problems:
        # The correction was asked for by a staff member: repeat their reason.
        asked = conn.execute("SELECT detail FROM events WHERE ticket_id = ? AND action = 'corrección pedida' "
                             "ORDER BY id DESC LIMIT 1", (ticket.id,)).fetchone()
        problems = [asked["detail"]] if asked else []
    reply = renderer.build("correction", to, ticket.radicado,
                           {"problems": problems, "no_attachments_reminder": True, "legal_rep_email": ""},
                           answering=[*intake.references, intake.message_id], procedure=ticket.procedure)
    outbox.enqueue(conn, config, ticket.id, reply)
    return Outcome("joined", intake.message_id, ticket.radicado, reason="recordatorio", replies=["correction"])


def _open_ticket(conn, config: Config, renderer: Renderer, rules: Rules, intake: Intake, key: str, sha256: str,
                 suspicious: str) -> Outcome:
    procedure = rules.procedures[config.procedures.route(_recipients(intake))]
    prefix = procedure.radicado_prefix or config.radicado.prefix
    ticket = tickets.create(conn, prefix, intake.sender, intake.requester, intake.subject, procedure.id,
                            own_prefix=bool(procedure.radicado_prefix))
    auth = _authenticate(conn, config, intake, ticket.id, procedure)
    row = _record_inbound(conn, intake, key, sha256, ticket.id, "request", auth=auth)
    verdict = question.judge(intake, procedure, rules.documents)
    if verdict.question:
        # A person answers it (queue lists it): no examination, so no
        # correction and no reminder; documents sent later are examined.
        mark_follow_up(conn, ticket.id, f"pregunta de {intake.sender} ({verdict.why})", row)
    else:
        # The documents are examined after this commit, by examination/ticket.py.
        conn.execute("UPDATE tickets SET examine_pending = 1 WHERE id = ?", (ticket.id,))
        record_event(conn, ticket.id, SYSTEM, "solicitud recibida", f"de {intake.sender}")
    if suspicious:
        add_finding(conn, ticket.id, "warning", "untrusted_radicado_reference", suspicious)
    if intake.truncated:
        add_finding(conn, ticket.id, "warning", "message_too_large", intake.truncated)
    capped = over_daily_cap(conn, config, intake.requester, intake.sender, auth)
    if capped:
        add_finding(conn, ticket.id, "warning", "reply_cap_reached", capped)
        log.warning("daily reply cap reached for the requester, no ack",
                    extra={"event": "reply_cap", "radicado": ticket.radicado, "message_id": intake.message_id})
        # Nobody answered this request: it waits for a person.
        mark_follow_up(conn, ticket.id, "sin acuse: límite diario de respuestas automáticas alcanzado", row)
        return Outcome("new_ticket", intake.message_id, ticket.radicado)
    reply = renderer.build(
        "ack",
        intake.requester,
        ticket.radicado,
        {"original_subject": entity_excerpt(intake.subject), "question": verdict.question,
         **_term_promise(config, rules, ticket)},
        answering=[*intake.references, intake.message_id],
        procedure=ticket.procedure,
    )
    outbox.enqueue(conn, config, ticket.id, reply)
    return Outcome("new_ticket", intake.message_id, ticket.radicado, reason="pregunta" if verdict.question else "",
                   replies=["ack"])


def _term_promise(config: Config, rules: Rules, ticket: Ticket) -> dict:
    """The ack's promise (CONTRACT 12): answered by the due date, counted
    in business days from the day after the radicado (Ley 1755 de 2015)."""
    from ..terms.calendar import long_date
    from ..terms.office import first_due, office_of

    office = office_of(config, rules.procedures)
    return {"due_date": long_date(first_due(office, ticket.procedure, ticket.created_at)),
            "deadline_days": office.deadlines.get(ticket.procedure, 15)}


def _record_robot(conn, intake: Intake, key: str, sha256: str, robot: robots.Robot) -> Outcome:
    ticket_id = _ticket_of_our_ids(conn, [*intake.reported_ids, *intake.in_reply_to, *intake.references])
    # Without a usable address, keep what the From header said (cleaned):
    # staff see it in `helpdesk ignored`, or in `queue` when it answers one
    # of our emails.
    shown_sender = (intake.sender if robot is not robots.Robot.NO_SENDER
                    else clean_text(", ".join(intake.headers.get("from", [])), 300))
    row = _record_inbound(conn, intake, key, sha256, ticket_id, robot.value, shown_sender)
    radicado = None
    if ticket_id is not None:
        radicado = tickets.get_by_id(conn, ticket_id).radicado
        if robot is robots.Robot.BOUNCE:
            # The entity never got our email: staff must know and act.
            bounced = _bounced_outbox(conn, intake)
            detail = f"rebote de {intake.sender or 'servidor de correo'}: {intake.subject}"
            add_finding(conn, ticket_id, "warning", "delivery_bounced", detail)
            record_event(conn, ticket_id, SYSTEM, "correo rebotado", detail)
            if bounced:
                conn.execute("UPDATE outbox SET status = 'bounced', last_error = ? WHERE id = ?", (detail[:500], bounced))
        elif robot is robots.Robot.NO_SENDER:
            # A person answered one of our emails (it names our Message-ID)
            # from a From header with several addresses, or a broken one:
            # nobody can be answered automatically, so a person must read it.
            mark_follow_up(conn, ticket_id, f"mensaje sin un remitente al que responder (De: {shown_sender}): "
                                            f"{intake.subject}", row)
            return Outcome("joined", intake.message_id, radicado, reason="seguimiento para el equipo")
        else:
            record_event(conn, ticket_id, SYSTEM, "mensaje automático recibido", f"{robot.value}: {intake.subject}")
    return Outcome("ignored", intake.message_id, radicado, reason=robot.value)


def _record_inbound(conn, intake: Intake, key: str, sha256: str, ticket_id: int | None, kind: str,
                    sender: str | None = None, auth: Authentication | None = None) -> int:
    """Record one inbound message; return its row (messages.id)."""
    return conn.execute(
        "INSERT INTO messages(direction, dedup_key, message_id, sha256, ticket_id, kind, from_addr, to_addr, subject, "
        "at, headers_only, auth_json) VALUES ('in', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (key, intake.message_id, sha256, ticket_id, kind, intake.sender if sender is None else sender,
         intake.header("to"), intake.subject, iso(), int(bool(intake.truncated)), auth.to_json() if auth else None),
    ).lastrowid


def _authenticate(conn, config: Config, intake: Intake, ticket_id: int,
                  procedure: Procedure | None) -> Authentication:
    """What our receiving server said of this sender; a message it did not
    authenticate warns staff (sender_not_authenticated, high risk)."""
    auth = authresults.read(list(intake.authentication_results), config.inbox.authserv_id,
                             intake.authentication_received)
    why = auth.verdict(domain_of(intake.sender)) or _unproven_order(auth, intake.sender, procedure)
    if why:
        add_finding(conn, ticket_id, "warning", "sender_not_authenticated", f"mensaje de {intake.sender}: {why}")
    return auth  # a foreign header above ours is noted in show (Authentication.summary), not weighed


def _unproven_order(auth: Authentication, sender: str, procedure: Procedure | None) -> str:
    """Why an account order of a procedure with no registered address to
    compare with (cuentas-correo) proves nothing of its sender: there, only
    our server's DMARC pass says the From is genuine (CONTRACT §13), and a
    signal that is off, or a domain without a policy, is no such proof."""
    if procedure is None or not procedure.hands_over_account or procedure.looks_up_registered:
        return ""  # registered_sender weighs the sender of the others
    if auth.authenticates(sender):
        return ""
    if not auth.checked:
        return ("sin [inbox] authserv_id nuestro servidor no autentica a ningún remitente, y este trámite entrega "
                "cuentas: nada prueba que el remitente sea quien dice")
    dmarc = auth.first("dmarc")
    result = f"DMARC {dmarc.result}" if dmarc else "sin resultado DMARC"
    return f"{result}: nuestro servidor no autenticó al remitente, y este trámite entrega cuentas"


def request_auth(conn, ticket_id: int) -> Authentication | None:
    """What our server said of the message that opened the ticket (None:
    not recorded, as for a ticket of a version before the signal)."""
    row = conn.execute("SELECT auth_json FROM messages WHERE ticket_id = ? AND direction = 'in' AND kind = 'request' "
                       "ORDER BY id LIMIT 1", (ticket_id,)).fetchone()
    return Authentication.from_json(row["auth_json"]) if row else None


def _recipients(intake: Intake) -> list[str]:
    """Where the request was sent, as a procedure is chosen by it (CONTRACT
    §9): the envelope recipient our own mail server recorded (the topmost
    Delivered-To or X-Original-To) when there is one, since the sender
    writes To and Cc and a Cc must never move a request into another
    procedure; To and Cc only for a message that carries neither."""
    if intake.envelope_to:
        values = [intake.envelope_to]
    else:
        values = [v for name in ("to", "cc") for v in intake.headers.get(name, [])]
    return [address for _name, address in getaddresses(values) if "@" in address]


def radicado_prefixes(config: Config, rules: Rules) -> list[str]:
    """Every prefix a radicado of ours may carry: [radicado] prefix and the procedures' own."""
    return [config.radicado.prefix, *(p.radicado_prefix for p in rules.procedures.values() if p.radicado_prefix)]


def _thread(conn, config: Config, rules: Rules, intake: Intake) -> tuple[Ticket | None, str]:
    """The ticket this message answers, and a warning for staff.

    A reference to one of our Message-IDs joins the ticket (they are
    unpredictable, replies.message_id) but from outside the ticket's
    parties it is flagged. A ``[Radicado ...]`` subject tag, which anyone
    can type, joins only from the ticket's own parties; otherwise a new
    ticket opens with a warning."""
    ticket_id = _ticket_of_our_ids(conn, [*intake.in_reply_to, *intake.references])
    if ticket_id is not None:
        ticket = tickets.get_by_id(conn, ticket_id)
        if _same_party(rules, intake.sender, ticket):
            return ticket, ""
        return ticket, (f"{intake.sender} respondió a un correo de esta solicitud, que abrió {ticket.sender}, "
                        "desde fuera de la entidad; revise quién escribe antes de decidir")
    match = tickets.radicado_pattern(radicado_prefixes(config, rules)).search(intake.subject)
    if not match:
        return None, ""
    ticket = tickets.get(conn, match.group(1))
    if ticket is None:
        return None, f"el asunto cita {match.group(1).upper()}, que no existe"
    if _same_party(rules, intake.sender, ticket):
        return ticket, ""
    # Anyone can type a radicado in a subject: from another party it could
    # be an attempt to slip documents into someone else's request.
    return None, (
        f"el asunto cita {ticket.radicado}, pero {intake.sender} no es de los remitentes de esa solicitud; "
        "se abrió una solicitud nueva"
    )


def _same_party(rules: Rules, sender: str, ticket: Ticket) -> bool:
    """Whether ``sender`` speaks for the ticket: its domain, when it is the
    entity's own; on a free-mail provider only the very same address. In a
    procedure that hands over an account only its From address does
    (CONTRACT §13): the Reply-To got the ack, and a reply from there that
    brings documents is someone else's until staff see it."""
    trust = rules.trust
    procedure = rules.procedures.get(ticket.procedure)
    if procedure is None or procedure.hands_over_account:
        return sender.lower() == ticket.sender.lower()
    if trust.is_free_mail(domain_of(sender)):
        return sender.lower() in _ticket_addresses(ticket)
    return domain_of(sender) in _ticket_domains(trust, ticket)


def _ticket_addresses(ticket: Ticket) -> set[str]:
    return {a.lower() for a in (ticket.sender, ticket.requester, ticket.legal_rep_email or "") if a}


def _ticket_domains(trust: TrustRules, ticket: Ticket) -> set[str]:
    """The entity's own domains among the ticket's addresses (free-mail ones say nothing)."""
    return {domain_of(a) for a in _ticket_addresses(ticket) if not trust.is_free_mail(domain_of(a))}


def _ticket_of_our_ids(conn, ids: list[str]) -> int | None:
    """Ticket of the first of ``ids`` that is one of our outgoing Message-IDs."""
    ids = [i for i in ids if i][:50]
    if not ids:
        return None
    marks = ",".join("?" * len(ids))
    row = conn.execute(
        f"SELECT ticket_id FROM messages WHERE direction = 'out' AND message_id IN ({marks}) "
        "AND ticket_id IS NOT NULL ORDER BY id DESC LIMIT 1",
        ids,
    ).fetchone()
    return row["ticket_id"] if row else None


def _bounced_outbox(conn, intake: Intake) -> int | None:
    ids = [i for i in [*intake.reported_ids, *intake.in_reply_to, *intake.references] if i][:50]
    if not ids:
        return None
    marks = ",".join("?" * len(ids))
    row = conn.execute(f"SELECT id FROM outbox WHERE message_id IN ({marks}) ORDER BY id DESC LIMIT 1", ids).fetchone()
    return row["id"] if row else None


def over_daily_cap(conn, config: Config, address: str, sender: str = "", auth: Authentication | None = None) -> str:
    """Why no more automatic replies go to ``address`` today ("" while they
    may): the cap per address, and the overall cap that keeps a flood of
    forged requests (each with another victim as Reply-To) from turning the
    desk into a mailer. The overall cap is the strangers' budget: a reply
    from ``sender`` of an entity of the directory to its own domain is
    never stopped by it (CONTRACT §13), so 500 forged requests cannot
    silence the entities for the day."""
    start_of_day = iso(now().replace(hour=0, minute=0, second=0, microsecond=0))
    marks = ",".join("?" * len(AUTOMATIC_KINDS))
    if (outbox.automatic_emails_today(conn) >= config.replies.daily_cap_total
            and not _entity_reply(conn, sender, address, auth)):
        return f"se alcanzó el límite diario de {config.replies.daily_cap_total} respuestas automáticas en total"
    (count,) = conn.execute(
        f"SELECT count(*) FROM outbox WHERE rcpt_to = ? AND created_at >= ? AND kind IN ({marks})",
        (address, start_of_day, *AUTOMATIC_KINDS),
    ).fetchone()
    if count >= config.replies.daily_cap_per_sender:
        return f"{address} ya recibió {config.replies.daily_cap_per_sender} respuestas automáticas hoy"
    return ""


def _entity_reply(conn, sender: str, address: str, auth: Authentication | None) -> bool:
    """Whether a reply to ``address`` answers an entity of the directory:
    the sender and the recipient on a domain the directory lists, and,
    where our server checks senders ([inbox] authserv_id), a sender it
    authenticated (a forged From on the entity's domain is a stranger)."""
    if not sender or not directory.has_domain(conn, domain_of(sender)):
        return False
    if domain_of(address) != domain_of(sender) and not directory.has_domain(conn, domain_of(address)):
        return False
    return auth is None or not auth.checked or auth.authenticates(sender)
