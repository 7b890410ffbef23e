"""Backlog throughput of ``helpdesk run --once`` over real IMAP and SMTP.

    .venv/bin/python bench/throughput.py [--count 500] [--small] [--keep]
                                         [--profile FILE | --py-spy FILE] [--source DIR]

The situation measured: the helpdesk was down (or the mailbox was just
connected) and COUNT requests are waiting in the INBOX. Each request is a
real ~685 KB email with a scanned signed form, the Excel form and a scanned
acta (bench/make_fixtures.py).

1. A private Dovecot and an SMTP capture start on 127.0.0.1 (tests/servers.py).
2. COUNT requests are APPENDed to INBOX over one IMAP connection. Not timed.
3. ``helpdesk run --once`` runs as a subprocess: it fetches every message,
   stores it, opens a ticket, sends the ack, examines the documents in its
   worker process and sends the verdict (accepted/correction), then exits.
   The clock runs from spawning the process until it has exited AND every
   ack has reached the SMTP capture.
4. Printed: seconds, messages/second, when the first and last ack arrived,
   (for 1000+ requests) the intake and examination rates in each tenth of
   the run, the peak RSS, and the counts from the helpdesk's SQLite
   database. The exit status is non-zero when tickets or sent acks differ
   from COUNT.

Peak RSS is reported three ways. ``wait4`` returns the kernel's
high-water mark (ru_maxrss) of the largest of the helpdesk process and its
reaped children -- the document worker -- and cannot miss a short spike.
psutil samples every 20 ms: the main process alone, and main + worker
summed, which is what the machine must actually hold at once. VmHWM from
/proc, read at each sample, tells which of the two processes the peak is.

``--small`` uses ~70 KB requests (scans at a tenth of the size) for when the
disk cannot hold COUNT x 685 KB twice (Dovecot's copy plus the helpdesk's
raw store); the output says so. ``--profile FILE`` runs the helpdesk under
cProfile and prints its top functions (the worker process is not
profiled: its time shows as the parent waiting on the pipe); ``--py-spy
FILE`` samples it with py-spy (pip install py-spy), cheaper than cProfile
so closer to real proportions, and prints the top functions per process.
py-spy is told to follow subprocesses, but in our runs it recorded no
samples from the document worker: measure that one in-process (its cost
is examine() on each attachment, ~17 ms per request here). ``--source DIR`` measures the helpdesk package
in DIR (e.g. ``git archive COMMIT | tar -x -C DIR``) instead of the
working tree.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from functools import partial
from pathlib import Path

import harness
import make_fixtures
import psutil

MB = 1024 * 1024


class RssSampler(threading.Thread):
    """Memory of a process and its children, sampled every 20 ms.

    ``peak_main`` / ``peak_tree``: highest RSS seen of the process alone and
    of the process plus its children summed. ``hwm_main`` / ``hwm_worker``:
    the kernel's own high-water marks (VmHWM in /proc/PID/status), read at
    each sample, so a spike between two samples is not missed; a child that
    exits between two samples loses its last few ms of history.
    """

    def __init__(self, pid: int, interval: float = 0.02):
        super().__init__(name="rss-sampler", daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak_main = self.peak_tree = 0
        self.hwm_main = self.hwm_worker = 0
        self.done = threading.Event()

    def run(self) -> None:
        try:
            proc = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self.done.is_set():
            try:
                main = proc.memory_info().rss
                self.hwm_main = max(self.hwm_main, _vm_hwm(self.pid))
                tree = main
                for child in proc.children(recursive=True):
                    try:
                        tree += child.memory_info().rss
                        self.hwm_worker = max(self.hwm_worker, _vm_hwm(child.pid))
                    except psutil.NoSuchProcess:
                        pass
            except psutil.NoSuchProcess:
                return  # exited (a zombie still answers; a reaped one does not)
            self.peak_main = max(self.peak_main, main)
            self.peak_tree = max(self.peak_tree, tree)
            self.done.wait(self.interval)


def _vm_hwm(pid: int) -> int:
    """Peak resident set of ``pid`` so far, in bytes (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def check_disk(workdir: Path, count: int, message_bytes: int) -> tuple[bool, str]:
    """Is there room for Dovecot's copy and the helpdesk's raw copy?

    Moving a message to Procesados is a rename inside the Maildir, so the
    need is about twice the mail, plus margin for indexes and the database.
    """
    need = int(count * message_bytes * 2.2) + 512 * MB
    free = shutil.disk_usage(workdir).free
    return free >= need, f"{free / 2**30:.1f} GB free in {workdir}, about {need / 2**30:.1f} GB needed"


def append_requests(dovecot, count: int, small: bool) -> tuple[int, float]:
    """APPEND requests 0..count-1 to INBOX over one connection; (bytes, seconds).

    Building a request with the stdlib email package costs ~25 ms (mostly
    writing base64 lines), as much as Dovecot takes to store it, so the
    building is done by a process pool while this process appends.
    """
    started = time.perf_counter()
    total = 0
    build = partial(make_fixtures.request_bytes, small=small)
    make_fixtures.signed_form_pdf(small), make_fixtures.acta_pdf(small)  # fill the cache before forking
    make_fixtures.form_xlsx(0)
    # "spawn": this process already runs the SMTP capture's threads, and
    # forking a threaded process can copy a lock in its held state.
    workers = max(1, min(4, os.cpu_count() or 2))
    with multiprocessing.get_context("spawn").Pool(workers) as pool, \
            dovecot.client(harness.USER, timeout=60) as conn:
        # Chunk by chunk: the pool builds the next chunk while this one is
        # appended, and at most two chunks of messages sit in memory (an
        # unbounded imap() would let the pool run ahead by gigabytes).
        chunk = workers * 8
        starts = list(range(0, count, chunk))
        pending = pool.map_async(build, range(0, min(count, chunk)))
        for first in starts:
            raws = pending.get()
            if first + chunk < count:
                pending = pool.map_async(build, range(first + chunk, min(count, first + 2 * chunk)))
            for raw in raws:
                conn.append("INBOX", raw)
                total += len(raw)
            done = min(count, first + chunk)
            if done // 500 > first // 500:
                print(f"  appended {done}/{count} ({time.perf_counter() - started:.0f} s)", flush=True)
    return total, time.perf_counter() - started


def db_counts(database: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "tickets": one("SELECT count(*) FROM tickets"),
            "acks sent": one("SELECT count(*) FROM outbox WHERE kind = 'ack' AND status = 'sent'"),
            "accepted sent": one("SELECT count(*) FROM outbox WHERE kind = 'accepted' AND status = 'sent'"),
            "corrections sent": one("SELECT count(*) FROM outbox WHERE kind = 'correction' AND status = 'sent'"),
            "outbox not sent": one("SELECT count(*) FROM outbox WHERE status != 'sent'"),
            "quarantined": one("SELECT count(*) FROM quarantine"),
        }
    finally:
        conn.close()


def run_helpdesk(config: Path, log_path: Path, arrivals: harness.Arrivals, count: int,
                 profile: Path | None, py_spy: Path | None) -> dict:
    """Run ``helpdesk run --once``; time it, sample its memory.

    Under py-spy the measured process is py-spy itself (the helpdesk is its
    child), so the memory figures then include py-spy's own.
    """
    command = harness.helpdesk_command(config, "run", "--once")
    if profile is not None:
        command[1:1] = ["-m", "cProfile", "-o", str(profile)]
    if py_spy is not None:
        # --subprocesses follows the document worker; --idle keeps time
        # spent waiting (IMAP, SMTP, fsync, the worker's pipe) visible.
        command = [str(Path(harness.PYTHON).parent / "py-spy"), "record", "--subprocesses", "--idle",
                   "--rate", "200", "--format", "raw", "--output", str(py_spy), "--", *command]
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        # cwd is not the repo: `python -m` puts the cwd first on sys.path,
        # which would override --source.
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=harness.helpdesk_env(),
                                cwd=config.parent)
        sampler = RssSampler(proc.pid)
        sampler.start()
        # wait4 instead of proc.wait(): it also returns the rusage of the
        # process, whose ru_maxrss covers the worker it reaped.
        _pid, status, rusage = os.wait4(proc.pid, 0)
        exited = time.perf_counter()
        proc.returncode = os.waitstatus_to_exitcode(status)
        sampler.done.set()
        sampler.join()
    # Everything is sent before exit; waiting covers a capture still
    # finishing its last DATA when the client has already gone.
    all_acks = arrivals.wait_count("ack", count, timeout=30)
    finished = time.perf_counter()
    acks = sorted(arrivals.times("ack"))
    return {
        "returncode": proc.returncode,
        "seconds": finished - started,
        "exit_seconds": exited - started,
        "all_acks": all_acks,
        "first_ack": acks[0] - started if acks else None,
        "last_ack": acks[-1] - started if acks else None,
        "ru_maxrss": rusage.ru_maxrss * 1024,  # Linux reports KB
        "peak_main": sampler.peak_main,
        "peak_tree": sampler.peak_tree,
        "hwm_main": sampler.hwm_main,
        "hwm_worker": sampler.hwm_worker,
    }


def rates_by_tenth(log_path: Path, marker: str) -> list[float]:
    """Messages per second in each tenth of the run, from the helpdesk's log.

    Uses the millisecond timestamps of the log lines containing ``marker``
    (" new_ticket " for intake, " examined: " for the documents). Arrivals
    at the SMTP capture cannot be used for this: the outbox is delivered in
    batches, so they come in bursts. A rate falling from the first tenth to
    the last means each message costs more as the database grows. Returns
    [] for short runs or when the log format is not recognised.
    """
    times = []
    for line in log_path.read_text(errors="replace").splitlines():
        if marker in line:
            try:
                stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
            except ValueError:
                continue
            times.append(stamp.timestamp())
    if len(times) < 1000:
        return []
    step = len(times) // 10
    return [(step - 1) / max(times[i + step - 1] - times[i], 1e-9) for i in range(0, step * 10, step)]


def print_profile(path: Path, top: int = 25) -> None:
    import pstats

    for key in ("cumulative", "tottime"):
        print(f"\n--- cProfile of the helpdesk, top {top} by {key} ---")
        pstats.Stats(str(path)).strip_dirs().sort_stats(key).print_stats(top)


def print_collapsed(path: Path, top: int = 25) -> None:
    """Top functions of py-spy's collapsed stacks, per process.

    Each line is "frame;frame;...;leaf COUNT", the first frame naming the
    process. "self" counts samples where the function is the leaf,
    "total" samples where it is anywhere on the stack.
    """
    import collections

    processes: dict[str, list[tuple[list[str], int]]] = collections.defaultdict(list)
    for line in path.read_text(errors="replace").splitlines():
        stack, _sep, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        processes[frames[0]].append((frames[1:], int(count)))
    for process, stacks in processes.items():
        samples = sum(n for _f, n in stacks)
        own: collections.Counter = collections.Counter()
        total: collections.Counter = collections.Counter()
        for frames, n in stacks:
            if frames:
                own[frames[-1]] += n
            for frame in set(frames):
                total[frame] += n
        print(f"\n--- py-spy: {process[:100]}: {samples} samples ---")
        print("  self%  total%  function")
        for frame, n in own.most_common(top):
            print(f"  {100 * n / samples:5.1f}  {100 * total[frame] / samples:6.1f}  {frame[:120]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="requests in the backlog (default 500)")
    parser.add_argument("--small", action="store_true",
                        help="~70 KB requests instead of ~685 KB, when the disk is short")
    parser.add_argument("--profile", type=Path, help="run the helpdesk under cProfile, write stats here")
    parser.add_argument("--py-spy", dest="py_spy", type=Path,
                        help="run the helpdesk under py-spy, write collapsed stacks here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (servers, db, logs)")
    harness.add_source_argument(parser)
    args = parser.parse_args()
    harness.use_source(args.source)

    sample = make_fixtures.request_bytes(0, small=args.small)
    workdir = Path(tempfile.mkdtemp(prefix="bench-throughput-"))
    ok, disk_note = check_disk(workdir, args.count, len(sample))
    print(f"disk: {disk_note}")
    if not ok:
        shutil.rmtree(workdir, ignore_errors=True)
        hint = "" if args.small else " Run again with --small (~70 KB requests) or a smaller --count."
        print(f"NOTE: not enough disk for {args.count} requests of {len(sample) / 1024:.0f} KB.{hint}")
        return 2
    if args.small:
        print("NOTE: --small: requests are ~70 KB (scans at a tenth of their real size), "
              "not the realistic ~685 KB.")

    try:
        with harness.servers(workdir) as (dovecot, smtp), harness.Arrivals(smtp) as arrivals:
            total, append_seconds = append_requests(dovecot, args.count, args.small)
            print(f"appended {args.count} requests ({total / MB:.0f} MB, {total / args.count / 1024:.0f} KB each) "
                  f"in {append_seconds:.1f} s (not timed)")
            helpdesk_dir = workdir / "helpdesk"
            helpdesk_dir.mkdir()
            config = harness.write_config(helpdesk_dir / "config.toml", dovecot, smtp)
            log_path = helpdesk_dir / "helpdesk.log"
            result = run_helpdesk(config, log_path, arrivals, args.count, args.profile, args.py_spy)
            counts = db_counts(helpdesk_dir / "helpdesk.db")
            captured = {kind: arrivals.count(kind) for kind in ("ack", "accepted", "correction")}
            log_tail = harness.tail(log_path)  # read now: the work directory goes away
            rates = {"intake": rates_by_tenth(log_path, " new_ticket "),
                     "examination": rates_by_tenth(log_path, " examined: ")}
    finally:
        if args.keep:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    seconds = result["seconds"]
    size = "small ~70 KB" if args.small else f"{len(sample) / 1024:.0f} KB"
    print()
    print(f"command             : {' '.join(harness.helpdesk_command(Path('CFG'), 'run', '--once'))}"
          + ("  (under cProfile)" if args.profile else "") + ("  (under py-spy)" if args.py_spy else ""))
    print(f"code measured       : {harness.describe_source()}")
    print(f"requests            : {args.count} ({size} each)")
    print(f"exit code           : {result['returncode']}")
    print(f"wall time           : {seconds:.2f} s (process exited at {result['exit_seconds']:.2f} s)")
    print(f"throughput          : {args.count / seconds:.1f} messages/s")
    if result["first_ack"] is not None:
        print(f"acks at SMTP        : first after {result['first_ack']:.2f} s, last after {result['last_ack']:.2f} s")
    for stage, per_tenth in rates.items():
        if per_tenth:
            print(f"{stage + ' by tenths':20}: " + " ".join(f"{r:.1f}" for r in per_tenth) + " messages/s")
    print(f"peak RSS (ru_maxrss): {result['ru_maxrss'] / MB:.1f} MB  (largest single process: helpdesk or its worker)")
    print(f"peak RSS (psutil)   : {result['peak_main'] / MB:.1f} MB helpdesk, "
          f"{result['peak_tree'] / MB:.1f} MB helpdesk + worker (20 ms samples)")
    print(f"peak RSS (VmHWM)    : {result['hwm_main'] / MB:.1f} MB helpdesk, "
          f"{result['hwm_worker'] / MB:.1f} MB worker (kernel high-water marks)")
    print(f"database            : {', '.join(f'{k} {v}' for k, v in counts.items())}")
    print(f"captured by SMTP    : {', '.join(f'{k} {v}' for k, v in captured.items())}")

    problems = []
    if result["returncode"] != 0:
        problems.append(f"helpdesk exited with {result['returncode']}")
    if counts["tickets"] != args.count:
        problems.append(f"tickets {counts['tickets']} != {args.count}")
    if counts["acks sent"] != args.count:
        problems.append(f"acks sent {counts['acks sent']} != {args.count}")
    if captured["ack"] != args.count:
        problems.append(f"acks captured {captured['ack']} != {args.count}")
    if counts["accepted sent"] != args.count:
        # Not a count failure, but every bench request is complete and valid.
        print(f"WARNING: {counts['accepted sent']} accepted of {args.count}: some verdicts differ")
    if args.profile:
        print_profile(args.profile)
    if args.py_spy:
        print_collapsed(args.py_spy)
    if problems:
        print("MISMATCH: " + "; ".join(problems))
        print(f"--- end of the helpdesk log ---\n{log_tail}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
