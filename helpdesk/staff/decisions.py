"""Staff decisions: approve (reset + credentials), reject, ask for a correction.

Every decision is an audit event with the staff member's name (``--by``),
the operating-system user, the time and the reason; nothing is deleted.

Approval is the dangerous one. It works in three steps:

1. *claim*: one transaction marks the ticket as being approved by NAME,
   only if it is ``pending_approval`` and nobody else holds a recent claim:
   of two staff members approving at once, one wins and the other is
   refused with who holds it;
2. *reset*: new passwords for every account, applied by the backend
   outside any transaction (an LDAP server or a person can take minutes);
3. *commit*: one transaction records the resets, moves the ticket to
   ``resolved`` and queues the ``reset`` email to the legal
   representative's address from the form (field 1.2), never to the
   sender or the Reply-To.

Every action's result email is rendered *before* the claim, with the
passwords it will carry: an email that cannot be built (a template error,
an address the composer refuses) stops the approval with nothing applied,
no claim left and one line for the staff member. The commit only queues it.

If the backend fails for any account, nothing is sent: the claim is
released, the error is recorded and the ticket stays ``pending_approval``.
A retry resets *every* account again, knowingly, and the one email carries
the newest passwords: no password is ever stored to be reused, so an
account reset in a failed attempt simply gets a newer password.
"""

from __future__ import annotations

import dataclasses
import getpass
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from .. import directory
from ..addresses import domain_of
from ..config import Config
from ..errors import NotFound, Refused, ResetFailed
from ..examination.checks import valid_email
from ..outgoing import outbox
from ..outgoing.replies import Renderer, Reply
from ..resets import links
from ..resets.backends import EntityScope, generate_password, make_backend
from ..rules import Rules, TrustRules, load_all
from ..store import Store, iso, now
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
    add_finding,
    clear_follow_up,
    record_event,
    thread_ids,
    verdict_recipient,
)

# A claim older than this belongs to an approval that died half-way.
CLAIM_TIMEOUT = timedelta(minutes=30)


@dataclass(frozen=True)
class Credential:
    type: str
    account: str
    password: str


def actor(by: str) -> str:
    """The staff member's name and the operating-system user who ran the command."""
    try:
        system_user = getpass.getuser()
    except (KeyError, OSError):
        system_user = "?"
    return f"{by.strip()} (usuario del sistema: {system_user})"


def _ticket(store: Store, radicado: str) -> tuple[Ticket, dict]:
    row = store.one("SELECT * FROM tickets WHERE radicado = ?", (radicado.strip().upper(),))
    if row is None:
        raise NotFound(f"no existe el radicado {radicado}")
    return Ticket.from_row(row), json.loads(row["form_json"] or "{}")


def _require(ticket: Ticket, allowed: tuple[str, ...], action: str) -> None:
    if ticket.state not in allowed:
        options = " o ".join(f"«{STATE_LABELS[s]}»" for s in allowed)
        raise Refused(f"la solicitud {ticket.radicado} está en estado «{STATE_LABELS[ticket.state]}»; "
                      f"solo se puede {action} en estado {options} (vea helpdesk show {ticket.radicado})")


@dataclass(frozen=True)
class Decided:
    """A decision committed: its ticket, the outbox row of the email it
    queued (staff/handover.py watches that row), and the accounts an approval reset."""

    ticket: Ticket
    outbox_id: int
    credentials: tuple[Credential, ...] = ()
    order: object | None = None  # an account request's AccountOrder (staff/accounts.py), password removed
    recipient: str = ""  # where a reject, correct, revoke or reply sent its email


def approve(store: Store, config: Config, renderer: Renderer, radicado: str, by: str,
            confirm: Callable, acknowledge_warnings: bool = False, rules: Rules | None = None,
            confirm_deletion: Callable | None = None) -> Decided | None:
    """Approve a ticket: carry out its procedure's action and queue the result.

    The action is the procedure's (rules/procedures/ID ``action``):
    "reset" resets the form's accounts and queues the credentials (here);
    "account" creates, modifies or deletes an institutional account
    (staff/accounts.py, which asks ``confirm_deletion`` before a deletion).
    ``confirm`` is called with what was done (the new passwords, or the
    account order) before anything is sent; with the manual backend it is
    where the staff member applies it. It returns False to cancel (nothing
    is sent, the claim is released). Returns None when cancelled.
    """
    ticket, form = _ticket(store, radicado)
    rules = rules or load_all(config.rules_dir)
    procedure = rules.procedures.get(ticket.procedure)
    if procedure is None:
        raise Refused(f"el trámite {ticket.procedure} de la solicitud {ticket.radicado} ya no está en las reglas; "
                      "restáurelo para aprobarla")
    # With links, approving again sends newer links (the older ones stop working).
    with_links = config.reset.delivery == "link" or procedure.action == "change_email"
    _require(ticket, (PENDING_APPROVAL, LINK_SENT) if with_links else (PENDING_APPROVAL,), "aprobar")
    trust = rules.trust
    risks = high_risk_warnings(store, ticket.id, trust)
    if risks and not acknowledge_warnings:
        raise Refused(f"la solicitud {ticket.radicado} tiene advertencias de alto riesgo ({', '.join(risks)}); "
                      f"revíselas con helpdesk show {ticket.radicado} y, si aun así aprueba, repita con "
                      "--acknowledge-warnings")
    who = actor(by)
    fields = form.get("fields") or {}
    if procedure.action == "unlock":
        from .unlock import approve_unlock

        queued = approve_unlock(store, config, renderer, ticket, fields, who, confirm, risks)
        return None if queued is None else Decided(ticket, queued)
    if procedure.action == "change_email":
        from .email_change import send_confirmation

        return Decided(ticket, send_confirmation(store, config, renderer, ticket, fields, who, risks))
    if procedure.action == "account":
        from .accounts import approve_account

        done = approve_account(store, config, renderer, ticket, form.get("fields") or {}, procedure, who, confirm,
                               confirm_deletion, risks)
        return None if done is None else Decided(ticket, done[0], order=done[1])
    recipient = (ticket.legal_rep_email or "").strip()
    if not valid_email(recipient):
        raise Refused(f"el correo del representante legal del formato («{recipient}») no es válido; "
                      f"pida una corrección con helpdesk correct {ticket.radicado}")
    accounts = form.get("accounts") or []
    if not accounts:
        raise Refused(f"la solicitud {ticket.radicado} no tiene cuentas; pida una corrección")
    scope = entity_scope(store, ticket, trust)
    if config.reset.delivery == "link":
        return _send_links(store, config, renderer, ticket, accounts, scope, who, recipient, risks)
    backend = make_backend(config)  # a config error must not leave a claim behind
    credentials = [Credential(a["type"], a["account"], generate_password(config.reset.password_length))
                   for a in accounts]
    reply = prepared("con las claves", lambda: renderer.build("reset", recipient, ticket.radicado, {
        "legal_rep_name": ticket.legal_rep_name or "",
        "entity_name": ticket.entity_name or "",
        "credentials": [{"type": c.type, "account": c.account, "password": c.password} for c in credentials],
    }, answering=thread_ids(store.conn, ticket.id), procedure=ticket.procedure), backend)
    claim(store, ticket, who)
    done: list[Credential] = []
    attempting = ""

    def apply() -> None:
        nonlocal attempting
        for credential in credentials:
            attempting = credential.account
            backend.reset(credential.account, credential.password, scope)
            done.append(credential)

    if not carry_out(store, ticket, who, backend, apply, lambda: confirm(credentials),
                     "no se confirmó la aplicación de las claves",
                     lambda error: _fail(store, ticket, who, backend.name, done, attempting, error)):
        return None
    if backend.name == "manual":
        done = list(credentials)
    with store.transaction() as conn:
        for credential in done:
            conn.execute("INSERT INTO resets(ticket_id, account, backend, ok, actor, at) VALUES (?, ?, ?, 1, ?, ?)",
                         (ticket.id, credential.account, backend.name, who, iso()))
        queued = outbox.enqueue(conn, config, ticket.id, reply, sensitive=True)
        conn.execute("UPDATE tickets SET state = ?, claimed_by = NULL, claimed_at = NULL, updated_at = ? WHERE id = ?",
                     (RESOLVED, iso(), ticket.id))
        accounts_text = ", ".join(c.account for c in credentials)
        # The directory learns the entity's legal representative's address:
        # the next request of this NIT naming another one is warned.
        directory.learn(conn, trust, _nit_of(conn, ticket.id), ticket.entity_name or "", recipient,
                        [c.account for c in credentials] + [ticket.sender], ticket.radicado)
        seen = f"; advertencias de alto riesgo revisadas: {', '.join(risks)}" if risks else ""
        record_event(conn, ticket.id, who, "aprobada",
                     f"claves reiniciadas ({backend.name}) de {accounts_text}; enviadas a {recipient}{seen}")
    return Decided(ticket, queued, tuple(credentials))


def _send_links(store: Store, config: Config, renderer: Renderer, ticket: Ticket, accounts: list[dict],
                scope: EntityScope, who: str, recipient: str, risks: list[str]) -> Decided:
    """[reset] delivery = "link": one single-use link per account to the
    legal representative, no password anywhere; the person applies it on
    the link page (web/linkuse.py), which resolves the ticket when every
    account's link is used. Nothing is applied now, so there is no claim."""
    with store.transaction() as conn:
        current = conn.execute("SELECT state, claimed_by FROM tickets WHERE id = ?", (ticket.id,)).fetchone()
        if current["state"] not in (PENDING_APPROVAL, LINK_SENT) or current["claimed_by"]:
            raise Refused(f"la solicitud {ticket.radicado} cambió mientras tanto; vea helpdesk show {ticket.radicado}")
        sent = [{"type": a["type"], "account": a["account"],
                 "url": config.web.link_url(links.issue(conn, a["account"], config.reset.link_hours, links.APPROVAL,
                                                        ticket.id, a["type"], dataclasses.asdict(scope)))}
                for a in accounts]
        reply = prepared("con los enlaces", lambda: renderer.build("reset_link", recipient, ticket.radicado, {
            "legal_rep_name": ticket.legal_rep_name or "", "entity_name": ticket.entity_name or "",
            "links": sent, "hours": hours_shown(config.reset.link_hours)},
            answering=thread_ids(conn, ticket.id), procedure=ticket.procedure))
        queued = outbox.enqueue(conn, config, ticket.id, reply, sensitive=True)
        conn.execute("UPDATE tickets SET state = ?, updated_at = ? WHERE id = ?", (LINK_SENT, iso(), ticket.id))
        for a in sent:
            links.record(conn, "sent", "", links.find_for(conn, ticket.id, a["account"]),
                         detail=f"enlace a {recipient}")
        seen = f"; advertencias de alto riesgo revisadas: {', '.join(risks)}" if risks else ""
        record_event(conn, ticket.id, who, "aprobada",
                     f"enlaces de cambio de clave de {', '.join(a['account'] for a in sent)} enviados a {recipient}, "
                     f"válidos {hours_shown(config.reset.link_hours)} h{seen}")
    return Decided(ticket, queued)


def hours_shown(value: float) -> float | int:
    """Hours as an email says them: 2, not 2.0; 1.5 stays."""
    return int(value) if float(value).is_integer() else value


def entity_scope(store: Store, ticket: Ticket, trust: TrustRules) -> EntityScope:
    """The entity a ticket's resets may touch: its NIT, and its own mail
    domain (the legal representative's, else the first account's, else the
    sender's; a free-mail domain is nobody's)."""
    row = store.one("SELECT nit_number, form_json FROM tickets WHERE id = ?", (ticket.id,))
    accounts = [a.get("account", "") for a in json.loads(row["form_json"] or "{}").get("accounts", [])]
    for address in (ticket.legal_rep_email or "", *accounts, ticket.sender):
        domain = domain_of(address) if "@" in address else ""
        if domain and not trust.is_free_mail(domain):
            return EntityScope(nit=row["nit_number"] or "", domain=domain)
    return EntityScope(nit=row["nit_number"] or "")


def high_risk_warnings(store: Store, ticket_id: int, trust: TrustRules) -> list[str]:
    """The ticket's warnings that weigh "alto" in rules/trust.toml."""
    high = trust.high_risk()
    marks = ",".join("?" * len(high))
    rows = store.query(f"SELECT DISTINCT code FROM findings WHERE ticket_id = ? AND severity = 'warning' "
                       f"AND code IN ({marks}) ORDER BY code", (ticket_id, *high))
    return [r["code"] for r in rows]


def _nit_of(conn, ticket_id: int) -> str | None:
    return conn.execute("SELECT nit_number FROM tickets WHERE id = ?", (ticket_id,)).fetchone()["nit_number"]


def prepared(what: str, build: Callable[[], Reply], backend=None) -> Reply:
    """An action's result email, rendered before anything is claimed or
    applied. Whatever rendering raises (a template, an address the composer
    refuses with UnsafeHeader) becomes a one-line refusal, ``backend``
    closed: the staff member corrects the ticket, nobody's password changed
    without an email to say which."""
    try:
        return build()
    except Exception as exc:  # any failure to build the email must stop the action before it is applied
        if backend is not None:
            backend.close()
        raise Refused(f"no se pudo preparar el correo {what} ({type(exc).__name__}: {' '.join(str(exc).split())}); "
                      "no se aplicó nada: corrija la solicitud (helpdesk correct) o el dato que falla") from None


def carry_out(store: Store, ticket: Ticket, who: str, backend, apply: Callable[[], None],
              confirm_done: Callable[[], bool], cancelled: str, failed: Callable[[str], None]) -> bool:
    """The middle step of every approval, the ticket claimed: the backend
    applies (with the manual backend a person does), then ``confirm_done``;
    False when the staff member cancels (the claim released, nothing
    sent). A ResetFailed is handed to ``failed`` (which records it and
    releases the claim) and raised; any other interruption releases the
    claim. The backend is closed whatever happens."""
    try:
        if backend.name != "manual":
            apply()
        if not confirm_done():
            _release(store, ticket, who, "aprobación cancelada", cancelled)
            return False
    except ResetFailed as exc:
        failed(str(exc))
        raise
    except BaseException:
        _release(store, ticket, who, "aprobación interrumpida", "")
        raise
    finally:
        backend.close()
    return True


def claim(store: Store, ticket: Ticket, who: str) -> None:
    stale = iso(now() - CLAIM_TIMEOUT)
    with store.transaction() as conn:
        claimed = conn.execute(
            "UPDATE tickets SET claimed_by = ?, claimed_at = ? WHERE id = ? AND state = ? "
            "AND (claimed_by IS NULL OR claimed_at < ?)",
            (who, iso(), ticket.id, PENDING_APPROVAL, stale),
        ).rowcount
        if not claimed:
            row = conn.execute("SELECT state, claimed_by, claimed_at FROM tickets WHERE id = ?", (ticket.id,)).fetchone()
            if row["state"] != PENDING_APPROVAL:
                raise Refused(f"la solicitud {ticket.radicado} ya está en estado «{STATE_LABELS[row['state']]}»")
            # How long ago, not a UTC clock time: no zone to convert, and
            # the claim lapses after CLAIM_TIMEOUT anyway.
            minutes = int((now() - datetime.fromisoformat(row["claimed_at"])).total_seconds() // 60)
            ago = f"hace {minutes} min" if minutes >= 1 else "hace menos de un minuto"
            raise Refused(f"la solicitud {ticket.radicado} la está aprobando {row['claimed_by']} desde {ago}; "
                          "espere a que termine")
        record_event(conn, ticket.id, who, "aprobación iniciada")


def _release(store: Store, ticket: Ticket, who: str, action: str, detail: str) -> None:
    with store.transaction() as conn:
        conn.execute("UPDATE tickets SET claimed_by = NULL, claimed_at = NULL WHERE id = ? AND claimed_by = ?",
                     (ticket.id, who))
        record_event(conn, ticket.id, who, action, detail)


def _fail(store: Store, ticket: Ticket, who: str, backend: str, done: list[Credential], account: str,
          error: str) -> None:
    """Nothing is sent; what succeeded and what failed is on the record."""
    with store.transaction() as conn:
        for credential in done:
            conn.execute("INSERT INTO resets(ticket_id, account, backend, ok, actor, at) VALUES (?, ?, ?, 1, ?, ?)",
                         (ticket.id, credential.account, backend, who, iso()))
        conn.execute("INSERT INTO resets(ticket_id, account, backend, ok, error, actor, at) VALUES (?, ?, ?, 0, ?, ?, ?)",
                     (ticket.id, account, backend, error, who, iso()))
        conn.execute("UPDATE tickets SET claimed_by = NULL, claimed_at = NULL WHERE id = ?", (ticket.id,))
        add_finding(conn, ticket.id, "warning", "reset_failed", error, source="staff")
        record_event(conn, ticket.id, who, "reinicio fallido",
                     f"{error}; no se envió nada. Al reintentar se reinician de nuevo todas las cuentas")


def reject(store: Store, config: Config, renderer: Renderer, radicado: str, by: str, reason: str,
           rules: Rules | None = None) -> Decided:
    """Reject a ticket, also one whose links are out (``link_sent``,
    CONTRACT §2 and §13): its unused links die with it (see ``revoke``)."""
    return _decide(store, config, renderer, radicado, by, reason, REJECTED, "rejected", "rechazar", "rechazada",
                   rules, (NEEDS_CORRECTION, PENDING_APPROVAL, LINK_SENT))


def revoke(store: Store, config: Config, renderer: Renderer, radicado: str, by: str, reason: str,
           rules: Rules | None = None) -> Decided:
    """Take an approval back (``helpdesk revoke``): every unused link of the
    ticket (reset, confirmation, the old owner's cancel, the self-service
    links of its accounts since) stops working, a pending change of
    registered email is ended, and the ticket is rejected with the
    ``rejected`` email, in one transaction."""
    return _decide(store, config, renderer, radicado, by, reason, REJECTED, "rejected", "revocar", "revocada",
                   rules, (NEEDS_CORRECTION, PENDING_APPROVAL, LINK_SENT))


def request_correction(store: Store, config: Config, renderer: Renderer, radicado: str, by: str, reason: str,
                       rules: Rules | None = None) -> Decided:
    return _decide(store, config, renderer, radicado, by, reason, NEEDS_CORRECTION, "correction",
                   "pedir una corrección", "corrección pedida", rules, (NEEDS_CORRECTION, PENDING_APPROVAL))


def _decide(store, config, renderer, radicado, by, reason, state, kind, verb, action, rules, allowed) -> Decided:
    from .email_change import end_open

    reason = " ".join(reason.split())
    if not reason:
        raise Refused("indique el motivo con --reason")
    ticket, _form = _ticket(store, radicado)
    _require(ticket, allowed, verb)
    rules = rules or load_all(config.rules_dir)
    # A procedure that hands over an account answers its From, never a
    # Reply-To anyone could have written (CONTRACT §13).
    recipient = verdict_recipient(ticket, rules.procedures.get(ticket.procedure))
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
        context = {"reason": reason, "problems": [reason], "no_attachments_reminder": False, "legal_rep_email": ""}
        reply = renderer.build(kind, recipient, ticket.radicado, context,
                               answering=thread_ids(conn, ticket.id), automatic=False, procedure=ticket.procedure)
        queued = outbox.enqueue(conn, config, ticket.id, reply)
        detail = f"{reason}; {revoked} enlace(s) sin usar invalidado(s)" if state == REJECTED and revoked else reason
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
    """
    text = "\n".join(line.rstrip() for line in message.strip().splitlines())
    if not text:
        raise Refused("escriba la respuesta con --message")
    ticket, _form = _ticket(store, radicado)
    rules = rules or load_all(config.rules_dir)
    recipient = verdict_recipient(ticket, rules.procedures.get(ticket.procedure))
    who = actor(by)
    with store.transaction() as conn:
        built = renderer.build("reply", recipient, ticket.radicado, {"message": text},
                               answering=thread_ids(conn, ticket.id), automatic=False, procedure=ticket.procedure)
        queued = outbox.enqueue(conn, config, ticket.id, built)
        conn.execute("UPDATE tickets SET updated_at = ? WHERE id = ?", (iso(), ticket.id))
        clear_follow_up(conn, ticket.id)
        record_event(conn, ticket.id, who, "respuesta del equipo", text)
    return Decided(ticket, queued, recipient=recipient)


def reopen(store: Store, radicado: str, by: str) -> Ticket:
    """Send a ``rejected``, ``resolved`` or ``withdrawn`` ticket back to examination.

    For an entity that answered a closed ticket with new documents: the
    daemon examines every document of the ticket again (the newest of each
    kind wins) and answers with a correction or an acceptance, as for a
    new request. The flag is cleared: the examination's email answers it.
    """
    ticket, _form = _ticket(store, radicado)
    _require(ticket, (REJECTED, RESOLVED, WITHDRAWN), "reabrir")
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
