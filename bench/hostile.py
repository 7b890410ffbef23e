"""Every hostile file: time to verdict and the worker's peak memory.

    .venv/bin/python bench/hostile.py

Each file goes to a fresh worker process (so its peak is its own), through
the same ``Worker`` the daemon uses, with the shipped limits of
rules/documents.toml. The worker's peak resident memory is sampled from
/proc/PID/status (VmHWM) while it works, because a worker killed by its
limits cannot report it. The parent's own RSS is printed before and after:
the daemon must not grow with what its worker decompresses.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpdesk.documents.worker import Worker, WorkerFailure  # noqa: E402
from helpdesk.rules import load_all  # noqa: E402
from tests import docfiles  # noqa: E402


def hostile_files() -> list[tuple[str, str, bytes]]:
    """(what, filename, bytes) of each hostile input."""
    files = [
        ("zip bomb (.xlsx, 200 MB shared strings)", "formato.xlsx", docfiles.zip_bomb_xlsx()),
        ("zip bomb with lying sizes (.xlsx)", "formato.xlsx", docfiles.zip_bomb_lying_sizes_xlsx()),
        ("zip bomb (.ods)", "formato.ods", docfiles.zip_bomb_ods()),
        ("XML bomb, billion laughs (.xlsx)", "formato.xlsx", docfiles.xml_bomb_xlsx()),
        ("PDF decompression bomb", "acta.pdf", docfiles.pdf_decompression_bomb()),
        ("PDF with a page tree loop", "acta.pdf", docfiles.looping_pdf()),
        ("PDF with an xref /Prev loop", "acta.pdf", docfiles.prev_loop_pdf()),
        ("PDF with 200,000 text operators", "acta.pdf", docfiles.slow_text_pdf()),
        ("PDF with an unknown filter", "acta.pdf", docfiles.unknown_filter_pdf()),
        ("PDF, user password", "acta.pdf", docfiles.encrypted_pdf(user_password="secreto")),
        ("PDF, truncated half", "acta.pdf", docfiles.truncated(docfiles.scan_pdf(["ACTA"]))),
        (".xlsx truncated half", "formato.xlsx", docfiles.truncated(docfiles.small_xlsx([["NIT", "1"]]))),
        ("PNG declaring 30000x30000 px", "acta.png", docfiles.huge_image_png()),
        ("zip nested 5 deep", "docs.zip", docfiles.nested_zip(5)),
        ("zip with 5,000 members", "docs.zip", docfiles.many_members_zip(5000)),
        ("zip with a corrupt deflate stream", "docs.zip", docfiles.corrupt_deflate_zip()),
    ]
    files += [(f"extension lies: {name}", name, data) for name, data in docfiles.lying_extension()]
    return files


def rss_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def measure(worker: Worker, filename: str, data: bytes) -> tuple[object, float, int]:
    worker.close()
    worker.examine("warm.pdf", b"%PDF-1.4\n")  # a fresh worker, started outside the timing
    pid = worker.pid
    peak = [rss_kb(pid, "VmHWM")]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_kb(pid, "VmHWM"))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    result = worker.examine(filename, data)
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    return result, elapsed, peak[0]


def main() -> None:
    rules = load_all()
    worker = Worker(rules)
    files = hostile_files()
    parent_before = rss_kb(os.getpid(), "VmRSS")
    print(f"limits: {rules.documents.worker}")
    print(f"{'file':<44} {'size':>9} {'verdict s':>9} {'worker MB':>9}  verdict")
    worst_time = worst_mem = 0.0
    for what, filename, data in files:
        result, elapsed, peak_kb = measure(worker, filename, data)
        if isinstance(result, WorkerFailure):
            verdict = f"worker replaced: {result.reason}"
        elif result.error:
            verdict = result.error
        else:
            verdict = f"READ ({result.type}) — not refused"
        worst_time, worst_mem = max(worst_time, elapsed), max(worst_mem, peak_kb / 1024)
        print(f"{what:<44} {len(data) / 1024:>7.0f}KB {elapsed:>9.2f} {peak_kb / 1024:>9.0f}  {verdict[:70]}")
    good = worker.examine("formato.pdf", docfiles.scan_pdf(["FORMATO DE SOLICITUD"]))
    worker.close()
    parent_after = rss_kb(os.getpid(), "VmRSS")
    print(f"\nworst time to verdict: {worst_time:.2f} s; worst worker peak: {worst_mem:.0f} MB")
    print(f"a normal scan afterwards: {'read' if getattr(good, 'readable', False) else 'FAILED'}")
    print(f"this process (the daemon's side) RSS: {parent_before / 1024:.0f} MB before, {parent_after / 1024:.0f} MB after "
          "(it holds the hostile files it built)")


if __name__ == "__main__":
    main()
