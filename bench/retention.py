"""Cost of the daily retention run on a big database.

    .venv/bin/python bench/retention.py [--tickets 20000] [--kb 16] [--outbox-days 0]

Builds TICKETS tickets straight into the real schema (intake is not what is
measured): 60 % closed 400 days ago, 20 % closed 30 days ago, 20 % still
open, each with one or two inbound messages whose raw file (KB kilobytes,
unique bytes) is in the raw store, and an ack and a verdict in the outbox;
plus one robot message tied to no ticket per ten tickets, half of them old.
Then prints the time of ``retention.plan`` and ``retention.apply`` (and how
long the write lock was held, during which the daemon cannot commit) for
the first run (everything due at once, as right after an upgrade) and for
the next run (nothing due: what the daemon pays every day).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpdesk.config import from_dict  # noqa: E402
from helpdesk.operations import retention  # noqa: E402
from helpdesk.store import Store, iso, now  # noqa: E402


def build(store: Store, tickets: int, kb: int) -> tuple[int, int]:
    """Fill the store; return (raw files, bytes) written."""
    rng = random.Random(42)
    old, recent, fresh = (iso(now() - timedelta(days=d)) for d in (400, 30, 1))
    files = size = 0

    def raw_file() -> str:
        nonlocal files, size
        data = rng.randbytes(kb * 1024)
        digest = hashlib.sha256(data).hexdigest()
        path = store.raw_path(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)  # no fsync: building the fixture is not what is measured
        files += 1
        size += len(data)
        return digest

    with store.transaction() as conn:
        for n in range(1, tickets + 1):
            share = n % 10
            state, stamp = (("resolved" if n % 2 else "rejected", old) if share < 6 else
                            ("resolved", recent) if share < 8 else ("needs_correction", fresh))
            ticket_id = conn.execute(
                "INSERT INTO tickets(radicado, state, sender, requester, subject, created_at, updated_at) "
                "VALUES (?, ?, 'a@b.gov.co', 'a@b.gov.co', 'Solicitud', ?, ?)",
                (f"GEL-2025-{n:06d}", state, stamp, stamp),
            ).lastrowid
            for m in range(1 + (n % 2)):
                conn.execute(
                    "INSERT INTO messages(direction, dedup_key, message_id, sha256, ticket_id, kind, at) "
                    "VALUES ('in', ?, ?, ?, ?, ?, ?)",
                    (f"mid:<{n}.{m}@b>", f"<{n}.{m}@b>", raw_file(), ticket_id, "reply" if m else "request",
                     stamp),
                )
            for kind in ("ack", "accepted"):
                body = rng.randbytes(6 * 1024)
                conn.execute(
                    "INSERT INTO outbox(ticket_id, kind, message_id, mail_from, rcpt_to, raw, status, next_attempt_at, "
                    "deadline, created_at, sent_at, fingerprint) VALUES (?, ?, ?, 's@e.gov.co', 'a@b.gov.co', ?, "
                    "'sent', ?, ?, ?, ?, ?)",
                    (ticket_id, kind, f"<{kind}.{n}@e>", body, stamp, stamp, stamp, stamp,
                     hashlib.sha256(body).hexdigest()),
                )
            if n % 10 == 0:
                conn.execute(
                    "INSERT INTO messages(direction, dedup_key, message_id, sha256, ticket_id, kind, at) "
                    "VALUES ('in', ?, ?, ?, NULL, 'auto_reply', ?)",
                    (f"mid:<robot.{n}@x>", f"<robot.{n}@x>", raw_file(), old if n % 20 else fresh),
                )
    return files, size


def timed(label: str, store: Store, config) -> None:
    locked = []
    transaction = store.transaction

    @contextlib.contextmanager
    def measured():
        began = time.perf_counter()
        with transaction() as conn:
            yield conn
        locked.append(time.perf_counter() - began)

    store.transaction = measured
    start = time.perf_counter()
    plan = retention.plan(store, config, now())
    planned = time.perf_counter()
    report = retention.apply(store, config, plan)
    done = time.perf_counter()
    print(f"{label:<28}: plan {planned - start:6.2f} s, apply {done - planned:6.2f} s, total {done - start:6.2f} s; "
          f"{len(report.items)} item(s) from {report.tickets} ticket(s), {report.bytes / 1e6:.0f} MB; "
          f"write lock held {sum(locked):.2f} s")
    del store.transaction


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=20000)
    parser.add_argument("--kb", type=int, default=16, help="size of each raw message")
    parser.add_argument("--outbox-days", type=int, default=0, help="[retention] outbox_days (0 keeps the bodies)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = from_dict({"storage": {"database": "helpdesk.db"},
                            "retention": {"outbox_days": args.outbox_days}}, Path(tmp) / "config.toml")
        store = Store(config.database_path, config.raw_dir)
        start = time.perf_counter()
        files, size = build(store, args.tickets, args.kb)
        print(f"{args.tickets} tickets, {files} raw files ({size / 1e6:.0f} MB), built in "
              f"{time.perf_counter() - start:.1f} s; database {os.path.getsize(config.database_path) / 1e6:.0f} MB")
        timed("first run (all due at once)", store, config)
        timed("next run (nothing due)", store, config)
        store.close()


if __name__ == "__main__":
    main()
