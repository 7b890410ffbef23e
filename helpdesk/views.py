"""Read-only views of tickets for the CLI: the JSON shapes of CONTRACT §1.

The CLI prints these; tests and scripts read the JSON. Nothing here writes.
"""

from __future__ import annotations

import json
from datetime import datetime

from .errors import NotFound
from .store import Store, now
from .tickets import Ticket

SUMMARY_FIELDS = (
    "radicado", "state", "sender", "subject", "entity_name", "entity_nit",
    "legal_rep_name", "legal_rep_email", "created_at", "updated_at",
)


def summary(ticket: Ticket) -> dict:
    return {name: getattr(ticket, name) for name in SUMMARY_FIELDS}


def list_tickets(store: Store, state: str | None = None) -> list[dict]:
    sql = "SELECT * FROM tickets"
    params: tuple = ()
    if state:
        sql += " WHERE state = ?"
        params = (state,)
    rows = store.query(sql + " ORDER BY created_at DESC, id DESC", params)
    return [summary(Ticket.from_row(r)) for r in rows]


def detail(store: Store, radicado: str) -> dict:
    row = store.one("SELECT * FROM tickets WHERE radicado = ?", (radicado.strip().upper(),))
    if row is None:
        raise NotFound(f"no existe el radicado {radicado}")
    ticket = Ticket.from_row(row)
    view = summary(ticket)
    view["requester"] = ticket.requester
    findings = store.query("SELECT severity, code, detail, document FROM findings WHERE ticket_id = ? ORDER BY id", (ticket.id,))
    form = json.loads(row["form_json"] or "{}")
    view["form"] = form.get("fields", {})
    view["accounts"] = form.get("accounts", [])
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
    view["problems"] = [_finding(f) for f in findings if f["severity"] == "problem"]
    view["warnings"] = [_finding(f) for f in findings if f["severity"] == "warning"]
    messages = store.query(
        "SELECT m.direction, m.message_id, m.from_addr, m.to_addr, m.subject, m.kind, m.at, m.raw_purged_at, "
        "o.status, o.last_error "
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
               else {"raw_purged_at": m["raw_purged_at"]}),
        }
        for m in messages
    ]
    # When the retention policy removed the original mail (retention.py):
    # the attachments can no longer be saved, everything else stays.
    view["attachments_purged_at"] = max((m["raw_purged_at"] for m in messages if m["raw_purged_at"]), default=None)
    events = store.query("SELECT at, actor, action, detail FROM events WHERE ticket_id = ? ORDER BY id", (ticket.id,))
    view["events"] = [dict(e) for e in events]
    resets = store.query("SELECT account, backend, ok, error, actor, at FROM resets WHERE ticket_id = ? ORDER BY id",
                         (ticket.id,))
    view["resets"] = [{**dict(r), "ok": bool(r["ok"])} for r in resets]
    view["claimed_by"] = row["claimed_by"]
    return view


def _finding(row) -> dict:
    item = {"code": row["code"], "detail": row["detail"]}
    if row["document"]:
        item["document"] = row["document"]
    return item


def queue(store: Store) -> list[dict]:
    """Tickets waiting for a staff decision, oldest first, with what a decision needs."""
    rows = store.query("SELECT * FROM tickets WHERE state = 'pending_approval' ORDER BY created_at, id")
    result = []
    for row in rows:
        item = summary(Ticket.from_row(row))
        form = json.loads(row["form_json"] or "{}")
        warnings = store.query("SELECT code, detail FROM findings WHERE ticket_id = ? AND severity = 'warning' "
                               "ORDER BY id", (row["id"],))
        item["accounts"] = form.get("accounts", [])
        item["warnings"] = [dict(w) for w in warnings]
        item["follow_up"] = any(w["code"] == "follow_up" for w in warnings)
        item["claimed_by"] = row["claimed_by"]
        item["age_hours"] = round((now() - datetime.fromisoformat(row["created_at"])).total_seconds() / 3600, 1)
        result.append(item)
    return result


def outbox_problems(store: Store) -> list[dict]:
    """Emails that failed, bounced or keep being deferred: staff must see them."""
    rows = store.query(
        "SELECT o.id, t.radicado, o.kind, o.rcpt_to, o.status, o.attempts, o.last_error, o.created_at "
        "FROM outbox o LEFT JOIN tickets t ON t.id = o.ticket_id "
        "WHERE o.status IN ('failed', 'bounced') OR (o.status = 'pending' AND o.attempts > 0) ORDER BY o.id"
    )
    return [dict(r) for r in rows]
