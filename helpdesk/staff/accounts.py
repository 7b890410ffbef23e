"""Approval of an account request (a procedure with action "account",
seed 002): create, modify, delete or disable the institutional account.

The same steps as a reset (staff/approval.py): *claim* the ticket,
apply the order through [accounts] backend outside any transaction, then
*commit* in one transaction the register of corporate accounts
(FT-GTI-002), the ticket's resolution, the audit event and every email:

- a creation: the account and its temporary password to the official's
  personal contact address (the procedure's ``result_to``), and a notice
  without the password to the office (``notice_to``);
- a modification, deletion or disabling: a notice to both.

Every email is rendered before the claim (form text shortened to an
excerpt, as the ack does: the addresses are the requester's choice): one
that cannot be built stops the approval before the account is touched.

A deletion (or disabling) is irreversible for whoever uses the account: it
needs a second, explicit confirmation (``confirm_deletion``) before the
claim, whatever the backend. If the backend fails nothing is sent, the
register is unchanged and the ticket stays ``pending_approval``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

from .. import register
from ..config import Config
from ..errors import Refused
from ..examination.checks import valid_email
from ..outgoing import outbox
from ..outgoing.replies import Renderer, Reply, entity_excerpt
from ..register import ACTION_LABELS, AccountChange, account_action
from ..resets.accounts import AccountOrder, make_account_backend
from ..resets.backends import generate_password
from ..rules import Procedure
from ..store import Store, iso
from ..tickets import RESOLVED, Ticket, add_finding, record_event, thread_ids
from .approval import carry_out, prepared
from .approval import claim as claim_ticket


def order_of(ticket: Ticket, fields: dict, config: Config) -> AccountOrder:
    """The order the ticket's form asks for, or Refused saying what is missing."""
    action = account_action(fields.get("request_type"))
    if action is None:
        raise Refused(f"la solicitud {ticket.radicado} no dice si es una creación, modificación o eliminación; "
                      f"pida una corrección con helpdesk correct {ticket.radicado}")
    if action == "delete" and config.accounts.on_delete == "disable":
        action = "disable"
    account = (fields.get("account") or "").strip().lower()
    if not valid_email(account):
        raise Refused(f"la cuenta de la solicitud {ticket.radicado} («{account}») no es una dirección válida; "
                      "pida una corrección")
    return AccountOrder(
        action=action, account=account, official_name=fields.get("official_name") or "",
        official_doc_type=fields.get("official_doc_type") or "", official_doc_number=fields.get("official_doc_number") or "",
        official_position=fields.get("official_position") or "", official_email=fields.get("official_email") or "",
        office=fields.get("office_name") or "", changes=fields.get("changes") or "", radicado=ticket.radicado,
        password=generate_password(config.reset.password_length) if action == "create" else "")


def recipients(procedure: Procedure, fields: dict, ticket: Ticket) -> tuple[str, list[str]]:
    """(the official's address, the offices' addresses): each valid, the
    office's never the same as the official's."""
    official = (fields.get(procedure.result_to) or "").strip()
    if not valid_email(official):
        raise Refused(f"el correo del funcionario («{official}») no es válido; pida una corrección con "
                      f"helpdesk correct {ticket.radicado}")
    offices = []
    for key in procedure.notice_to:
        address = (fields.get(key) or "").strip()
        if valid_email(address) and address.lower() != official.lower() and address.lower() not in offices:
            offices.append(address.lower())
    return official, offices


def approve_account(store: Store, config: Config, renderer: Renderer, ticket: Ticket, fields: dict,
                    procedure: Procedure, who: str, confirm: Callable[[AccountOrder], bool],
                    confirm_deletion: Callable[[AccountOrder], bool] | None, risks: list[str]):
    """Carry out one account request; return (outbox row of the official's
    email, the order) or None when cancelled."""
    order = order_of(ticket, fields, config)
    official, offices = recipients(procedure, fields, ticket)
    if order.action in ("delete", "disable") and (confirm_deletion is None or not confirm_deletion(order)):
        return None
    backend = make_account_backend(config)
    emails = prepared("del resultado", lambda: _emails(renderer, ticket, order, official, offices,
                                                        thread_ids(store.conn, ticket.id)), backend)
    claim_ticket(store, ticket, who)
    if not carry_out(store, ticket, who, backend, lambda: backend.apply(order), lambda: confirm(order),
                     "no se confirmó la acción sobre la cuenta",
                     lambda error: _failed(store, ticket, who, backend.name, order, error)):
        return None
    with store.transaction() as conn:
        register.record(conn, AccountChange(order.action, order.account, order.official_name,
                                            order.official_doc_number, order.official_position, order.office,
                                            ticket.radicado, who, order.changes))
        first = outbox.enqueue(conn, config, ticket.id, emails[0], sensitive=order.action == "create")
        for notice in emails[1:]:
            outbox.enqueue(conn, config, ticket.id, notice)
        conn.execute("UPDATE tickets SET state = ?, claimed_by = NULL, claimed_at = NULL, updated_at = ? WHERE id = ?",
                     (RESOLVED, iso(), ticket.id))
        seen = f"; advertencias de alto riesgo revisadas: {', '.join(risks)}" if risks else ""
        sent = ", ".join([official, *offices])
        record_event(conn, ticket.id, who, "aprobada",
                     f"{ACTION_LABELS[order.action]} de la cuenta {order.account} ({backend.name}); "
                     f"avisos a {sent}{seen}")
    return first, replace(order, password="")


def _emails(renderer: Renderer, ticket: Ticket, order: AccountOrder, official: str, offices: list[str],
            answering: list[str]) -> list[Reply]:
    """The official's email (the account and its temporary password for a
    creation, else a notice), then each office's notice."""
    context = {"official_name": entity_excerpt(order.official_name), "office_name": entity_excerpt(order.office),
               "account": order.account, "action": order.action, "changes": entity_excerpt(order.changes)}
    if order.action == "create":
        first = renderer.build("account_created", official, ticket.radicado, {**context, "password": order.password},
                               answering=answering, automatic=False, procedure=ticket.procedure)
    else:
        first = renderer.build("account_notice", official, ticket.radicado, {**context, "for_office": False},
                               answering=answering, automatic=False, procedure=ticket.procedure)
    return [first, *(renderer.build("account_notice", office, ticket.radicado, {**context, "for_office": True},
                                    answering=answering, automatic=False, procedure=ticket.procedure)
                     for office in offices)]


def _failed(store: Store, ticket: Ticket, who: str, backend: str, order: AccountOrder, error: str) -> None:
    """Nothing is sent and the register is unchanged; the failure is on the record."""
    with store.transaction() as conn:
        conn.execute("UPDATE tickets SET claimed_by = NULL, claimed_at = NULL WHERE id = ?", (ticket.id,))
        add_finding(conn, ticket.id, "warning", "account_action_failed", error, source="staff")
        record_event(conn, ticket.id, who, f"{ACTION_LABELS[order.action]} fallida",
                     f"{error} ({backend}); no se envió nada")
