"""Approval of a change of registered email (procedure ``cambio-correo``,
seed 004): nothing changes until the new address is confirmed.

Approval sends ``email_change_confirm`` with a single-use link (the link
machinery of resets/links.py, purpose "email-change") to the NEW address,
and the ticket waits in ``link_sent``. Opening the link and confirming
(web/app.py, ``confirm_email_change`` here) changes the directory's
registered email through the [reset] backend (ldap: ``mail``; command:
action ``change-email``), tells the OLD address that it changed without
naming the new one, and resolves the ticket. An address nobody can open
never becomes anyone's registered email.
"""

from __future__ import annotations

import logging

from ..config import Config
from ..errors import Refused
from ..examination.checks import valid_email
from ..outgoing import outbox
from ..outgoing.replies import Renderer
from ..resets import links
from ..resets.registered import lookup
from ..store import Store, iso
from ..tickets import LINK_SENT, PENDING_APPROVAL, RESOLVED, Ticket, record_event, thread_ids

log = logging.getLogger(__name__)

EMAIL_CHANGE = "email-change"
SYSTEM = "página de confirmación de correo"


def send_confirmation(store: Store, config: Config, renderer: Renderer, ticket: Ticket, fields: dict, who: str,
                      risks: list[str]) -> int:
    """Queue the confirmation link to the new address; its outbox row."""
    if config.reset.backend == "manual":
        raise Refused("el cambio de correo lo aplica el programa cuando la persona confirma su nueva dirección, y "
                      "el backend manual no aplica nada; configure [reset] backend = \"ldap\" o \"command\"")
    if not config.web.base_url:
        raise Refused("el enlace de confirmación necesita [web] base_url y helpdesk web en marcha")
    new_email = (fields.get("new_email") or "").strip().lower()
    if not valid_email(new_email):
        raise Refused(f"el correo nuevo («{new_email}») no es válido; pida una corrección")
    found = lookup(config, (fields.get("identifier") or "").strip())
    if found is None:
        raise Refused(f"el directorio no tiene una cuenta para «{fields.get('identifier')}»; revise la solicitud "
                      f"(helpdesk show {ticket.radicado})")
    with store.transaction() as conn:
        current = conn.execute("SELECT state FROM tickets WHERE id = ?", (ticket.id,)).fetchone()["state"]
        if current not in (PENDING_APPROVAL, LINK_SENT):
            raise Refused(f"la solicitud {ticket.radicado} cambió mientras tanto; vea helpdesk show {ticket.radicado}")
        token = links.issue(conn, found.account, config.reset.link_hours, EMAIL_CHANGE, ticket.id,
                            scope={"new_email": new_email, "old_email": found.email})
        reply = renderer.build("email_change_confirm", new_email, ticket.radicado, {
            "person_name": ticket.legal_rep_name or "", "account": found.account, "url": config.web.link_url(token),
            "hours": int(config.reset.link_hours) if float(config.reset.link_hours).is_integer()
            else config.reset.link_hours}, answering=thread_ids(conn, ticket.id), automatic=False,
            procedure=ticket.procedure)
        queued = outbox.enqueue(conn, config, ticket.id, reply)
        conn.execute("UPDATE tickets SET state = ?, updated_at = ? WHERE id = ?", (LINK_SENT, iso(), ticket.id))
        links.record(conn, "sent", "", links.find_for(conn, ticket.id, found.account),
                     detail=f"confirmación a {new_email}")
        seen = f"; advertencias de alto riesgo revisadas: {', '.join(risks)}" if risks else ""
        record_event(conn, ticket.id, who, "aprobada",
                     f"enlace de confirmación del correo nuevo {new_email} para la cuenta {found.account}{seen}")
    return queued


def confirm_email_change(store: Store, config: Config, renderer: Renderer, link: links.Link, client: str) -> bool:
    """The new address's owner confirmed: change the registered email and
    tell the old address. False when the link was taken meanwhile or the
    backend failed (audited; the link stays valid to try again)."""
    new_email, old_email = link.scope.get("new_email", ""), link.scope.get("old_email", "")
    applied = links.apply_claimed(store, config, link, client,
                                  lambda backend: backend.change_email(link.account, new_email),
                                  "account_action_failed")
    if applied.status == "failed":
        log.error("registered email of %s not changed: %s", link.account, applied.error,
                  extra={"event": "email_change_failed"})
    if applied.status != "done":
        return False
    with store.transaction() as conn:
        links.mark_used(conn, link.id)
        links.record(conn, "used", client, link, detail="correo registrado cambiado")
        ticket = conn.execute("SELECT * FROM tickets WHERE id = ?", (link.ticket_id,)).fetchone()
        if ticket is not None:
            if valid_email(old_email) and old_email.lower() != new_email.lower():
                notice = renderer.build("email_changed_notice", old_email, ticket["radicado"], {
                    "account": link.account}, answering=thread_ids(conn, ticket["id"]), automatic=False,
                    procedure=ticket["procedure"])
                outbox.enqueue(conn, config, ticket["id"], notice)
            conn.execute("UPDATE tickets SET state = ?, updated_at = ? WHERE id = ?", (RESOLVED, iso(), ticket["id"]))
            record_event(conn, ticket["id"], SYSTEM, "correo registrado cambiado",
                         f"{link.account}: confirmado desde {client}; aviso al correo anterior")
    return True
