"""What throughput.py and latency.py share: servers, config, arrival clock.

Both benchmarks run the helpdesk exactly as production does -- the
``helpdesk`` command in its own process, reading a real IMAP server and
sending to a real SMTP server -- using the private servers of the test
suite (tests/servers.py): a throwaway Dovecot and an aiosmtpd capture, both
on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import functools
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # for ``tests.servers``

import make_fixtures  # noqa: E402

from tests.servers import DovecotServer, SmtpCapture  # noqa: E402

USER = make_fixtures.SUPPORT  # the IMAP account the requests are sent to
PASSWORD = "secreto"

# The project's virtualenv when present: the benchmark must run the
# helpdesk with the dependencies it is deployed with.
_VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
PYTHON = str(_VENV_PYTHON) if _VENV_PYTHON.exists() else sys.executable


@contextlib.contextmanager
def servers(workdir: Path) -> Iterator[tuple[DovecotServer, SmtpCapture]]:
    """A private Dovecot (mail under ``workdir``) and an SMTP capture."""
    dovecot = DovecotServer(workdir / "dovecot", users={USER: PASSWORD})
    smtp = SmtpCapture()
    dovecot.start()
    try:
        smtp.start()
        try:
            yield dovecot, smtp
        finally:
            smtp.stop()
    finally:
        dovecot.stop()


def write_config(path: Path, dovecot: DovecotServer, smtp: SmtpCapture) -> Path:
    """A config.toml for the helpdesk against the bench servers.

    The keys are those of tests/conftest.py ``networked_sections``, but with
    the shipped defaults for everything that is a tuning knob (fetch batch,
    timeouts, poll and IDLE intervals): the point is to measure the
    helpdesk as deployed, not as tuned for fast tests. Storage (SQLite
    database and raw messages) lives beside this file.
    """
    return write_desk_config(path, "bench/harness.py", f"""[inbox]
source = "imap"
host = "{dovecot.host}"
port = {dovecot.port}
security = "none"               # loopback only
username = "{USER}"
password = "{PASSWORD}"
folder = "INBOX"
processed_folder = "Procesados"

[smtp]
transport = "smtp"
host = "{smtp.host}"
port = {smtp.port}
security = "none"
from_address = "soporteccc@entidad.gov.co"
from_name = "Equipo de Gobierno en línea"
""")


def write_desk_config(path: Path, writer: str, mailbox: str, replies: str = "") -> Path:
    """A bench desk's config.toml: ``mailbox`` (its [inbox] and [smtp]
    sections), then what every bench desk shares: storage beside the file,
    the measured tree's rules and templates, and a lifted overall cap on
    automatic emails (``replies``: more [replies] keys)."""
    path.write_text(
        f"""# Written by {writer}
{mailbox}
[storage]
database = "helpdesk.db"

[radicado]
prefix = "GEL"

# The measured tree's own (--source): an editable install would otherwise
# serve this working tree's rules and templates to an older helpdesk.
[rules]
path = "{SOURCE / 'rules'}"

[replies]
templates = "{SOURCE / 'templates'}"
{replies}# A desk expecting thousands of requests a day raises the overall cap on
# automatic emails (1,000 by default: a backlog of 5,000 would get 1,000).
daily_cap_total = 1000000
""",
        encoding="utf-8",
    )
    return path


# The tree whose helpdesk package is measured: this working tree unless a
# bench is given --source (e.g. a `git archive` of a commit, to measure a
# known version while the working tree is being edited).
SOURCE = ROOT


def add_source_argument(parser) -> None:
    parser.add_argument("--source", type=Path, default=ROOT,
                        help="directory holding the helpdesk package to measure (default: this working tree)")


def use_source(path: Path) -> None:
    global SOURCE
    SOURCE = path.resolve()
    if not (SOURCE / "helpdesk" / "__init__.py").exists():
        raise SystemExit(f"{SOURCE}: no helpdesk package there")


def describe_source() -> str:
    """Which code is measured: the commit, and whether helpdesk/ has local edits."""
    def git(*args: str) -> str:
        result = subprocess.run(["git", "-C", str(SOURCE), *args], capture_output=True, text=True)
        return result.stdout if result.returncode == 0 else ""

    if not git("rev-parse", "--show-toplevel"):
        return f"{SOURCE} (not a git checkout)"
    # Porcelain lines are "XY path": not stripped, the status may start with a space.
    dirty = [line[3:] for line in git("status", "--porcelain", "--", "helpdesk", "rules", "templates").splitlines()]
    return f"{SOURCE} at {git('rev-parse', '--short', 'HEAD').strip()}" + (
        " + uncommitted changes: " + ", ".join(dirty) if dirty else "")


def helpdesk_command(config: Path, *args: str) -> list[str]:
    _compiled(SOURCE)  # here, before any bench starts its clock
    return [PYTHON, "-m", "helpdesk", "--config", str(config), *args]


@functools.cache
def _compiled(source: Path) -> None:
    """Bytecode as a regular install has it (pip compiles at install): where
    PYTHONDONTWRITEBYTECODE is set (this machine), every start of the
    helpdesk and of each worker compiled its modules again, 0.1 s."""
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(source / "helpdesk")], check=True)


def start_helpdesk(config: Path, log, *args: str) -> subprocess.Popen:
    """``helpdesk --config CONFIG ARGS`` in its own process, output to ``log``.

    cwd is the config's folder, not the repo: ``python -m`` puts the cwd
    first on sys.path, which would override --source."""
    return subprocess.Popen(helpdesk_command(config, *args), stdout=log, stderr=subprocess.STDOUT,
                            env=helpdesk_env(), cwd=config.parent)


def helpdesk_env() -> dict[str, str]:
    # PYTHONPATH comes before the editable install in sys.path, so the
    # chosen tree is what runs, whatever copy the virtualenv points at.
    env = {**os.environ, "PYTHONPATH": str(SOURCE)}
    env.pop("HELPDESK_CRASH_AT", None)  # fault injection of the tests: never here
    return env


class Arrivals:
    """Records when each email reaches the SMTP capture, by kind and thread.

    SmtpCapture keeps the messages but not their arrival times, so a thread
    blocks in ``wait_for`` (woken by the capture's condition variable the
    moment a message is accepted, no polling delay) and stamps each new
    one with ``time.perf_counter()``. Only headers are parsed.
    """

    def __init__(self, smtp: SmtpCapture):
        self.smtp = smtp
        self.seen = 0
        # (perf_counter, X-Helpdesk-Kind, the References header) per email
        self.records: list[tuple[float, str, str]] = []
        self._cond = threading.Condition()
        self._stop = False
        self._parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
        self._thread = threading.Thread(target=self._run, name="arrivals", daemon=True)

    def __enter__(self) -> "Arrivals":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop = True
        self._thread.join()

    def _run(self) -> None:
        while not self._stop:
            if not self.smtp.wait_for(self.seen + 1, timeout=0.2):
                continue
            now = time.perf_counter()
            new = self.smtp.snapshot()[self.seen:]
            stamped = []
            for captured in new:
                headers = self._parser.parsebytes(captured.data)
                stamped.append((now, headers.get("X-Helpdesk-Kind", ""), headers.get("References", "")))
            with self._cond:
                self.seen += len(new)
                self.records.extend(stamped)
                self._cond.notify_all()

    def count(self, kind: str) -> int:
        with self._cond:
            return sum(1 for _t, k, _r in self.records if k == kind)

    def times(self, kind: str) -> list[float]:
        with self._cond:
            return [t for t, k, _r in self.records if k == kind]

    def wait_count(self, kind: str, count: int, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(
                lambda: sum(1 for _t, k, _r in self.records if k == kind) >= count, timeout)

    def wait_reply(self, kinds: tuple[str, ...], message_id: str, timeout: float) -> tuple[float, str] | None:
        """(arrival time, kind) of the first email of ``kinds`` answering ``message_id``."""
        def find():
            for t, k, refs in self.records:
                if k in kinds and message_id in refs:
                    return t, k
            return None

        with self._cond:
            self._cond.wait_for(lambda: find() is not None, timeout)
            return find()


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile; the benches have at most a few thousand values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"
