"""What validating a PDF's digital signatures costs in the document worker.

    .venv/bin/python bench/signatures.py [--rounds N]

For each signed PDF of tests/data/signatures/ (pyHanko's own test files:
a sound signature, an uncovered tail, a document signed twice, a
certification through an intermediate CA) and one signed here with a
throwaway CA (and the same with an update appended after signing):

- ``validate``: documents/signature.py alone, in this process, median of
  N rounds after the first (pyHanko imported once);
- ``examine``: the whole file through a real worker process
  (documents/worker.py, its limits on), median of N rounds;
- the first validation of a fresh process (pyHanko's import).

A signed form costs tens of milliseconds; the worker's own limits
(rules/documents.toml [worker]) bound a hostile one.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = ROOT / "tests" / "data" / "signatures"


def made_here() -> dict[str, bytes]:
    """A form signed with a throwaway CA (tests/test_signatures.py's way), and the same changed after signing."""
    from tests import test_signatures as t

    signed = t.signed_form(t.make_pki())
    return {"firmado aquí (CA de prueba)": signed, "firmado aquí, modificado después": t.append_update(signed)}


def median_ms(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    from helpdesk.documents.signature import validate
    from helpdesk.documents.worker import Worker
    from helpdesk.rules import load_all

    first = subprocess.run(
        [sys.executable, "-c", "import sys, time; sys.path.insert(0, sys.argv[1]); "
         "from helpdesk.documents.signature import validate; t = time.perf_counter(); "
         "validate(open(sys.argv[2], 'rb').read()); print(round((time.perf_counter() - t) * 1000))",
         str(ROOT), str(DATA / "tail-uncovered.pdf")], capture_output=True, text=True, check=True)
    print(f"first validation in a fresh process (pyHanko imported): {first.stdout.strip()} ms")

    files = {p.name: p.read_bytes() for p in sorted(DATA.glob("*.pdf"))}
    files.update(made_here())
    worker = Worker(load_all())
    try:
        worker.examine("warm.pdf", files["tail-uncovered.pdf"])
        print(f"{'file':<44} {'KB':>5} {'validate':>10} {'examine':>10}  result")
        for name, data in files.items():
            validate(data)
            alone = median_ms(lambda: validate(data), args.rounds)
            whole = median_ms(lambda: worker.examine(name, data), args.rounds)
            sig = validate(data)
            result = f"valid={sig.valid} whole={sig.covers_whole_file}" if sig else "sin firma"
            print(f"{name:<44} {len(data) // 1024:>5} {alone:>8.1f}ms {whole:>8.1f}ms  {result}")
    finally:
        worker.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
