"""Cost of the legal terms on a big database (issue 24).

    .venv/bin/python bench/terms.py [--tickets 40000] [--open 0.05]

Builds TICKETS tickets straight into the real schema (the clock's trigger
writes their history as their states change: the share OPEN still open,
half waiting on a correction and half pending, the rest answered), then times what reads the terms
on every use: ``helpdesk tickets --json`` (every ticket's due date), ``queue
--json`` (the pending ones, most urgent first), the metrics' overdue and
due-soon counts, and the daemon's terms step (reminders and withdrawals)
when nothing is due.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpdesk.store import Store, iso, now  # noqa: E402


def build(store: Store, tickets: int, open_share: float) -> None:
    rng = random.Random(24)
    start = now() - timedelta(days=400)
    with store.transaction() as conn:
        for n in range(1, tickets + 1):
            created = start + timedelta(minutes=n * 400 * 24 * 60 // tickets)
            cur = conn.execute(
                "INSERT INTO tickets(radicado, state, sender, requester, subject, procedure, created_at, updated_at) "
                "VALUES (?, 'received', 'a@b.gov.co', 'a@b.gov.co', 's', 'reinicio-claves', ?, ?)",
                (f"GEL-{created.year}-{n:06d}", iso(created), iso(created)))
            steps = {0: ["pending_approval", "resolved"], 1: ["needs_correction"], 2: ["pending_approval"]}
            at = created
            kind = 0 if rng.random() >= open_share else rng.choice((1, 2))
            for state in steps[kind]:
                at += timedelta(hours=rng.randrange(1, 200))
                conn.execute("UPDATE tickets SET state = ?, updated_at = ? WHERE id = ?",
                             (state, iso(at), cur.lastrowid))


def timed(label: str, command: list[str], env: dict) -> None:
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t0
    status = "ok" if done.returncode == 0 else f"exit {done.returncode}: {done.stderr.strip()[:200]}"
    print(f"{label:<34} {elapsed:6.2f} s  ({status})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=40000)
    parser.add_argument("--open", type=float, default=0.05, help="share of tickets still open")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = folder / "config.toml"
        config.write_text('[inbox]\nsource = "maildir"\npath = "inbox"\n[smtp]\ntransport = "file"\npath = "out"\n'
                          'from_address = "soporte@entidad.gov.co"\n[storage]\ndatabase = "h.db"\n')
        store = Store(folder / "h.db", folder / "raw")
        t0 = time.perf_counter()
        build(store, args.tickets, args.open)
        print(f"{args.tickets} tickets built in {time.perf_counter() - t0:.1f} s")
        store.close()
        helpdesk = [sys.executable, "-m", "helpdesk", "--config", str(config)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        timed("helpdesk tickets --json", [*helpdesk, "tickets", "--json"], env)
        timed("helpdesk queue --json", [*helpdesk, "queue", "--json"], env)
        timed("helpdesk stats --json", [*helpdesk, "stats", "--json"], env)
        from helpdesk.config import load
        from helpdesk.outgoing.replies import Renderer
        from helpdesk.rules import load_all
        from helpdesk.terms import clock, figures
        from helpdesk.terms.office import office_of

        loaded = load(config)
        rules = load_all(loaded.rules_dir)
        store = Store(folder / "h.db", folder / "raw")
        office = office_of(loaded, rules.procedures)
        t0 = time.perf_counter()
        urgency = figures.urgency(store.conn, office, loaded.terms.warn_days)
        print(f"{'metrics (overdue, due soon)':<34} {time.perf_counter() - t0:6.2f} s  ({urgency})")
        t0 = time.perf_counter()
        clock.run(store, loaded, Renderer(loaded), rules)
        t1 = time.perf_counter()
        clock.run(store, loaded, Renderer(loaded), rules)
        print(f"{'terms step, first run':<34} {t1 - t0:6.2f} s  (every correction past its month withdrawn)")
        print(f"{'terms step, next run':<34} {time.perf_counter() - t1:6.2f} s  (nothing due)")


if __name__ == "__main__":
    main()
