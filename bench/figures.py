"""Cost of `helpdesk stats` and of the metrics file on a big database.

    .venv/bin/python bench/figures.py [--tickets 20000]

The daemon rewrites the metrics file after every cycle, so its cost is paid
once per IDLE wake-up or poll; `stats` is run by a person. Both read the
records directly (no counters on the side), so this is what grows with the
database. Builds the tickets with bench/retention.py's builder (1 KB raw
files: the files are not read here).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from retention import build  # noqa: E402

from helpdesk.operations import (
    metrics,  # noqa: E402
    stats,  # noqa: E402
)
from helpdesk.store import Store  # noqa: E402


def best_of(runs: int, fn) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-figures-") as tmp:
        store = Store(Path(tmp) / "helpdesk.db", Path(tmp) / "raw")
        build(store, args.tickets, 1)
        outbox = store.one("SELECT count(*) FROM outbox")[0]
        print(f"database: {args.tickets} tickets, {outbox} outbox rows")
        print(f"stats.compute (14 days) : {best_of(5, lambda: stats.compute(store, 14)) * 1000:.1f} ms (best of 5)")
        print(f"stats.compute (365 days): {best_of(5, lambda: stats.compute(store, 365)) * 1000:.1f} ms (best of 5)")
        target = Path(tmp) / "metrics.prom"
        print(f"metrics.write           : {best_of(5, lambda: metrics.write(store, target)) * 1000:.1f} ms (best of 5)")
        store.close()


if __name__ == "__main__":
    main()
