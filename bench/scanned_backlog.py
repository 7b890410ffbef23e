"""A backlog of scanned requests cleared by one ``run --once``, against bare Tesseract.

    .venv/bin/python bench/scanned_backlog.py [--count 100] [--chunks N] [--no-serial]

Draws COUNT of the project's generated scanned requests (tests/scans.py
``request(seed)``: a signed form scan, the Excel form and an acta scan,
each scan one page), then, on the same pages, side by side in one run:

- bare Tesseract: the ``tesseract`` command on each page image as the
  helpdesk receives it (a PDF scan's embedded JPEG decoded and saved as PNG
  at its dpi, since the CLI reads no PDF), the same data and mode as
  bench/ocr.py (``-l spa --psm 3 -c tessedit_do_invert=0``,
  OMP_THREAD_LIMIT=1), the model loaded once per process (a list file):
  * serial: one process over every page, alone on the machine: the bare
    time per page (skipped with --no-serial; then the parallel figure's
    per-page time is used);
  * parallel: one process per core, the pages dealt round-robin, a
    request's two pages in turn (form then acta, then acta then form), so
    no process gets every form and another every, denser, acta: the wall
    time bare Tesseract itself needs for the pages on every core;
- ours: every request dropped into a Maildir inbox, then one
  ``helpdesk --config CFG run --once`` (start-up, intake and acks, the
  examination on every core, the verdicts written to a file outbox) timed
  wall to wall.

The two are timed chunk by chunk (``--chunks``, by default one per 200
requests), alternating which goes first, and summed: on a shared machine
the noise of a minute falls on both, where two 10-minute phases one after
the other had given bare Tesseract 587 s and 760 s for the same pages. Our
side then pays its start-up once per chunk (about 1 s each), into the
desk the last chunk left.

The issue's target: the backlog clears within 1.15 x (pages x bare
Tesseract time per page / cores). Prints the figures and the ratio.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import harness
import scanned_request

from tests import scans  # harness put the repo on sys.path


def page_file(s: scans.Scan, folder: Path, stem: str) -> Path:
    """The scan's page as a file the tesseract CLI reads, the same pixels."""
    from PIL import Image

    if s.capture.fmt != "pdf":
        path = folder / f"{stem}.{'png' if s.capture.fmt == 'png' else 'jpg'}"
        path.write_bytes(s.data)
        return path
    # Pillow's image-only PDF: one DCTDecode stream, the JPEG as it was encoded.
    img = Image.open(io.BytesIO(s.data[s.data.index(b"\xff\xd8\xff"):]))
    img.load()
    path = folder / f"{stem}.png"
    img.save(path, dpi=(s.capture.dpi, s.capture.dpi))
    return path


def tesseract_args(tessdata: str) -> list[str]:
    return ["-l", "spa", "--psm", "3", "--tessdata-dir", tessdata, "-c", "tessedit_do_invert=0"]


def bare(files: list[Path], processes: int, tessdata: str, work: Path) -> tuple[float, list[float]]:
    """(wall seconds, [each process's seconds]) for ``processes`` tesseract
    processes at once, the pages dealt round-robin."""
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    work.mkdir(parents=True, exist_ok=True)
    running = []
    started = time.perf_counter()
    for n in range(processes):
        listing = work / f"list{processes}-{n}.txt"
        listing.write_text("".join(f"{f}\n" for f in files[n::processes]))
        proc = subprocess.Popen(["tesseract", str(listing), str(work / f"out{processes}-{n}"), *tesseract_args(tessdata)],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        running.append(proc)
    each = []
    for proc in running:
        if proc.wait() != 0:
            raise SystemExit(f"tesseract exited {proc.returncode}")
        each.append(time.perf_counter() - started)
    return time.perf_counter() - started, each


def ours_on(chunk: list, root: Path, config: Path, log) -> float:
    """Wall seconds of one ``run --once`` over ``chunk`` dropped into the desk's inbox."""
    for r in chunk:
        scanned_request.deliver(root / "inbox", f"{r.seed:06d}.bench", scanned_request.raw_request(r))
    return scanned_request.run_once(config, log)


def without_verdict(root: Path) -> list[str]:
    """The tickets no verdict email answers: radicado, subject, state, findings."""
    import sqlite3

    answered = set()
    for f in (root / "outbox").glob("*-*.eml"):
        if f.stem.split("-", 1)[1] in scanned_request.VERDICTS:
            answered.add(email_radicado(f))
    with sqlite3.connect(root / "helpdesk.db") as db:
        rows = db.execute("SELECT t.id, t.radicado, t.subject, t.state, "
                          "(SELECT group_concat(f.severity || ':' || f.code) FROM findings f WHERE f.ticket_id = t.id) "
                          "FROM tickets t").fetchall()
    return [f"{radicado} {subject!r} state={state} findings={found}"
            for _id, radicado, subject, state, found in rows if radicado not in answered]


def email_radicado(path: Path) -> str:
    import email
    import email.policy

    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)
    return message.get("X-Helpdesk-Radicado") or message["Message-ID"].split(".", 1)[-1].split("@")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--chunks", type=int, default=0,
                        help="time both sides chunk by chunk, alternating (default: one chunk per 200 requests)")
    parser.add_argument("--no-serial", action="store_true", help="skip bare Tesseract's one-process run")
    parser.add_argument("--keep", type=Path, help="put the desk (database, outbox, log) in this new folder and leave it")
    harness.add_source_argument(parser)
    args = parser.parse_args()
    harness.use_source(args.source)
    from helpdesk.documents.ocr import engine

    cores = os.cpu_count() or 1
    tessdata = engine.tessdata_folder()
    drawn = time.perf_counter()
    requests = scans.requests([(seed, "") for seed in range(args.first_seed, args.first_seed + args.count)])
    drawn = time.perf_counter() - drawn
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "pages").mkdir()
        # A request's pages in turn, form first then acta first: dealt
        # round-robin, each process gets both kinds.
        files = [page_file(s, work / "pages", f"{r.seed}-{s.what}")
                 for n, r in enumerate(requests) for s in ((r.form, r.acta) if n % 2 == 0 else (r.acta, r.form))]
        pages = len(files)

        serial = None
        if not args.no_serial:
            serial, _ = bare(files, 1, tessdata, work)

        root = args.keep or work / "desk"
        root.mkdir(parents=True)
        config = scanned_request.write_config(root)
        harness.helpdesk_command(config)  # compile before the clock
        chunks = args.chunks or max(1, args.count // 200)
        size = -(-args.count // chunks)
        parallel, each, ours, rounds = 0.0, [0.0] * cores, 0.0, []
        with open(root / "helpdesk.log", "w") as log:
            for c in range(chunks):
                start = c * size
                chunk = requests[start:start + size]
                if not chunk:
                    break
                chunk_files = files[2 * start:2 * (start + len(chunk))]  # two pages a request
                if c % 2 == 0:
                    wall, times = bare(chunk_files, cores, tessdata, work / f"bare{c}")
                    mine = ours_on(chunk, root, config, log)
                else:
                    mine = ours_on(chunk, root, config, log)
                    wall, times = bare(chunk_files, cores, tessdata, work / f"bare{c}")
                parallel += wall
                each = [a + b for a, b in zip(each, times)]
                ours += mine
                rounds.append((len(chunk), wall, mine))
        sent = scanned_request.kinds(root / "outbox", set())
        counts = {k: sent.count(k) for k in sorted(set(sent))}
        unanswered = without_verdict(root)

    per_page = serial / pages if serial is not None else sum(each) / pages
    target = 1.15 * pages * per_page / cores
    print(f"command        : {' '.join(harness.helpdesk_command(Path('CFG'), 'run', '--once'))}  "
          f"(Maildir inbox, file outbox; {len(rounds)} run{'s' if len(rounds) > 1 else ''}, one per chunk)")
    print(f"code measured  : {harness.describe_source()}")
    cli = subprocess.run(["tesseract", "--version"], capture_output=True, text=True, check=True).stdout.split()[1]
    print(f"machine        : {cores} cores; tesseract CLI {cli}, data {tessdata}")
    print(f"backlog        : {args.count} requests (seeds {args.first_seed}-{args.first_seed + args.count - 1}), "
          f"{pages} scanned pages; drawn in {drawn:.1f} s (not timed)")
    if serial is not None:
        print(f"bare tesseract, one process      : {serial:.1f} s ({per_page:.2f} s a page)")
    print(f"bare tesseract, {cores} processes      : {parallel:.1f} s wall (processes {', '.join(f'{t:.1f}' for t in each)} s; "
          f"{sum(each) / pages:.2f} s a page each)")
    if len(rounds) > 1:
        print("chunks         : " + "; ".join(f"{n} requests: bare {b:.1f} s, ours {o:.1f} s ({o / b:.3f})"
                                            for n, b, o in rounds))
    print(f"target 1.15 x pages x t / cores  : {target:.1f} s  (t = {per_page:.2f} s a page, "
          f"{'serial' if serial is not None else 'parallel'})")
    print(f"ours, run --once per chunk       : {ours:.1f} s  ({args.count / ours * 60:.1f} requests a minute)")
    print(f"ratio ours / (pages x t / cores) : {ours / (pages * per_page / cores):.3f}  (target <= 1.15)")
    print(f"ratio ours / bare parallel wall  : {ours / parallel:.3f}")
    print(f"emails written : {counts}")
    for line in unanswered:
        print(f"no verdict     : {line}")
    if counts.get("ack", 0) != args.count or sum(counts.get(k, 0) for k in scanned_request.VERDICTS) != args.count:
        sys.exit("not every request got its ack and its verdict")


if __name__ == "__main__":
    main()
