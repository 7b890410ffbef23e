"""Staff decisions: approve, reject, revoke, ask for a correction, reply, reopen.

Every decision is an audit event with the staff member's name (``--by``),
the operating-system user, the time and the reason; nothing is deleted.

Approval carries out the ticket's procedure (``approve`` is the one place
that chooses): a reset (staff/reset.py), an unlock (staff/unlock.py), a
change of registered email (staff/email_change.py) or an account order
(staff/accounts.py). Each uses the steps every approval shares
(staff/approval.py: prepare the email, claim, carry out, commit); none of
them imports this module.

The decisions that send a staff member's text (reject, revoke, correct,
reply) render it with ``compose``, which ``draft`` also uses: the preview
`review` shows is the email that goes.
"""

from __future__ import annotations

from typing import Callable

from .. import wording
from ..config import Config
from ..errors import Refused
from ..outgoing import outbox
from ..outgoing.replies import Renderer, Reply
from ..resets import links
from ..rules import Rules, load_all
from ..store import Store, iso
from ..tickets import (
    LINK_SENT,
    NEEDS_CORRECTION,
    PENDING_APPROVAL,
    RECEIVED,
    REJECTED,
    RESOLVED,
    STATE_LABELS,
    WITHDRAWN,
    Ticket,
    clear_follow_up,
    record_event,
    thread_ids,
    verdict_recipient,
)
from .accounts import approve_account
from .approval import high_risk_warnings
from .common import Decided, actor, load_ticket, require_state, staff_text
from .email_change import end_open, send_confirmation
from .reset import approve_reset
from .unlock import approve_unlock


def approve(store: Store, config: Config, renderer: Renderer, radicado: str, by: str,
            confirm: Callable, acknowledge_warnings: bool = False, rules: Rules | None = None,
            confirm_deletion: Callable | None = None) -> Decided | None:
    """Approve a ticket: carry out its procedure's action and queue the result.

    The action is the procedure's (rules/procedures/ID ``action``):
    "reset" resets the form's accounts and queues the credentials, or their
    links (staff/reset.py); "unlock" unlocks the account (staff/unlock.py);
    "change_email" sends the confirmation of the new address
    (staff/email_change.py); "account" creates, modifies or deletes an
    institutional account (staff/accounts.py, which asks
    ``confirm_deletion`` before a deletion). ``confirm`` is called with
    what was done (the new passwords, the unlock, or the account order)
    before anything is sent; with the manual backend it is where the staff
    member applies it. It returns False to cancel (nothing is sent, the
    claim is released). Returns None when cancelled.
    """
    ticket, form = load_ticket(store, radicado)
    rules = rules or load_all(config.rules_dir)
    procedure = rules.procedures.get(ticket.procedure)
    if procedure is None:
        raise Refused(f"el trámite {ticket.procedure} de la solicitud {ticket.radicado} ya no está en las reglas; "
                      "restáurelo para aprobarla")
    # With links, approving again sends newer links (the older ones stop working).
    with_links = config.reset.delivery == "link" or procedure.action == "change_email"
    require_state(ticket, (PENDING_APPROVAL, LINK_SENT) if with_links else (PENDING_APPROVAL,), "aprobar")
    risks = high_risk_warnings(store, ticket.id, rules.trust)
    if risks and not acknowledge_warnings:
        raise Refused(f"la solicitud {ticket.radicado} tiene advertencias de alto riesgo ({', '.join(risks)}); "
                      f"revíselas con helpdesk show {ticket.radicado} y, si aun así aprueba, repita con "
                      "--acknowledge-warnings")
    who = actor(by)
    fields = form.get("fields") or {}
    if procedure.action == "unlock":
        queued = approve_unlock(store, config, renderer, ticket, fields, who, confirm, risks)
        return None if queued is None else Decided(ticket, queued)
    if procedure.action == "change_email":
        return Decided(ticket, send_confirmation(store, config, renderer, ticket, fields, who, risks))
    if procedure.action == "account":
        done = approve_account(store, config, renderer, ticket, fields, procedure, who, confirm, confirm_deletion,
                               risks)
        return None if done is None else Decided(ticket, done[0], order=done[1])
    return approve_reset(store, config, renderer, ticket, form, who, confirm, risks, rules.trust)


# The email each decision that carries a staff member's text sends, and the
# states it may be taken from (a reply: any).
TEXT_KINDS = {"reject": "rejected", "revoke": "rejected", "correct": "correction", "reply": "reply"}
ALLOWED = {"reject": (NEEDS_CORRECTION, PENDING_APPROVAL, LINK_SENT),
           "revoke": (NEEDS_CORRECTION, PENDING_APPROVAL, LINK_SENT),
           "correct": (NEEDS_CORRECTION, PENDING_APPROVAL)}
VERBS = {"reject": "rechazar", "revoke": "revocar", "correct": "pedir una corrección"}


def allowed(store: Store, radicado: str, decision: str) -> Ticket:
    """The ticket, or Refused when ``decision`` cannot be taken in its state:
    `review` asks before the staff member writes a word."""
    ticket, _form = load_ticket(store, radicado)
    if decision in ALLOWED:
        require_state(ticket, ALLOWED[decision], VERBS[decision])
    return ticket


def compose(conn, renderer: Renderer, ticket: Ticket, decision: str, recipient: str, text: str) -> Reply:
    """The email of ``decision`` carrying ``text`` (already through staff_text),
    written by a person: no Auto-Submitted, threaded to the ticket's messages."""
    kind = TEXT_KINDS[decision]
    context = ({"message": text} if kind == "reply" else
               {"reason": text, "problems": [text], "no_attachments_reminder": False, "legal_rep_email": ""})
    return renderer.build(kind, recipient, ticket.radicado, context, answering=thread_ids(conn, ticket.id),
                          automatic=False, procedure=ticket.procedure)


def draft(store: Store, config: Config, renderer: Renderer, radicado: str, decision: str, text: str,
          rules: Rules | None = None) -> Reply:
    """The email ``decision`` ("reject", "revoke", "correct" or "reply")
    would queue with ``text``, rendered as the decision renders it, to be
    read before it goes (`review`). Nothing is written."""
    text, ticket, recipient = _addressed(store, config, radicado, decision, text, "sin texto no se envía nada", rules)
    return compose(store.conn, renderer, ticket, decision, recipient, text)


def _addressed(store: Store, config: Config, radicado: str, decision: str, text: str, empty: str,
               rules: Rules | None) -> tuple[str, Ticket, str]:
    """(the staff text kept as written, the ticket if ``decision`` may be
    taken on it, where its email goes); Refused with ``empty`` for no text."""
    text = staff_text(text)
    if not text:
        raise Refused(empty)
    ticket = allowed(store, radicado, decision)
    rules = rules or load_all(config.rules_dir)
    # A procedure that hands over an account answers its From, never a
    # Reply-To anyone could have written (CONTRACT §13).
    return text, ticket, verdict_recipient(ticket, rules.procedures.get(ticket.procedure))


def reject(store: Store, config: Config, renderer: Renderer, radicado: str, by: str, reason: str,
           rules: Rules | None = None) -> Decided:
    """Reject a ticket, also one whose links are out (``link_sent``,
    CONTRACT §2 and §13): its unused links die with it (see ``revoke``)."""
    return _decide(store, config, renderer, radicado, by, reason, REJECTED, "reject", "rechazada", rules)


def revoke(store: Store, config: Config, renderer: Renderer, radicado: str, by: str, reason: str,
           rules: Rules | None = None) -> Decided:
    """Take an approval back (``helpdesk revoke``): every unused link of the
    ticket (reset, confirmation, the old owner's cancel, the self-service
    links of its accounts since) stops working, a pending change of
    registered email is ended, and the ticket is rejected with the
    ``rejected`` email, in one transaction."""
    return _decide(store, config, renderer, radicado, by, reason, REJECTED, "revoke", "revocada", rules)


def request_correction(store: Store, config: Config, renderer: Renderer, radicado: str, by: str, reason: str,
                       rules: Rules | None = None) -> Decided:
    return _decide(store, config, renderer, radicado, by, reason, NEEDS_CORRECTION, "correct", "corrección pedida",
                   rules)


def _decide(store, config, renderer, radicado, by, reason, state, decision, action, rules) -> Decided:
    reason, ticket, recipient = _addressed(store, config, radicado, decision, reason,
                                           "indique el motivo con --reason", rules)
    who = actor(by)
    with store.transaction() as conn:
        if state == REJECTED:
            # A link being used now would commit its use after the rejection.
            if links.in_use(conn, ticket.id) or not end_open(conn, ticket.id, "staff"):
                raise Refused(f"un enlace de la solicitud {ticket.radicado} se está usando, o su cambio de correo "
                              "aplicando, en este momento; repita en un minuto")
            revoked = links.revoke_ticket(conn, ticket.id, f"{action} por {who}: {reason}")
        updated = conn.execute(
            "UPDATE tickets SET state = ?, updated_at = ? WHERE id = ? AND state = ? AND claimed_by IS NULL",
            (state, iso(), ticket.id, ticket.state)).rowcount
        if not updated:
            raise Refused(f"la solicitud {ticket.radicado} cambió mientras tanto o la está aprobando otra persona; "
                          f"vea helpdesk show {ticket.radicado}")
        # The decision's email answers the requester: nothing waits any more.
        clear_follow_up(conn, ticket.id)
        queued = outbox.enqueue(conn, config, ticket.id, compose(conn, renderer, ticket, decision, recipient, reason))
        detail = reason
        if state == REJECTED and revoked:
            detail += "; " + wording.count(revoked, "enlace sin usar invalidado", "enlaces sin usar invalidados")
        record_event(conn, ticket.id, who, action, detail)
    return Decided(ticket, queued, recipient=recipient)


def reply(store: Store, config: Config, renderer: Renderer, radicado: str, by: str, message: str,
          rules: Rules | None = None) -> Decided:
    """A staff member answers the entity in their own words, on any state.

    The email (kind ``reply``, written by a person: no Auto-Submitted) goes
    to the requester (the From address in a procedure that hands over an
    account: only the ack may follow a Reply-To there), threaded to the
    entity's latest message; it is queued in the same transaction as the
    audit event and the clearing of
    ``follow_up``: whoever looks at the queue next sees it answered.

    A ticket that is a question (intake/question.py: ``received`` and never
    to be examined) is answered by this reply: it resolves, so its legal
    term stops and it leaves the open count. A later message from the
    entity flags it again (``follow_up``), and documents sent then are
    examined after ``reopen``.
    """
    text = staff_text(message)
    if not text:
        raise Refused("escriba la respuesta con --message")
    ticket, _form = load_ticket(store, radicado)
    rules = rules or load_all(config.rules_dir)
    recipient = verdict_recipient(ticket, rules.procedures.get(ticket.procedure))
    who = actor(by)
    with store.transaction() as conn:
        queued = outbox.enqueue(conn, config, ticket.id, compose(conn, renderer, ticket, "reply", recipient, text))
        conn.execute("UPDATE tickets SET updated_at = ? WHERE id = ?", (iso(), ticket.id))
        answered = conn.execute(  # a question: received, and nothing left to examine
            "UPDATE tickets SET state = ? WHERE id = ? AND state = ? AND examine_pending = 0",
            (RESOLVED, ticket.id, RECEIVED)).rowcount
        clear_follow_up(conn, ticket.id)
        record_event(conn, ticket.id, who, "respuesta del equipo", text)
        if answered:
            record_event(conn, ticket.id, who, "pregunta respondida", "la solicitud queda resuelta")
    return Decided(ticket, queued, recipient=recipient)


def reopen(store: Store, radicado: str, by: str) -> Ticket:
    """Send a ``rejected``, ``resolved`` or ``withdrawn`` ticket back to examination.

    For an entity that answered a closed ticket with new documents: the
    daemon examines every document of the ticket again (the newest of each
    kind wins) and answers with a correction or an acceptance, as for a
    new request. The flag is cleared: the examination's email answers it.
    """
    ticket, _form = load_ticket(store, radicado)
    require_state(ticket, (REJECTED, RESOLVED, WITHDRAWN), "reabrir")
    who = actor(by)
    with store.transaction() as conn:
        updated = conn.execute(
            "UPDATE tickets SET state = ?, examine_pending = 1, claimed_by = NULL, claimed_at = NULL, "
            "updated_at = ? WHERE id = ? AND state = ?", (RECEIVED, iso(), ticket.id, ticket.state)).rowcount
        if not updated:
            raise Refused(f"la solicitud {ticket.radicado} cambió mientras tanto; vea helpdesk show {ticket.radicado}")
        clear_follow_up(conn, ticket.id)
        record_event(conn, ticket.id, who, "solicitud reabierta",
                     f"de «{STATE_LABELS[ticket.state]}» a examen de documentos")
    return ticket
