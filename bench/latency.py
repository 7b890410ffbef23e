"""Latency from a request landing in the mailbox to its ack, with the daemon idle.

    .venv/bin/python bench/latency.py [--count 100] [--gap 0.3]

The situation measured: the helpdesk runs as a daemon (``helpdesk run``,
IMAP IDLE) and requests arrive one at a time. For each request:

    t0 -> APPEND to INBOX (an already logged-in IMAP connection, as an MTA
          delivering would be) -> Dovecot wakes the daemon's IDLE -> fetch,
          store, ticket, ack -> SMTP -> the capture accepts the ack -> t1

t1 - t0 is what the entity experiences, minus the internet. The ack is
matched to its request by the request's Message-ID in the ack's
References/In-Reply-To, so a late or missing ack can never be mistaken for
another one. Requests are sent ``--gap`` seconds after the previous ack (a
busy but not saturated mailbox); meanwhile the daemon examines the
documents, so a request may arrive while the previous one is still being
examined -- that is part of the measured latency, as it would be in
production. The verdict (accepted/correction) latency is reported too.

Dovecot itself holds back IDLE notifications for 500 ms after a change
(NOTIFY_DELAY_MSECS in its lib-storage/mailbox-watch.c, not configurable),
so ~500 ms of every figure is the server's; the helpdesk's own share is
the rest.

One warm-up request goes first and is reported apart: the first message
also pays for the first IMAP fetch and starting the document worker.
At the end the daemon gets SIGTERM; its exit code (0 expected) and the
time it took to stop are printed.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import harness
import make_fixtures

VERDICTS = ("accepted", "correction")


def wait_for_log(path: Path, text: str, proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text(errors="replace"):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def summary(values: list[float]) -> str:
    if not values:
        return "none"
    return (f"p50 {ms(harness.percentile(values, 50))}, p95 {ms(harness.percentile(values, 95))}, "
            f"max {ms(max(values))}, min {ms(min(values))}  (n={len(values)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100, help="requests to time (default 100)")
    parser.add_argument("--gap", type=float, default=0.3, help="seconds between an ack and the next request")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for one ack")
    parser.add_argument("--log", type=Path, help="copy the daemon's log here (to explain an outlier)")
    harness.add_source_argument(parser)
    args = parser.parse_args()
    harness.use_source(args.source)

    # Built before anything is timed: request 0 is the warm-up.
    requests = [make_fixtures.request_bytes(n) for n in range(args.count + 1)]
    workdir = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    ack_latency: list[float] = []
    sent_at: dict[int, float] = {}
    problems: list[str] = []
    slowest: list[tuple[float, int, str]] = []  # (latency, request, UTC time of its ack)
    try:
        with harness.servers(workdir) as (dovecot, smtp), harness.Arrivals(smtp) as arrivals:
            helpdesk_dir = workdir / "helpdesk"
            helpdesk_dir.mkdir()
            config = harness.write_config(helpdesk_dir / "config.toml", dovecot, smtp)
            log_path = helpdesk_dir / "helpdesk.log"
            log = open(log_path, "wb")
            daemon = harness.start_helpdesk(config, log, "run")
            try:
                if not wait_for_log(log_path, "connected to IMAP", daemon, 30):
                    print("the daemon did not connect:\n" + harness.tail(log_path))
                    return 1
                with dovecot.client(harness.USER, timeout=60) as conn:
                    for n, raw in enumerate(requests):
                        mid = make_fixtures.message_id(n)
                        t0 = time.perf_counter()
                        conn.append("INBOX", raw)
                        got = arrivals.wait_reply(("ack",), mid, args.timeout)
                        if got is None:
                            problems.append(f"no ack for request {n} within {args.timeout:.0f} s")
                            break
                        sent_at[n] = t0
                        if n == 0:
                            warmup = got[0] - t0
                        else:
                            ack_latency.append(got[0] - t0)
                            slowest.append((got[0] - t0, n, time.strftime("%H:%M:%S", time.gmtime())))
                        time.sleep(args.gap)
                # Verdicts come after the examination; give the last ones time.
                verdict_latency = []
                for n, t0 in sent_at.items():
                    got = arrivals.wait_reply(VERDICTS, make_fixtures.message_id(n), args.timeout)
                    if got is None:
                        problems.append(f"no verdict for request {n}")
                    elif n > 0:
                        verdict_latency.append(got[0] - t0)
            finally:
                stop_started = time.perf_counter()
                if daemon.poll() is None:
                    daemon.send_signal(signal.SIGTERM)
                try:
                    exit_code = daemon.wait(60)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    exit_code = f"{daemon.wait()} (killed after 60 s without stopping)"
                stop_seconds = time.perf_counter() - stop_started
                log.close()
            kinds = {k: arrivals.count(k) for k in ("ack", *VERDICTS)}
            log_tail = harness.tail(log_path)
            if args.log:
                shutil.copyfile(log_path, args.log)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    size = len(requests[-1]) / 1024
    print(f"command       : {' '.join(harness.helpdesk_command(Path('CFG'), 'run'))}  (IMAP IDLE daemon)")
    print(f"code measured : {harness.describe_source()}")
    print(f"requests      : {args.count} timed + 1 warm-up, {size:.0f} KB each, {args.gap} s after each ack")
    if sent_at:
        print(f"warm-up ack   : {ms(warmup)}")
    print(f"ack latency   : {summary(ack_latency)}")
    print("                (includes Dovecot's fixed 500 ms IDLE notification delay)")
    print(f"verdict       : {summary(verdict_latency) if sent_at else 'none'}  (APPEND -> accepted/correction email)")
    if slowest:
        print("slowest       : " + ", ".join(f"#{n} {ms(t)} (ack {when} UTC)" for t, n, when in sorted(slowest)[-3:][::-1]))
    print(f"captured      : {', '.join(f'{k} {v}' for k, v in kinds.items())}")
    print(f"SIGTERM       : exit code {exit_code}, stopped in {ms(stop_seconds)}")
    if exit_code != 0:
        problems.append(f"daemon exit code {exit_code}")
    if problems:
        print("PROBLEMS: " + "; ".join(problems))
        print(f"--- end of the daemon log ---\n{log_tail}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
