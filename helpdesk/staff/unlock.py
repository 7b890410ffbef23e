"""Approval of an unlock request (procedure ``desbloqueo``, seed 003).

The account's lock is removed through the [reset] backend (ldap: ppolicy's
``pwdAccountLockedTime`` and ``pwdFailureTime``; command: action
``unlock``; manual: staff do it and confirm), then one transaction records
it, resolves the ticket and queues ``account_unlocked`` to the account's
registered address (the examination looked it up: never the sender,
whoever wrote). The email says what to do next: the self-service link
when the password is lost too. It is rendered before the claim: an email
that cannot be built stops the approval before anything is unlocked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..config import Config
from ..errors import Refused
from ..examination.checks import valid_email
from ..outgoing import outbox
from ..outgoing.replies import Renderer, entity_excerpt
from ..resets.backends import make_backend
from ..resets.registered import lookup
from ..store import Store, iso
from ..tickets import RESOLVED, Ticket, add_finding, record_event, thread_ids
from .approval import carry_out, prepared
from .approval import claim as claim_ticket


@dataclass(frozen=True)
class UnlockOrder:
    """What the staff member confirms with the manual backend."""

    account: str


def approve_unlock(store: Store, config: Config, renderer: Renderer, ticket: Ticket, fields: dict, who: str,
                   confirm: Callable, risks: list[str]) -> int | None:
    """Unlock the ticket's account; the outbox row of its email, or None when cancelled."""
    written = (fields.get("account") or "").strip()
    if not written:
        raise Refused(f"la solicitud {ticket.radicado} no indica la cuenta; pida una corrección")
    # Asked again now: the directory decides which entry and which address.
    found = lookup(config, written)
    if found is None or not valid_email(found.email):
        raise Refused(f"el directorio no tiene la cuenta «{written}» con un correo registrado, adonde va el "
                      f"resultado; revise la solicitud (helpdesk show {ticket.radicado}) o respóndala a mano")
    account, recipient = found.account, found.email
    recovery = f"{config.web.base_url.rstrip('/')}/recuperar" if config.selfservice.enabled else ""
    backend = make_backend(config)
    reply = prepared("de aviso del desbloqueo", lambda: renderer.build("account_unlocked", recipient, ticket.radicado, {
        "person_name": entity_excerpt(ticket.legal_rep_name or ""), "account": account, "recovery_url": recovery},
        answering=thread_ids(store.conn, ticket.id), automatic=False, procedure=ticket.procedure), backend)
    claim_ticket(store, ticket, who)

    def failed(error: str) -> None:
        with store.transaction() as conn:
            conn.execute("UPDATE tickets SET claimed_by = NULL, claimed_at = NULL WHERE id = ?", (ticket.id,))
            add_finding(conn, ticket.id, "warning", "account_action_failed", error, source="staff")
            record_event(conn, ticket.id, who, "desbloqueo fallido", f"{error}; no se envió nada")

    if not carry_out(store, ticket, who, backend, lambda: backend.unlock(account),
                     lambda: confirm(UnlockOrder(account)), "no se confirmó el desbloqueo", failed):
        return None
    with store.transaction() as conn:
        queued = outbox.enqueue(conn, config, ticket.id, reply)
        conn.execute("UPDATE tickets SET state = ?, claimed_by = NULL, claimed_at = NULL, updated_at = ? WHERE id = ?",
                     (RESOLVED, iso(), ticket.id))
        seen = f"; advertencias de alto riesgo revisadas: {', '.join(risks)}" if risks else ""
        record_event(conn, ticket.id, who, "aprobada",
                     f"cuenta {account} desbloqueada ({backend.name}); aviso a {recipient}{seen}")
    return queued
