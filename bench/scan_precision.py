"""Both error rates of the scan checks, on generated requests.

    .venv/bin/python bench/scan_precision.py [--count 100] [--flawed N] [--processes 2]

Draws COUNT correct requests and COUNT (or N) flawed ones (tests/scans.py: each
flawed request has one flaw, the flaws in turn), reads their scans with
the real OCR (documents/examine.py, in-process, one process per core) and
runs the reset procedure's checks. Prints:

- false problems: correct requests that got any problem (the figure that
  must stay at 0: each one sends a correct request back to a municipality);
- missed problems: flawed requests without their problem (a staff warning
  such as scan_not_read may still point at them);
- per flaw, how many were caught, and what else was said;
- the measurements the thresholds of examination/scan_checks.py were set
  from: signature ink by what was over the line, page confidences and
  confident words of the pages read.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import scans  # noqa: E402

IGNORED = ("sender_domain_mismatch", "account_domain_mismatch", "account_not_an_address")


def judge(job: tuple[int, str]) -> dict:
    """One request read and checked, in a worker process."""
    from helpdesk.documents.classify import classify_all
    from helpdesk.documents.examine import examine
    from helpdesk.examination import scan_checks
    from helpdesk.examination.checks import Examination, run_checks
    from helpdesk.rules import load_all

    seed, flaw = job
    rules = load_all()
    r = scans.request(seed, flaw=flaw)
    started = time.monotonic()
    files = [examine(name, data, rules) for name, data, _mime in r.attachments()]
    seconds = time.monotonic() - started
    classified, notes = classify_all(files, rules.documents)
    exam = Examination(classified, notes, r.entity.email, [], [])
    found = [f for f in run_checks(exam, rules, rules.procedures["reinicio-claves"].checks) if f.code not in IGNORED]
    pages = []
    for f in files:
        if f.reading is not None:
            confident = sum(w.confidence >= scan_checks.WORD_CONFIDENCE for w in f.reading.words)
            pages += [(p.read, p.confidence, confident) for p in f.reading.pages]
    form = files[0].reading
    ink = form.signature.ink_ppm if form is not None and form.signature and form.signature.found else None
    return {"seed": seed, "flaw": flaw, "seconds": seconds, "signature": r.form.signature,
            "problems": sorted(f.code for f in found if f.severity == "problem"),
            "warnings": sorted(f.code for f in found if f.severity == "warning"),
            "details": [f"{f.code}: {f.detail}" for f in found], "ink": ink, "pages": pages}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--flawed", type=int, help="flawed requests to draw (default: COUNT)")
    args = parser.parse_args()
    flaws = list(scans.FLAWS) + list(scans.WARNING_FLAWS)
    jobs = [(args.first_seed + n, "") for n in range(args.count)]
    flawed_count = args.count if args.flawed is None else args.flawed
    jobs += [(args.first_seed + 5000 + n, flaws[n % len(flaws)]) for n in range(flawed_count)]
    started = time.monotonic()
    with ProcessPoolExecutor(args.processes) as pool:
        results = list(pool.map(judge, jobs, chunksize=2))
    print(f"{len(jobs)} requests in {time.monotonic() - started:.0f} s "
          f"(reading: median {statistics.median(r['seconds'] for r in results):.2f} s a request)")
    correct = [r for r in results if not r["flaw"]]
    flawed = [r for r in results if r["flaw"]]
    false = [r for r in correct if r["problems"]]
    print(f"\nfalse problems: {len(false)} of {len(correct)} correct requests")
    for r in false:
        print(f"  seed {r['seed']}: {r['details']}")
    unread = sum("scan_not_read" in r["warnings"] for r in correct)
    print(f"correct requests with scan_not_read: {unread} of {len(correct)}")
    expected = {**scans.FLAWS, **scans.WARNING_FLAWS}
    missed = [r for r in flawed if r["flaw"] in scans.FLAWS and expected[r["flaw"]] not in r["problems"]]
    with_problem = sum(r["flaw"] in scans.FLAWS for r in flawed)
    print(f"missed problems: {len(missed)} of {with_problem} flawed requests"
          f" ({sum('scan_not_read' in r['warnings'] for r in missed)} of them with scan_not_read for staff)")
    print("\nper flaw: caught / requests (other problems)")
    for flaw in flaws:
        rs = [r for r in flawed if r["flaw"] == flaw]
        code = expected[flaw]
        caught = sum(code in (r["problems"] + r["warnings"]) for r in rs)
        others = collections.Counter(c for r in rs for c in r["problems"] if c != code)
        print(f"  {flaw:<20} {code:<28} {caught}/{len(rs)}  {dict(others) or ''}")
    print("\nsignature ink (ppm) of the signed forms, by what is over the line:")
    by = collections.defaultdict(list)
    for r in results:
        if r["ink"] is not None and r["flaw"] in ("", "form_unsigned"):
            by["none" if r["flaw"] == "form_unsigned" else r["signature"]].append(r["ink"])
    for what, inks in sorted(by.items()):
        print(f"  {what:<9} n={len(inks):<3} min {min(inks):>6}  median {statistics.median(inks):>8.0f}  max {max(inks):>6}")
    read = [p for r in correct for p in r["pages"] if p[0]]
    if read:
        print(f"\npages read of correct requests: {len(read)}; mean confidence min {min(p[1] for p in read)}, "
              f"median {statistics.median(p[1] for p in read):.0f}; confident words min {min(p[2] for p in read)}, "
              f"median {statistics.median(p[2] for p in read):.0f}")


if __name__ == "__main__":
    main()
