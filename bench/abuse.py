"""The worst messages of the security review, and a legitimate request behind each.

    .venv/bin/python bench/abuse.py [--only TEXT]

Issue 10 found messages that stalled the daemon: 5.9 million empty MIME
parts (2 GB, 287 s), 3,000 nested multiparts with bare-CR line ends (44 s
and 400 MB at every cycle), 30 PDFs of slow text operators (a legitimate
request waited 182 s for its ack). For each abusive message below:

1. a private Dovecot and an SMTP capture start (tests/servers.py) and
   ``helpdesk run`` (the service, IMAP IDLE) connects to them;
2. the abusive message is APPENDed, and once its ack has arrived (intake is
   done, its examination has begun) a legitimate request is APPENDed: a
   real ~685 KB request with the three documents (bench/make_fixtures.py);
3. measured: the legitimate request's ack delay (APPEND to the ack at the
   SMTP capture, Dovecot's 0.5 s IDLE notification delay included); the
   time from the abusive APPEND to its own verdict; the daemon's peak RSS
   (VmHWM of the main process, which holds intake and the examination
   thread) and the document worker's (VmHWM of its processes, sampled
   every 20 ms because a worker killed at its limits cannot report it).

Targets (issue 10): the legitimate ack within 5 s, the daemon under 150 MB.
The exit status is 1 when one is missed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import harness
import make_fixtures
import psutil

from tests import docfiles  # harness put the project on sys.path

SUPPORT = make_fixtures.SUPPORT
ACK_TARGET_SECONDS = 5.0
RSS_TARGET_MB = 150
VERDICTS = ("accepted", "correction")


def _envelope(name: str, content_type: str) -> bytes:
    return (f"From: atacante@dominio-cualquiera.com\r\nTo: {SUPPORT}\r\nSubject: {name}\r\n"
            f"Message-ID: <{name}@dominio-cualquiera.com>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode()


def empty_parts(line_end: bytes, count: int) -> bytes:
    body = (b"--zz" + line_end + line_end) * count + b"--zz--" + line_end
    return _envelope(f"partes-{count}-{len(line_end)}", 'multipart/mixed; boundary="zz"') + body


def nested_bare_cr(depth: int = 3000, padding: int = 8_000_000) -> bytes:
    head = "".join(f'Content-Type: multipart/mixed; boundary="b{n}"\r\r--b{n}\r' for n in range(1, depth))
    filler = (b"A" * 75 + b"\r") * (padding // 76)
    return _envelope("anidado", 'multipart/mixed; boundary="b0"') + b"--b0\r" + head.encode() + b"\r" + filler


def many_pdfs(count: int, make) -> bytes:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = "atacante@dominio-cualquiera.com"
    msg["To"] = SUPPORT
    msg["Subject"] = "actas"
    msg["Message-ID"] = f"<pdfs-{count}-{id(make)}@dominio-cualquiera.com>"
    msg.set_content("Adjunto las actas.")
    for n in range(count):
        msg.add_attachment(make(n), maintype="application", subtype="pdf", filename=f"acta{n}.pdf")
    return msg.as_bytes()


def abusive_messages() -> list[tuple[str, bytes]]:
    return [
        ("5.1 million empty parts, CRLF (41 MB)", empty_parts(b"\r\n", 5_100_000)),
        ("5.9 million empty parts, bare CR (35 MB)", empty_parts(b"\r", 5_900_000)),
        ("3,000 nested multiparts, bare CR (8 MB)", nested_bare_cr()),
        ("30 PDFs of 45,000 '() Tj' operators",
         many_pdfs(30, lambda n: docfiles.slow_pages_pdf(pages=1, operators=45_000 + n))),
        ("30 PDFs of 20 pages x 14,000 operators (the slowest known)",
         many_pdfs(30, lambda n: docfiles.slow_pages_pdf(pages=20, operators=14_000 + n))),
    ]


def message_id_of(raw: bytes) -> str:
    start = raw.index(b"Message-ID: ") + len(b"Message-ID: ")
    return raw[start:raw.index(b"\n", start)].strip().decode()


class PeakMemory:
    """VmHWM of the daemon and the highest of its child processes', sampled every 20 ms."""

    def __init__(self, pid: int):
        self.process = psutil.Process(pid)
        self.main_kb = 0
        self.worker_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.main_kb = max(self.main_kb, _hwm_kb(self.process.pid))
            try:
                children = self.process.children(recursive=True)
            except psutil.Error:
                children = []
            for child in children:
                self.worker_kb = max(self.worker_kb, _hwm_kb(child.pid))
            time.sleep(0.02)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_one(name: str, raw: bytes, legit_n: int, workdir: Path) -> dict:
    with harness.servers(workdir) as (dovecot, smtp):
        config = harness.write_config(workdir / "config.toml", dovecot, smtp)
        log_path = workdir / "helpdesk.log"
        with open(log_path, "wb") as log, harness.Arrivals(smtp) as arrivals:
            proc = harness.start_helpdesk(config, log, "run")
            memory = PeakMemory(proc.pid)
            try:
                deadline = time.monotonic() + 30
                while "connected to IMAP" not in log_path.read_text(errors="replace"):
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise SystemExit(f"the helpdesk did not start:\n{harness.tail(log_path)}")
                    time.sleep(0.05)
                abusive_id = message_id_of(raw)
                started = time.perf_counter()
                dovecot.append(harness.USER, raw)
                if arrivals.wait_reply(("ack",), abusive_id, 600) is None:
                    raise SystemExit(f"{name}: no ack in 600 s\n{harness.tail(log_path)}")
                legit = make_fixtures.request_bytes(legit_n)
                sent_at = time.perf_counter()
                dovecot.append(harness.USER, legit)
                legit_ack = arrivals.wait_reply(("ack",), make_fixtures.message_id(legit_n), 600)
                verdict = arrivals.wait_reply(VERDICTS, abusive_id, 900)
            finally:
                proc.terminate()
                proc.wait(60)
                memory.stop()
    return {
        "name": name,
        "size_mb": len(raw) / 1e6,
        "ack_s": legit_ack[0] - sent_at if legit_ack else None,
        "abusive_s": verdict[0] - started if verdict else None,
        "main_mb": memory.main_kb / 1024,
        "worker_mb": memory.worker_kb / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run only the messages whose name contains this text")
    harness.add_source_argument(parser)
    args = parser.parse_args()
    harness.use_source(args.source)
    print(f"measuring {harness.describe_source()}")
    results = []
    for n, (name, raw) in enumerate(abusive_messages()):
        if args.only not in name:
            continue
        workdir = Path(tempfile.mkdtemp(prefix="helpdesk-abuse-"))
        try:
            results.append(run_one(name, raw, n, workdir))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        r = results[-1]
        print(f"{r['name']}: {r['size_mb']:.1f} MB; legitimate ack after "
              f"{_seconds(r['ack_s'])}; abusive verdict after {_seconds(r['abusive_s'])}; "
              f"daemon peak {r['main_mb']:.0f} MB, worker peak {r['worker_mb']:.0f} MB", flush=True)
    missed = [r["name"] for r in results
              if r["ack_s"] is None or r["ack_s"] > ACK_TARGET_SECONDS or r["main_mb"] > RSS_TARGET_MB]
    print(f"targets: ack within {ACK_TARGET_SECONDS:.0f} s, daemon under {RSS_TARGET_MB} MB: "
          + ("all met" if not missed else "MISSED by " + "; ".join(missed)))
    return 1 if missed else 0


def _seconds(value: float | None) -> str:
    return "none (timed out)" if value is None else f"{value:.2f} s"


if __name__ == "__main__":
    sys.exit(main())
