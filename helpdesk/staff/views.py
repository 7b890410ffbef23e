"""Read-only views of tickets for the CLI: the JSON shapes of CONTRACT §1.

The CLI prints these; tests and scripts read the JSON. Nothing here writes.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from email.utils import getaddresses

from ..addresses import domain_of
from ..config import LimitsConfig
from ..errors import NotFound
from ..intake.authresults import Authentication
from ..intake.robots import Robot
from ..rules import REGISTERED_NAME
from ..store import Store, now
from ..texts import message_text
from ..tickets import PERSON_KINDS, Ticket

SUMMARY_FIELDS = (
    "radicado", "state", "sender", "subject", "entity_name", "entity_nit",
    "legal_rep_name", "legal_rep_email", "created_at", "updated_at",
)


# What staff read as "why" for a message that opened no ticket (`ignored`).
IGNORED_REASONS = {
    "no_sender": "sin una dirección de remitente válida a la cual responder",
    "several_senders": "varias direcciones en el remitente (From): no se sabe a quién responder",
    "auto_reply": "respuesta automática (fuera de oficina, otro sistema de soporte)",
    "bounce": "aviso de entrega fallida que no corresponde a ningún correo nuestro",
    "list": "lista de correo o envío masivo",
    "loop": "correo que ya pasó por esta mesa de ayuda (X-Loop)",
    "own_address": "correo enviado desde nuestra propia dirección",
}
# Of those, the ones a program sent (robots proper); the others a person
# may have written.
AUTOMATIC_REASONS = frozenset(r.value for r in Robot if r not in (Robot.HUMAN, Robot.NO_SENDER))

# Waiting messages `queue` reads and shows per ticket: the newest ones; a
# sender that writes hundreds must not make the queue parse hundreds.
MAX_NEW_MESSAGES = 10


def summary(row) -> dict:
    """A ticket object of CONTRACT §1 from its database row."""
    ticket = Ticket.from_row(row)
    item = {name: getattr(ticket, name) for name in SUMMARY_FIELDS}
    item["procedure"] = ticket.procedure
    item["follow_up"] = bool(row["follow_up"])
    return item


def list_tickets(store: Store, state: str | None = None, procedure: str | None = None) -> list[dict]:
    where, params = [], []
    if state:
        where.append("state = ?")
        params.append(state)
    if procedure:
        where.append("procedure = ?")
        params.append(procedure)
    sql = "SELECT * FROM tickets" + (" WHERE " + " AND ".join(where) if where else "")
    rows = store.query(sql + " ORDER BY created_at DESC, id DESC", params)
    return [summary(r) for r in rows]


def detail(store: Store, radicado: str, limits: LimitsConfig | None = None) -> dict:
    row = store.one("SELECT * FROM tickets WHERE radicado = ?", (radicado.strip().upper(),))
    if row is None:
        raise NotFound(f"no existe el radicado {radicado}")
    ticket = Ticket.from_row(row)
    view = summary(row)
    view["requester"] = ticket.requester
    findings = store.query("SELECT severity, code, detail, document FROM findings WHERE ticket_id = ? ORDER BY id", (ticket.id,))
    form = json.loads(row["form_json"] or "{}")
    view["form"] = dict(form.get("fields", {}))
    # The holder's name the directory lookup returned (CONTRACT §13): apart
    # from the form's fields, since the entity did not write it.
    view["registered_name"] = view["form"].pop(REGISTERED_NAME, None)
    view["accounts"] = accounts_of(form)
    view["examination_pending"] = bool(row["examine_pending"])
    view["documents"] = [
        {
            "filename": d["filename"],
            "kind": d["kind"],
            "counted": bool(d["counted"]),
            "type": d["type"],
            "size": d["size"],
            "error": d["error"],
            "facts": json.loads(d["facts_json"]),
            "findings": [{"severity": f["severity"], "code": f["code"], "detail": f["detail"]}
                         for f in findings if f["document"] == d["filename"]],
        }
        for d in store.query("SELECT * FROM documents WHERE ticket_id = ? ORDER BY id", (ticket.id,))
    ]
    for d in view["documents"]:  # CONTRACT 11: a digitally signed PDF's digital_signature, beside its facts
        if "digital_signature" in d["facts"]:
            d["digital_signature"] = d["facts"].pop("digital_signature")
    for d in view["documents"]:  # CONTRACT 11: what OCR read of a scan, and how it compares with the form
        if "reading" in d["facts"]:
            from ..examination.scan_checks import reading_view

            d["reading"] = reading_view(d["facts"].pop("reading"), d["kind"], view["form"])
    view["problems"] = [_finding(f) for f in findings if f["severity"] == "problem"]
    view["warnings"] = [_finding(f) for f in findings if f["severity"] == "warning"]
    messages = store.query(
        "SELECT m.direction, m.message_id, m.from_addr, m.to_addr, m.subject, m.kind, m.at, m.raw_purged_at, m.sha256, "
        "m.auth_json, o.status, o.last_error "
        "FROM messages m LEFT JOIN outbox o ON m.direction = 'out' AND o.message_id = m.message_id "
        "WHERE m.ticket_id = ? ORDER BY m.id",
        (ticket.id,),
    )
    view["messages"] = [
        {
            "direction": m["direction"],
            "message_id": m["message_id"],
            "from": m["from_addr"],
            "to": m["to_addr"],
            "subject": m["subject"],
            "kind": m["kind"],
            "at": m["at"],
            **({"delivery": m["status"], "delivery_error": m["last_error"]} if m["direction"] == "out"
               else {"raw_purged_at": m["raw_purged_at"],
                     "text": message_text(store, m["sha256"], m["raw_purged_at"], limits),
                     "authentication": _authentication(m["auth_json"], m["from_addr"] or "")}),
        }
        for m in messages
    ]
    # When the retention policy removed the original mail (operations/retention.py):
    # the attachments can no longer be saved, everything else stays.
    view["attachments_purged_at"] = max((m["raw_purged_at"] for m in messages if m["raw_purged_at"]), default=None)
    events = store.query("SELECT at, actor, action, detail FROM events WHERE ticket_id = ? ORDER BY id", (ticket.id,))
    view["events"] = [dict(e) for e in events]
    resets = store.query("SELECT account, backend, ok, error, actor, at FROM resets WHERE ticket_id = ? ORDER BY id",
                         (ticket.id,))
    view["resets"] = [{**dict(r), "ok": bool(r["ok"])} for r in resets]
    view["links"] = link_history(store, ticket.id)
    view["claimed_by"] = row["claimed_by"]
    return view


def _finding(row) -> dict:
    item = {"code": row["code"], "detail": row["detail"]}
    if row["document"]:
        item["document"] = row["document"]
    return item


def queue(store: Store, limits: LimitsConfig | None = None) -> list[dict]:
    """Tickets waiting for a person, oldest first: every ``pending_approval``
    one and every one with a message from the entity that no automatic rule
    answered (``follow_up``, on any state), with what a decision needs."""
    rows = store.query("SELECT * FROM tickets WHERE state = 'pending_approval' OR follow_up = 1 "
                       "ORDER BY created_at, id")
    result = []
    for row in rows:
        item = summary(row)
        form = json.loads(row["form_json"] or "{}")
        warnings = store.query("SELECT code, detail FROM findings WHERE ticket_id = ? AND severity = 'warning' "
                               "ORDER BY id", (row["id"],))
        item["accounts"] = accounts_of(form)
        item["registered_name"] = (form.get("fields") or {}).get(REGISTERED_NAME)  # beside legal_rep_name
        item["warnings"] = [dict(w) for w in warnings]
        item["claimed_by"] = row["claimed_by"]
        item["age_hours"] = round((now() - datetime.fromisoformat(row["created_at"])).total_seconds() / 3600, 1)
        waiting = _waiting(store, row) if row["follow_up"] else []
        item["new_messages_total"] = len(waiting)
        item["new_messages"] = [_new_message(store, m, limits) for m in waiting[-MAX_NEW_MESSAGES:]]
        result.append(item)
    return result


def add_terms(store: Store, office, items: list[dict], now: datetime | None = None) -> dict:
    """CONTRACT 12: every ticket object gets ``due`` (ISO date, null while
    the clock is stopped) and ``business_days_left``; returns each one's
    Standing by radicado, for the screens (helpdesk/terms/office.py)."""
    from ..terms.office import standings

    if not items:
        return {}
    wanted = [i["radicado"] for i in items]
    ids = {r["radicado"]: r["id"] for r in store.query(
        f"SELECT id, radicado FROM tickets WHERE radicado IN ({','.join('?' * len(wanted))})", wanted)}
    found = standings(store.conn, office, list(ids.values()), now)
    result = {}
    for item in items:
        standing = found[ids[item["radicado"]]]
        item.update(standing.json())
        result[item["radicado"]] = standing
    return result


def by_urgency(items: list[dict]) -> list[dict]:
    """Most urgent first (CONTRACT 12): fewest business days left, overdue
    before all; a ticket whose clock is stopped after those; the oldest
    first among equals (the sort is stable)."""
    return sorted(items, key=lambda i: (i.get("business_days_left") is None, i.get("business_days_left") or 0,
                                        i.get("due") or ""))


def _waiting(store: Store, ticket_row) -> list:
    """What the entity wrote since the first message nobody answered
    (``follow_up_since``): automatic emails in between answer none of it."""
    marks = ",".join("?" * len(PERSON_KINDS))
    return store.query(
        "SELECT from_addr, subject, at, sha256, raw_purged_at FROM messages WHERE ticket_id = ? AND direction = 'in' "
        f"AND kind IN ({marks}) AND id >= ? ORDER BY id",
        (ticket_row["id"], *PERSON_KINDS, ticket_row["follow_up_since"] or 0),
    )


def _new_message(store: Store, row, limits: LimitsConfig | None) -> dict:
    return {"from": row["from_addr"], "subject": row["subject"], "at": row["at"],
            "text": message_text(store, row["sha256"], row["raw_purged_at"], limits)}


def _authentication(auth_json: str | None, sender: str) -> dict | None:
    """Our receiving server's results for an inbound message (None: not
    recorded, as for messages of a version before the signal existed)."""
    auth = Authentication.from_json(auth_json)
    if auth is None:
        return None
    return {"checked": auth.checked, "summary": auth.summary(), "warning": auth.verdict(domain_of(sender)),
            "results": [{"method": r.method, "result": r.result, "domain": r.domain} for r in auth.results],
            "foreign_above": list(auth.foreign_above)}


def ignored(store: Store, days: int) -> list[dict]:
    """Inbound messages of the last ``days`` days that opened no ticket, with
    why, newest first. Robots proper (auto-replies, lists, bounces, loops)
    are listed too, marked ``automatic``: a person's message misjudged as
    automatic must be findable, and the mark lets a reader skip the rest."""
    since = (now() - timedelta(days=days)).isoformat(timespec="seconds")
    rows = store.query("SELECT id, from_addr, subject, kind, at FROM messages WHERE direction = 'in' "
                       "AND ticket_id IS NULL AND at >= ? ORDER BY id DESC", (since,))
    result = []
    for r in rows:
        reason = _ignored_reason(r["kind"], r["from_addr"] or "")
        result.append({"id": r["id"], "from": r["from_addr"], "subject": r["subject"], "at": r["at"],
                       "reason": reason, "why": IGNORED_REASONS.get(reason, reason),
                       "automatic": reason in AUTOMATIC_REASONS})
    return result


def _ignored_reason(kind: str, shown_sender: str) -> str:
    """A message without a usable sender whose From header names several
    addresses is told apart: the person is known, who to answer is not.
    (An "@" inside a display name is not a second address.)"""
    if kind == Robot.NO_SENDER.value and len([a for _name, a in getaddresses([shown_sender]) if "@" in a]) > 1:
        return "several_senders"
    return kind


def outbox_problems(store: Store) -> list[dict]:
    """Emails that failed, bounced or keep being deferred: staff must see them."""
    rows = store.query(
        "SELECT o.id, t.radicado, o.kind, o.rcpt_to, o.status, o.attempts, o.last_error, o.created_at "
        "FROM outbox o LEFT JOIN tickets t ON t.id = o.ticket_id "
        "WHERE o.status IN ('failed', 'bounced') OR (o.status = 'pending' AND o.attempts > 0) ORDER BY o.id"
    )
    return [dict(r) for r in rows]


def accounts_of(form: dict) -> list[dict]:
    """The accounts a ticket concerns: the reset form's table, or the one
    account an account request names (its type: what is asked for)."""
    if form.get("accounts"):
        return form["accounts"]
    fields = form.get("fields") or {}
    if fields.get("account"):
        return [{"type": fields.get("request_type") or "Cuenta", "account": fields["account"]}]
    return []


# What the web audit's events mean, for staff (web/app.py, web/linkuse.py).
LINK_EVENTS = {
    "sent": "enlace enviado", "opened": "enlace abierto", "refused": "contraseña rechazada",
    "failed": "falló el cambio", "used": "usado: contraseña cambiada", "opened_used": "abierto ya usado",
    "opened_expired": "abierto vencido", "opened_replaced": "abierto reemplazado",
}


def link_history(store: Store, ticket_id: int) -> list[dict]:
    """Every link event of a ticket, oldest first: which account, what
    happened, from which client address and when (never a token)."""
    rows = store.query("SELECT event, account, client, detail, at FROM web_events WHERE ticket_id = ? ORDER BY id",
                       (ticket_id,))
    return [{**dict(r), "label": LINK_EVENTS.get(r["event"], r["event"])} for r in rows]
