"""Global budgets of the self-service page: lookups, sends and code guesses
an hour, whoever asks.

Per-client and per-identifier limits stop one client and protect one
person; they do not stop many clients over many identifiers (issue 22: 10
guesses an hour on each of 10,000 identifiers take over about two accounts
a day). A budget caps the whole page: past it the page refuses everybody
until the hour slides on. CONTRACT 10 asks the defaults to stop a flood
without stopping an office: at least 1,000 lookups and 200 sends an hour
(``[web] lookups_per_hour``, ``sends_per_hour``, ``guesses_per_hour``).

A refusal is counted in ``web_budgets`` (the metric
``helpdesk_web_budget_refusals_total``, operations/metrics.py), and the
first refusal of each hour logs one WARNING, so an operator learns that
the page is under attack or that the budget is too small for the office.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timedelta

from ..config import Config
from ..store import iso, now
from . import guard

log = logging.getLogger(__name__)

LOOKUP, SEND, GUESS = "lookup", "send", "guess"
BUDGETS = (LOOKUP, SEND, GUESS)
WINDOW = timedelta(hours=1)

# What the operator reads, in the log line.
NAMES = {LOOKUP: "consultas", SEND: "envíos de enlaces y códigos", GUESS: "intentos de código"}


def per_hour(config: Config, budget: str) -> int:
    web = config.web
    return {LOOKUP: web.lookups_per_hour, SEND: web.sends_per_hour, GUESS: web.guesses_per_hour}[budget]


def spend(conn: sqlite3.Connection, config: Config, budget: str) -> bool:
    """Take one from ``budget``; False (and counted, and maybe logged) when
    the hour's budget is spent."""
    limit = per_hour(config, budget)
    if not guard.over_limit(conn, f"budget:{budget}", limit, WINDOW):
        return True
    stamp = now()
    conn.execute("INSERT INTO web_budgets(budget, refused, last_refused_at) VALUES (?, 1, ?) "
                 "ON CONFLICT(budget) DO UPDATE SET refused = refused + 1, last_refused_at = excluded.last_refused_at",
                 (budget, iso(stamp)))
    (warned,) = conn.execute("SELECT warned_at FROM web_budgets WHERE budget = ?", (budget,)).fetchone()
    if warned is None or datetime.fromisoformat(warned) <= stamp - WINDOW:
        conn.execute("UPDATE web_budgets SET warned_at = ? WHERE budget = ?", (iso(stamp), budget))
        log.warning("self-service budget reached: %d %s in the last hour ([web] %s); the page refuses them until "
                    "the hour slides on", limit, NAMES[budget], _key(budget),
                    extra={"event": "web_budget_exhausted", "budget": budget})
    return False


def refusals(conn: sqlite3.Connection) -> dict[str, int]:
    """Refusals so far, by budget (every budget present, 0 when none)."""
    counted = {row[0]: row[1] for row in conn.execute("SELECT budget, refused FROM web_budgets")}
    return {budget: counted.get(budget, 0) for budget in BUDGETS}


def exhausted_since(conn: sqlite3.Connection, since: datetime) -> set[str]:
    """The budgets that refused a request after ``since``."""
    return {row[0] for row in conn.execute("SELECT budget FROM web_budgets WHERE last_refused_at >= ?",
                                           (iso(since),))}


def _key(budget: str) -> str:
    return {LOOKUP: "lookups_per_hour", SEND: "sends_per_hour", GUESS: "guesses_per_hour"}[budget]
