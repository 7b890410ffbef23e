"""Shared fixtures: configs written as real TOML files, and a helpdesk
running on the embedded defaults (Maildir inbox, file outbox, SQLite)."""

from __future__ import annotations

import email
import email.policy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpdesk import config as config_mod
from helpdesk.daemon import Daemon
from helpdesk.store import Store

from . import cli_zygote
from .mails import SUPPORT

ROOT = Path(__file__).resolve().parent.parent


def run_helpdesk(*args, cwd=None, env: dict | None = None, input_text: str | None = None,
                 timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m helpdesk ARGS`` in a process of its own, as a user runs it,
    with this checkout's code: forked from a process that already imported
    helpdesk (tests/cli_zygote.py), or a fresh interpreter when the
    environment changes what Python reads at start."""
    argv = [str(a) for a in args]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    if cli_zygote.usable(full_env):
        return cli_zygote.run(argv, cwd, full_env, input_text, timeout)
    return subprocess.run([sys.executable, "-m", "helpdesk", *argv], capture_output=True,
                          text=True, cwd=cwd, input=input_text, timeout=timeout, env=full_env)


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):  # an inline table: [procedures] prueba = { addresses = [...] }
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value), ensure_ascii=False)


def write_config(path: Path, sections: dict[str, dict]) -> Path:
    lines = []
    for section, keys in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in keys.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def rules_with_worker(target: Path, **worker: int) -> Path:
    """A copy of the shipped rules in ``target`` whose [worker] limits
    (rules/documents.toml) are replaced by ``worker``; the folder for
    ``[rules] path``."""
    import re

    from helpdesk.rules import RULES_DIR

    shutil.copytree(RULES_DIR, target, dirs_exist_ok=True)
    documents = target / "documents.toml"
    text = documents.read_text(encoding="utf-8")
    for key, value in worker.items():
        text, found = re.subn(rf"(?m)^{key} = \d+", f"{key} = {value}", text)
        assert found == 1, key
    documents.write_text(text, encoding="utf-8")
    return target


def embedded_sections(**overrides: dict) -> dict[str, dict]:
    sections = {
        "inbox": {"source": "maildir", "path": "inbox", "poll_seconds": 1},
        "smtp": {"transport": "file", "path": "outbox", "from_address": SUPPORT,
                 "from_name": "Equipo de Gobierno en línea"},
        "storage": {"database": "helpdesk.db"},
        "radicado": {"prefix": "GEL"},
    }
    for section, keys in overrides.items():
        sections.setdefault(section, {}).update(keys)
    return sections


def maildir_deliver(inbox: Path, raw: bytes) -> Path:
    """Drop a message in a Maildir the way an MTA does: write in tmp/, rename into new/."""
    for sub in ("tmp", "new", "cur"):
        (inbox / sub).mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns()}.test"
    (inbox / "tmp" / name).write_bytes(raw)
    (inbox / "tmp" / name).rename(inbox / "new" / name)
    return inbox / "new" / name


class Embedded:
    """A helpdesk on a Maildir inbox and a file outbox under tmp_path."""

    def __init__(self, root: Path, **overrides: dict):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.config_path = write_config(root / "config.toml", embedded_sections(**overrides))
        self.config = config_mod.load(self.config_path)
        self.store = Store(self.config.database_path, self.config.raw_dir)
        self.daemon = Daemon(self.config, self.store)
        _WORKERS.lend(self.daemon)

    def deliver(self, raw: bytes) -> Path:
        return maildir_deliver(self.root / "inbox", raw)

    def run_once(self):
        return self.daemon.run_once()

    def sent(self) -> list[email.message.EmailMessage]:
        files = sorted((self.root / "outbox").glob("*.eml"))
        return [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]

    def sent_raw(self) -> list[bytes]:
        return [f.read_bytes() for f in sorted((self.root / "outbox").glob("*.eml"))]

    def kinds(self) -> list[str]:
        """X-Helpdesk-Kind of every email sent, in order."""
        return [m["X-Helpdesk-Kind"] for m in self.sent()]

    def acks(self) -> list[email.message.EmailMessage]:
        return [m for m in self.sent() if m["X-Helpdesk-Kind"] == "ack"]

    def acks_raw(self) -> list[bytes]:
        return [raw for raw, m in zip(self.sent_raw(), self.sent()) if m["X-Helpdesk-Kind"] == "ack"]

    def count(self, sql: str, params=()) -> int:
        return self.store.one(sql, params)[0]


# -- one build of the package for the whole run -----------------------------

# Not part of the package; a developer's checkout may hold large ones (a
# benchmark's venv, its cached fixtures).
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "var", "build", "*.egg-info", "__pycache__",
                                    ".pytest_cache", ".cache", ".ruff_cache", ".peer-venv")


@dataclass(frozen=True)
class PackageBuild:
    """A copy of this checkout taken once for the run, and the wheel built from it."""

    source: Path
    wheel: Path


def _run_shared_dir(tmp_path_factory) -> Path:
    """A folder every xdist worker of this run sees (the parent of the
    workers' own base folders), or the run's own without xdist."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def copy_checkout(target: Path) -> None:
    """The checkout's files as a clone would have them, with uncommitted edits:
    git's tracked and untracked-but-not-ignored files; without git, all but
    NOT_COPIED."""
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, timeout=60)
    if listed.returncode != 0:
        shutil.copytree(ROOT, target, ignore=NOT_COPIED, symlinks=True)
        return
    for name in sorted({n for n in listed.stdout.decode().split("\0") if n}):
        source = ROOT / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree, not yet in a commit
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name, follow_symlinks=False)


def pip(python: Path | str, *args: str, timeout: float = 540) -> None:
    """``python -m pip ARGS``, quietly; its output is the failure's message."""
    result = subprocess.run([str(python), "-m", "pip", *args, "--quiet", "--disable-pip-version-check"],
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="session")
def package_build(tmp_path_factory) -> PackageBuild:
    """The wheel of this checkout, built once for the whole run and shared by
    every xdist worker (a file lock: the first builds, the others wait):
    tests/test_install.py installs it into a fresh venv, tests/test_deploy.py
    hands it to deploy/install.sh --wheel: two copies and builds instead of
    four (test_install and test_deploy took 67 s of CPU instead of 104 s in
    a run on this checkout). The copy is what install.sh runs from, so an
    edit made here meanwhile is not a new build within the run."""
    import fcntl

    shared = _run_shared_dir(tmp_path_factory)
    folder = shared / "package-build"
    with open(shared / "package-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        wheels = sorted((folder / "dist").glob("helpdesk-*.whl")) if (folder / "done").exists() else []
        if not wheels:
            shutil.rmtree(folder, ignore_errors=True)
            copy_checkout(folder / "src")
            pip(sys.executable, "wheel", "--no-deps", "--wheel-dir", str(folder / "dist"), str(folder / "src"))
            # What the build left in the copy (install.sh leaves it out too).
            shutil.rmtree(folder / "src" / "build", ignore_errors=True)
            for info in (folder / "src").glob("*.egg-info"):
                shutil.rmtree(info)
            wheels = sorted((folder / "dist").glob("helpdesk-*.whl"))
            (folder / "done").touch()
    [wheel] = wheels
    return PackageBuild(folder / "src", wheel)


# -- running in parallel (pytest-xdist, scripts/test) ----------------------

# Modules whose tests change the machine itself (deploy/install.sh as root:
# a system user and group, their own checks of system paths): they run in
# order on one worker, never beside each other.
MACHINE_MODULES = ("test_deploy.py",)


def _shared_fixtures(item: pytest.Item) -> list[str]:
    """The module- or session-scoped fixtures a test takes from its own
    module (a scanned backlog examined once, a built wheel, a worker
    process): the costly set-ups the module shares between its tests."""
    test_module = item.nodeid.split("::", 1)[0]
    shared = []
    for name, definitions in item._fixtureinfo.name2fixturedefs.items():
        definition = definitions[-1]
        if definition.scope in ("module", "package", "session") and definition.baseid == test_module:
            shared.append(name)
    return sorted(shared)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the xdist_group marks (--dist loadgroup)
def pytest_collection_modifyitems(config, items):
    """Group what must not be split between xdist workers: a module that
    changes the machine runs whole on one worker; tests linked by the
    module fixtures they share (directly, or through another test that
    takes two of them) run on one worker, so each is built once."""
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    shared = {}
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        keys = [f"{module}:{name}" for name in _shared_fixtures(item)]
        shared[item.nodeid] = keys
        for key in keys[1:]:
            parent[root(key)] = root(keys[0])
    rank = {}
    for item in items:
        if item.nodeid.split("::", 1)[0].rsplit("/", 1)[-1] in MACHINE_MODULES:
            item.add_marker(pytest.mark.xdist_group("machine"))
            rank[item.nodeid] = 0
        elif keys := shared[item.nodeid]:
            item.add_marker(pytest.mark.xdist_group(root(keys[0])))
            rank[item.nodeid] = 1
        else:
            rank[item.nodeid] = 2
    # The groups first: xdist hands out work in this order, and a group is
    # one long unit (the deploy tests 70 s, the scanned backlog 60 s); dealt
    # late, one worker would run it alone at the end while the others wait.
    # Each group keeps its own order, and so does the rest.
    items.sort(key=lambda item: rank[item.nodeid])


class _GroupSuffix:
    """pytest-xdist 3.8 tells its controller a test's xdist_group by
    appending "@group" to ``item._nodeid``, which pytest 9.2 no longer
    reads (its node ids are structured, ``item._id``): the groups were
    silently ignored (pytest-xdist issue #1386). Once xdist has had its
    turn, the suffix is put where pytest 9.2 reads the id."""

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config, items):
        # xdist sets this option in its workers only, under --dist loadgroup.
        if not getattr(config.option, "loadgroup", False):
            return
        try:
            from _pytest.nodeid import coerce_node_id
        except ImportError:  # an older pytest reads _nodeid, which xdist set
            return
        for item in items:
            names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                            for m in item.iter_markers("xdist_group")})
            suffix = "@" + "_".join(names)
            if names and not item.nodeid.endswith(suffix):
                item._id = coerce_node_id(item.nodeid + suffix)


def pytest_configure(config):
    config.pluginmanager.register(_GroupSuffix(), "helpdesk-xdist-group-suffix")


class _DocumentWorkers:
    """Document workers lent from one test's helpdesk (``Embedded``,
    ``Networked``) to the next test's in this pytest process, as one service
    keeps its worker from one ticket to the next.

    A worker's start (the interpreter, openpyxl, pypdf, pypdfium2 and
    Tesseract's model) was 0.5 s of CPU, paid again by nearly every test
    that examines a request. The worker keeps nothing of a file once its
    facts are sent (worker.py), so the next test's files meet the same
    process a service's next ticket would. It is lent only to a daemon
    whose worker would be started the same way: the same rules folder,
    [documents] config and environment; a test with rules of its own, or
    one that replaces or kills its worker, gets or leaves another.
    """

    # Idle workers kept at most, the oldest closed first: a test with rules
    # of its own leaves a worker no later test can take, and each holds
    # 100-200 MB.
    MAX_IDLE = 2

    def __init__(self):
        self._idle: list[tuple[tuple, object]] = []  # (key, Worker), oldest first
        self._daemons: list[Daemon] = []  # made since the last take_back_all

    @staticmethod
    def _key(daemon: Daemon) -> tuple:
        from helpdesk.documents.worker import worker_environment

        return (str(daemon.config.rules_dir), repr(daemon.config.documents), repr(daemon.rules.documents.worker),
                tuple(sorted(worker_environment().items())))

    def lend(self, daemon: Daemon) -> None:
        self._daemons.append(daemon)
        key = self._key(daemon)
        for n, (idle_key, worker) in enumerate(self._idle):
            if idle_key == key:
                del self._idle[n]
                daemon.worker = worker  # the daemon's own, not started yet, is dropped
                return

    def take_back_all(self) -> None:
        """At the end of a test: the workers of the daemons it made (one it
        closed has none left; one a module fixture keeps gets another)."""
        daemons, self._daemons = self._daemons, []
        for daemon in daemons:
            self.take_back(daemon)

    def take_back(self, daemon: Daemon) -> None:
        from helpdesk.documents.worker import Worker

        worker = daemon.worker
        if worker.pid is None:  # never started, or closed with its daemon
            return
        daemon.worker = Worker(daemon.rules, daemon.config.documents)  # daemon.close() closes this one
        self._idle.append((self._key(daemon), worker))
        while len(self._idle) > self.MAX_IDLE:
            self._idle.pop(0)[1].close()

    def close(self) -> None:
        for _key, worker in self._idle:
            worker.close()
        self._idle.clear()


_WORKERS = _DocumentWorkers()


@pytest.fixture(scope="session", autouse=True)
def _close_lent_workers():
    yield
    _WORKERS.close()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    # Before the fixtures' own teardown, which closes their daemons (and
    # with them the workers).
    _WORKERS.take_back_all()


@pytest.fixture
def embedded(tmp_path) -> Embedded:
    env = Embedded(tmp_path)
    yield env
    env.daemon.close()
    env.store.close()


# -- real servers -------------------------------------------------------

from .servers import DovecotServer, SmtpCapture, dovecot_available  # noqa: E402

USER = "soporte@entidad.gov.co"


@pytest.fixture
def dovecot_dir():
    """A folder for Dovecot's files outside pytest's tmp tree.

    Dovecot's unprivileged processes must traverse every parent folder;
    pytest resets /tmp/pytest-of-USER to mode 0700 whenever a session
    starts, which broke the logins of a run going on at the same time.
    """
    path = Path(tempfile.mkdtemp(prefix="helpdesk-test-dovecot-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def dovecot(dovecot_dir):
    if not dovecot_available():
        pytest.fail("Dovecot is not installed: run scripts/test, which installs dovecot-imapd")
    server = DovecotServer(dovecot_dir)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_server():
    server = SmtpCapture()
    server.start()
    yield server
    server.stop()


def networked_sections(dovecot: DovecotServer, smtp_server: SmtpCapture, **overrides: dict) -> dict[str, dict]:
    sections = {
        "inbox": {"source": "imap", "host": dovecot.host, "port": dovecot.port, "security": "none",
                  "username": USER, "password": dovecot.password(USER), "folder": "INBOX",
                  "processed_folder": "Procesados", "poll_seconds": 2, "connect_timeout": 5.0,
                  "read_timeout": 10.0, "reconnect_max_seconds": 2},
        "smtp": {"transport": "smtp", "host": smtp_server.host, "port": smtp_server.port, "security": "none",
                 "from_address": SUPPORT, "from_name": "Equipo de Gobierno en línea", "timeout": 5.0,
                 "retry_base_seconds": 0.0},
        "storage": {"database": "helpdesk.db"},
        "radicado": {"prefix": "GEL"},
    }
    for section, keys in overrides.items():
        sections.setdefault(section, {}).update(keys)
    return sections


class Networked(Embedded):
    """A helpdesk reading a real Dovecot and sending to a real aiosmtpd."""

    def __init__(self, root: Path, dovecot: DovecotServer, smtp_server: SmtpCapture, **overrides: dict):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.dovecot = dovecot
        self.smtp = smtp_server
        self.config_path = write_config(root / "config.toml", networked_sections(dovecot, smtp_server, **overrides))
        self.config = config_mod.load(self.config_path)
        self.store = Store(self.config.database_path, self.config.raw_dir)
        self.daemon = Daemon(self.config, self.store)
        _WORKERS.lend(self.daemon)

    def deliver(self, raw: bytes) -> None:
        self.dovecot.append(USER, raw)

    def sent(self):
        return [m.message for m in self.smtp.snapshot()]

    def sent_raw(self):
        return [m.data for m in self.smtp.snapshot()]


@pytest.fixture
def networked(tmp_path, dovecot, smtp_server):
    env = Networked(tmp_path / "helpdesk", dovecot, smtp_server)
    yield env
    env.daemon.close()
    env.store.close()


# -- OpenLDAP, for the ldap reset backend -------------------------------

from .ldap_server import SlapdServer, slapd_available  # noqa: E402


@pytest.fixture
def slapd_dir():
    """slapd's files outside pytest's tmp tree (slapd runs as openldap and
    must traverse every parent folder; see conftest.dovecot_dir)."""
    path = Path(tempfile.mkdtemp(prefix="helpdesk-test-slapd-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def slapd_ppolicy(slapd_dir):
    """slapd with the ppolicy overlay and a default policy (must change at
    first login, lock after three failed binds): accounts, unlocks."""
    if not slapd_available():
        pytest.fail("slapd is not installed: run scripts/test, which installs slapd")
    server = SlapdServer(slapd_dir, tls=True, ppolicy=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def slapd(slapd_dir):
    if not slapd_available():
        pytest.fail("slapd is not installed: run scripts/test, which installs slapd")
    server = SlapdServer(slapd_dir, tls=True)
    server.start()
    yield server
    server.stop()
