"""The metrics file: Prometheus text format, for node_exporter's textfile
collector (or any scraper that reads a file).

A file rather than an HTTP endpoint: the daemon opens no port (its unit
allows no listening socket), and the file is still there, with its last
poll time, when the daemon is stuck or down, which is what an alert needs.
It is rewritten atomically (temporary file, rename) after every cycle and
every failed poll, so a scraper never reads half of it.

Counters come from the records (see ``operations/stats.py``): they survive restarts,
so ``rate()`` only sees resets when the database is restored.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path

from ..store import Store, now
from ..web import budgets as web_budgets
from . import stats
from . import status as status_mod


def render(store: Store, office=None, warn_days: int = 3) -> str:
    """The whole exposition, ending with a newline (the format requires it).
    ``office`` (terms/office.py): also the tickets overdue and due soon."""
    at = now()
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[dict, float]]) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            lines.append(f"{name}{{{label_text}}} {_number(value)}" if labels else f"{name} {_number(value)}")

    metric("helpdesk_messages_received_total", "counter", "Inbound messages recorded, by kind.",
           [({"kind": k}, n) for k, n in sorted(stats.inbound_counts(store).items())])
    outgoing = stats.outgoing_counts(store)
    metric("helpdesk_emails_queued_total", "counter", "Outgoing emails queued, by kind.",
           [({"kind": kind}, sum(by_status.values())) for kind, by_status in sorted(outgoing.items())])
    # A gauge: an email moves from pending to sent, so these go down too.
    metric("helpdesk_emails", "gauge", "Outgoing emails by kind and delivery status (pending, sent, failed, bounced).",
           [({"kind": kind, "status": st}, n)
            for kind, by_status in sorted(outgoing.items())
            for st, n in sorted(by_status.items())])
    metric("helpdesk_tickets", "gauge", "Tickets by state.",
           [({"state": s}, n) for s, n in stats.tickets_by_state(store).items()])
    backlog, oldest = stats.outbox_backlog(store)
    metric("helpdesk_outbox_backlog", "gauge", "Outgoing emails waiting for delivery.", [({}, backlog)])
    oldest_age = (at - datetime.fromisoformat(oldest)).total_seconds() if oldest else 0
    metric("helpdesk_outbox_oldest_pending_seconds", "gauge",
           "Age of the oldest email waiting for delivery (0 when none).", [({}, oldest_age)])
    metric("helpdesk_quarantine_open", "gauge", "Messages that could not be processed (helpdesk failed).",
           [({}, stats.quarantine_open(store))])
    metric("helpdesk_examination_pending", "gauge", "Tickets whose documents wait for examination.",
           [({}, stats.examination_pending(store))])
    daemon = status_mod.read(store)
    last_ok = datetime.fromisoformat(daemon.last_poll_ok_at).timestamp() if daemon.last_poll_ok_at else 0
    metric("helpdesk_last_successful_poll_timestamp_seconds", "gauge",
           "Unix time of the last poll of the inbox that succeeded (0: never).", [({}, last_ok)])
    metric("helpdesk_poll_failures_consecutive", "gauge",
           "Failed polls of the inbox since the last success (0 when healthy).",
           [({}, daemon.consecutive_failures)])
    metric("helpdesk_poll_failures_total", "counter", "Failed polls of the inbox (kept across restarts).",
           [({}, daemon.total_failures)])
    # helpdesk web's global budgets (web/budgets.py): refusals so far, and
    # which budget refused within the last hour (an attack, or a budget too
    # small for the office).
    refused = web_budgets.refusals(store.conn)
    metric("helpdesk_web_budget_refusals_total", "counter",
           "Self-service requests refused because a global budget of helpdesk web was spent, by budget.",
           [({"budget": b}, n) for b, n in refused.items()])
    recent = web_budgets.exhausted_since(store.conn, at - web_budgets.WINDOW)
    metric("helpdesk_web_budget_exhausted", "gauge",
           "1 when a global budget of helpdesk web refused a request within the last hour, by budget.",
           [({"budget": b}, int(b in recent)) for b in web_budgets.BUDGETS])
    due = None
    if office is not None:
        # The legal terms (CONTRACT 12): alert on the first, watch the second.
        from ..terms.figures import urgency

        try:
            due = urgency(store.conn, office, warn_days, at)
        except Exception:  # monitoring must never stop the mail; the lines are missing, which alerts
            logging.getLogger(__name__).exception("legal terms not counted for the metrics file",
                                                  extra={"event": "metrics_terms_failed"})
    if due is not None:
        metric("helpdesk_tickets_overdue", "gauge",
               "Tickets waiting for a decision past their legal due date (Ley 1755 de 2015).", [({}, due.overdue)])
        metric("helpdesk_tickets_due_soon", "gauge",
               "Tickets waiting for a decision due within [terms] warn_days business days, not yet overdue.",
               [({}, due.due_soon)])
    metric("helpdesk_metrics_generated_timestamp_seconds", "gauge", "Unix time this file was written.",
           [({}, at.timestamp())])
    return "\n".join(lines) + "\n"


def write(store: Store, path: Path, office=None, warn_days: int = 3) -> None:
    text = render(store, office, warn_days)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, 0o644)  # read by a monitoring agent under another user
    os.replace(tmp, path)


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"
