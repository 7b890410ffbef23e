"""Approval of a reset (procedure action "reset", seed 000 step f).

With ``[reset] delivery = "password"`` (the default): new passwords for
every account, applied by the backend (staff/approval.py's claim and
carry-out), then one transaction records the resets, resolves the ticket,
queues the ``reset`` email to the legal representative's address from the
form (field 1.2, never the sender or the Reply-To) and teaches the entity
directory that address (staff/completion.py).

If the backend fails for any account, nothing is sent: the claim is
released, the error is recorded and the ticket stays ``pending_approval``.
A retry resets *every* account again, knowingly, and the one email carries
the newest passwords: no password is ever stored to be reused, so an
account reset in a failed attempt simply gets a newer password.

With ``delivery = "link"``: one single-use link per account to the same
address, no password anywhere; the ticket waits in ``link_sent`` until the
links are used (web/linkuse.py, staff/completion.py).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Callable

from ..addresses import domain_of
from ..config import Config
from ..errors import Refused
from ..examination.checks import valid_email
from ..outgoing import outbox
from ..outgoing.replies import Renderer
from ..resets import links
from ..resets.backends import generate_password, make_backend
from ..resets.scope import EntityScope
from ..rules import TrustRules
from ..store import Store, iso
from ..tickets import LINK_SENT, PENDING_APPROVAL, RESOLVED, Ticket, add_finding, record_event, thread_ids
from . import completion
from .approval import carry_out, claim, hours_shown, prepared
from .common import Credential, Decided


def approve_reset(store: Store, config: Config, renderer: Renderer, ticket: Ticket, form: dict, who: str,
                  confirm: Callable, risks: list[str], trust: TrustRules) -> Decided | None:
    """Reset the form's accounts (or send their links); None when cancelled."""
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
        completion.learn(conn, trust, ticket.id, recipient)
        seen = f"; advertencias de alto riesgo revisadas: {', '.join(risks)}" if risks else ""
        record_event(conn, ticket.id, who, "aprobada",
                     f"claves reiniciadas ({backend.name}) de {', '.join(c.account for c in credentials)}; "
                     f"enviadas a {recipient}{seen}")
    return Decided(ticket, queued, tuple(credentials))


def _send_links(store: Store, config: Config, renderer: Renderer, ticket: Ticket, accounts: list[dict],
                scope: EntityScope, who: str, recipient: str, risks: list[str]) -> Decided:
    """One single-use link per account to the legal representative, no
    password anywhere; the person applies it on the link page
    (web/linkuse.py), which resolves the ticket when every account's link
    is used. Nothing is applied now, so there is no claim, and nothing is
    learned yet (staff/completion.py says why)."""
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
