"""Real mail servers for the integration tests.

The helpdesk talks IMAP to fetch requests and SMTP to send replies.  Mocking
those protocols would hide exactly the bugs that matter (UID handling, IDLE,
reconnects after an outage, temporary SMTP failures), so the tests run against
real servers bound to 127.0.0.1 on free ports:

* :class:`DovecotServer` -- a private Dovecot IMAP instance (Debian package
  ``dovecot-imapd``) with its own config, sockets, log and maildirs.
* :class:`SmtpCapture` -- an aiosmtpd SMTP server that records what it
  accepts and can be scripted to reject or stall.

These are plain classes; ``conftest.py`` wraps them in fixtures.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import collections
import contextlib
import dataclasses
import email
import email.message
import email.policy
import grp
import os
import pwd
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import Iterator, Self

HOST = "127.0.0.1"

DEFAULT_USERS = {"soporte@entidad.gov.co": "secreto"}


# Ports handed to the test servers come from a block of their own per
# pytest-xdist worker ("gw0", "gw1", ...; a run without xdist has the first
# block), below Linux's ephemeral range (32768-60999): two workers never
# pick the same port, and a client's source port never takes a server's.
# Within its block a process hands ports out in turn from a random start,
# so a port a server gave up during a test's outage (stop, then start on
# the same port) is not handed to the next server meanwhile, and two runs
# side by side (outside xdist) rarely start at the same place.
PORT_BLOCK_START = 12000
PORT_BLOCK_SIZE = 2000
PORT_BLOCKS = 10  # 12000-31999
_port_lock = threading.Lock()
_next_port: int | None = None


def _port_block() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    index = int(worker[2:]) + 1 if worker.startswith("gw") and worker[2:].isdigit() else 0
    start = PORT_BLOCK_START + (index % PORT_BLOCKS) * PORT_BLOCK_SIZE
    return range(start, start + PORT_BLOCK_SIZE)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1, from this worker's block, free right now.

    Another program may still take it before our server binds it; the
    servers retry with a new port before their first start.
    """
    global _next_port
    block = _port_block()
    with _port_lock:
        if _next_port is None or _next_port not in block:
            _next_port = block.start + random.randrange(block.stop - block.start)
        for _ in range(len(block)):
            port, _next_port = _next_port, block.start + (_next_port + 1 - block.start) % len(block)
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind((HOST, port))
                except OSError:
                    continue
            return port
    raise RuntimeError(f"no free port on {HOST} in {block.start}-{block.stop - 1}")


def dovecot_available() -> bool:
    """True when the ``dovecot`` binary is installed (Debian: dovecot-imapd)."""
    return shutil.which("dovecot") is not None


@dataclasses.dataclass
class _TlsFiles:
    ca_path: Path
    cert_path: Path
    key_path: Path


def _make_tls_files(directory: Path) -> _TlsFiles:
    """Create a throwaway CA and a server certificate for 127.0.0.1/localhost.

    trustme is imported lazily so that plain (non-TLS) tests do not need it.
    """
    import trustme

    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    files = _TlsFiles(
        ca_path=directory / "ca.pem",
        cert_path=directory / "server-cert.pem",
        key_path=directory / "server-key.pem",
    )
    ca.cert_pem.write_to_path(str(files.ca_path))
    cert.cert_chain_pems[0].write_to_path(str(files.cert_path))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(files.cert_path), append=True)
    cert.private_key_pem.write_to_path(str(files.key_path))
    # Server processes may read the key after dropping privileges.
    os.chmod(files.key_path, 0o644)
    return files


def _client_ssl_context(ca_path: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_path))


def _wait_for_greeting(
    host: str,
    port: int,
    expected: bytes,
    deadline: float,
    ssl_context: ssl.SSLContext | None = None,
    alive=lambda: True,
) -> None:
    """Block until ``host:port`` accepts a connection and sends ``expected``.

    Reading the greeting (not just connecting) matters: Dovecot's listener
    socket exists slightly before the login process is ready to talk.
    """
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError("server process exited during startup")
        try:
            with contextlib.ExitStack() as stack:
                sock = stack.enter_context(socket.create_connection((host, port), timeout=1.0))
                if ssl_context is not None:
                    sock = stack.enter_context(
                        ssl_context.wrap_socket(sock, server_hostname=host)
                    )
                sock.settimeout(2.0)
                data = sock.recv(1024)
                if data.startswith(expected):
                    return
                last_error = RuntimeError(f"unexpected greeting {data!r}")
        except OSError as exc:
            last_error = exc
        time.sleep(0.02)
    raise TimeoutError(f"{host}:{port} did not greet in time: {last_error!r}")


# --------------------------------------------------------------------------
# Dovecot
# --------------------------------------------------------------------------

# Instances started but not stopped, so an interpreter exit (e.g. a test run
# aborted with an exception outside any fixture) does not leak servers.
_LIVE_DOVECOTS: "set[DovecotServer]" = set()


@atexit.register
def _stop_leftover_dovecots() -> None:
    for server in list(_LIVE_DOVECOTS):
        with contextlib.suppress(Exception):
            server.stop()


_DOVECOT_CONF = """\
# Generated by tests/servers.py -- a private, throwaway Dovecot instance.
# Sockets live in a short directory under /tmp because unix socket paths are
# limited to ~107 bytes and pytest's tmp_path can be longer than that.
base_dir = {run_dir}
state_dir = {state_dir}
instance_name = helpdesk-test-{port}
log_path = {log_path}
info_log_path = {log_path}

protocols = imap
listen = {host}
# Keep the environment of the master: no systemd socket activation etc.
import_environment = TZ

default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
# Debian's default first_valid_uid (500) would refuse the system user that
# owns the mail, so allow exactly the uid we use.
first_valid_uid = {mail_uid}
first_valid_gid = {mail_gid}

ssl = {ssl}
{ssl_files}
disable_plaintext_auth = no
auth_mechanisms = {auth_mechanisms}
# Default is 2 s per failed login, which makes wrong-password tests slow.
auth_failure_delay = 0
auth_verbose = yes
{oauth2_passdb}
passdb {{
  driver = passwd-file
  args = {passwd_path}
{passwd_mechanisms}}}
userdb {{
  driver = passwd-file
  args = {passwd_path}
}}

mail_location = maildir:{mail_dir}/%u
namespace inbox {{
  inbox = yes
  prefix =
  separator = {separator}
}}
# IDLE normally relies on inotify; the short interval is a fallback so
# tests never wait half a minute for EXISTS.
mailbox_idle_check_interval = 1 secs

# Tests open several connections per user (IDLE + fetch + helpers).
protocol imap {{
  mail_max_userip_connections = 200
}}

default_process_limit = 50
default_client_limit = 200

service imap-login {{
  # chroot needs root and an extra directory; not worth it for tests.
  chroot =
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    address = {host}
    port = {ssl_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  # mode 0 disables anvil's auth penalty (Dovecot's documented switch).
  # Otherwise one failed login makes every later login from 127.0.0.1,
  # even a correct one, wait 2-15 s -- a wrong-password test would slow
  # down everything after it.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
{extra}
"""


class ManagedServer:
    """What DovecotServer and SlapdServer share: a context manager, an
    outage made of stop() then start() on the same ports and data, and
    their log file read so far. Subclasses define start, stop and log_path."""

    log_path: Path

    def restart(self, timeout: float = 10.0) -> Self:
        """Simulate an outage: stop, then start on the same ports and data."""
        self.stop()
        return self.start(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def read_log(self) -> str:
        """The server's log so far (useful in assertion messages; slapd's shows STARTTLS)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


class DovecotServer(ManagedServer):
    """A private Dovecot IMAP server on 127.0.0.1 for one test (or session).

    Everything lives under ``base_dir``: ``dovecot.conf``, ``passwd`` (plain
    passwords), ``dovecot.log`` and ``mail/<user>/`` maildirs.  Only the
    unix sockets go to a short temporary directory under /tmp.

    When run as root (CI), mail is owned by and accessed as the unprivileged
    ``dovecot`` system user, login processes run as ``dovenull``; both come
    with the Debian package.  Dovecot refuses to touch mail as root.  As a
    normal user, every process simply runs as that user.

    ``restart()`` (or ``stop()`` followed by ``start()``) keeps the port and
    the mail data, so tests can simulate an outage.

    With ``tls=True`` the plain port offers STARTTLS and ``ssl_port`` speaks
    implicit TLS (IMAPS); the certificate (for 127.0.0.1 and localhost) is
    issued by a throwaway CA whose PEM is at ``ca_path``.  Dovecot counts
    loopback connections as secure, so it still accepts a plaintext login
    on the plain port despite ``ssl = required``; use :meth:`logins` to
    assert that a client really used TLS.

    With ``oauth2_url`` (an :class:`OAuthIntrospection` endpoint) Dovecot
    also offers XOAUTH2 and OAUTHBEARER through its oauth2 passdb, which
    asks that endpoint (RFC 7662 introspection, POST) whether a token is
    active and whose it is; the passwd-file userdb still places the mail.
    """

    def __init__(
        self,
        base_dir: os.PathLike | str,
        users: dict[str, str] | None = None,
        tls: bool = False,
        separator: str = "/",
        oauth2_url: str | None = None,
    ) -> None:
        self.base_dir = Path(base_dir).resolve()
        self.users = dict(DEFAULT_USERS if users is None else users)
        for name, password in self.users.items():
            if ":" in name or ":" in password or "\n" in name + password:
                raise ValueError(f"user/password not usable in passwd-file: {name!r}")
        self.tls = tls
        self.separator = separator
        self.oauth2_url = oauth2_url
        self.host = HOST
        self.port: int = free_port()
        # Always configured so the config shape does not depend on tls;
        # port 0 tells Dovecot not to listen at all.
        self.ssl_port: int | None = free_port() if tls else None
        self.conf_path = self.base_dir / "dovecot.conf"
        self.log_path = self.base_dir / "dovecot.log"
        self.passwd_path = self.base_dir / "passwd"
        self.oauth2_conf_path = self.base_dir / "dovecot-oauth2.conf.ext"
        self.mail_dir = self.base_dir / "mail"
        self.state_dir = self.base_dir / "state"
        self.ca_path: Path | None = None
        self._tls_files: _TlsFiles | None = None
        self._proc: subprocess.Popen | None = None
        self._run_dir: Path | None = None
        self._master_out = self.base_dir / "dovecot-master.out"
        self._output_offsets: dict[Path, int] = {}
        self._has_started = False

        self._as_root = os.geteuid() == 0
        if self._as_root:
            self._internal_user = "dovecot"
            self._login_user = "dovenull"
            owner = pwd.getpwnam("dovecot")
            self.mail_uid, self.mail_gid = owner.pw_uid, owner.pw_gid
        else:
            me = pwd.getpwuid(os.geteuid())
            self._internal_user = self._login_user = me.pw_name
            self.mail_uid, self.mail_gid = me.pw_uid, me.pw_gid
        self._internal_group = grp.getgrgid(
            pwd.getpwnam(self._internal_user).pw_gid
        ).gr_name

    # ---------------------------------------------------------------- setup

    def _prepare_files(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(exist_ok=True)
        self.mail_dir.mkdir(exist_ok=True)
        if self._as_root:
            # The auth process (as "dovecot") reads the passwd file and the
            # mail processes (as the mail uid) open base_dir/mail, so every
            # ancestor of base_dir must be searchable by "others".  pytest
            # creates its tmp dirs 0700; adding only the x bit lets the
            # unprivileged processes pass through without listing anything.
            _grant_traverse(self.base_dir)
            os.chown(self.mail_dir, self.mail_uid, self.mail_gid)
            for user_dir in self.mail_dir.iterdir():
                _chown_tree(user_dir, self.mail_uid, self.mail_gid)
        os.chmod(self.mail_dir, 0o700)

        lines = [
            f"{name}:{{PLAIN}}{password}:{self.mail_uid}:{self.mail_gid}::"
            f"{self.mail_dir / name}::\n"
            for name, password in self.users.items()
        ]
        self.passwd_path.write_text("".join(lines))
        if self._as_root:
            os.chown(self.passwd_path, 0, pwd.getpwnam(self._internal_user).pw_gid)
        os.chmod(self.passwd_path, 0o640)

        if self.tls and self._tls_files is None:
            self._tls_files = _make_tls_files(self.base_dir / "tls")
            self.ca_path = self._tls_files.ca_path

    def _write_config(self, run_dir: Path) -> None:
        if self.tls:
            assert self._tls_files is not None
            ssl_setting = "required"
            ssl_files = (
                f"ssl_cert = <{self._tls_files.cert_path}\n"
                f"ssl_key = <{self._tls_files.key_path}\n"
            )
        else:
            ssl_setting, ssl_files = "no", ""
        auth_mechanisms, oauth2_passdb, passwd_mechanisms = "plain login", "", ""
        if self.oauth2_url:
            # A token is never compared with the passwords, nor a password
            # sent to the introspection endpoint.
            passwd_mechanisms = "  mechanisms = plain login\n"
            auth_mechanisms += " xoauth2 oauthbearer"
            oauth2_passdb = (
                "passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
                f"  args = {self.oauth2_conf_path}\n}}\n"
            )
            # RFC 7662 introspection: POST token=...; the answer names the
            # user and says whether the token is still active.
            self.oauth2_conf_path.write_text(
                f"introspection_mode = post\n"
                f"introspection_url = {self.oauth2_url}\n"
                "force_introspection = yes\n"
                "username_attribute = username\n"
                "active_attribute = active\n"
                "active_value = true\n"
                "timeout_msecs = 5000\n"
            )
            os.chmod(self.oauth2_conf_path, 0o644)
        extra = ""
        if not self._as_root:
            # auth-worker defaults to root, which a non-root master cannot do.
            extra = "service auth-worker {\n  user = $default_internal_user\n}\n"
        self.conf_path.write_text(
            _DOVECOT_CONF.format(
                run_dir=run_dir,
                state_dir=self.state_dir,
                port=self.port,
                ssl_port=self.ssl_port or 0,
                host=self.host,
                log_path=self.log_path,
                internal_user=self._internal_user,
                internal_group=self._internal_group,
                login_user=self._login_user,
                mail_uid=self.mail_uid,
                mail_gid=self.mail_gid,
                ssl=ssl_setting,
                ssl_files=ssl_files,
                passwd_path=self.passwd_path,
                mail_dir=self.mail_dir,
                separator=self.separator,
                auth_mechanisms=auth_mechanisms,
                oauth2_passdb=oauth2_passdb,
                passwd_mechanisms=passwd_mechanisms,
                extra=extra,
            )
        )

    # ------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 10.0) -> "DovecotServer":
        """Start Dovecot and wait until it greets on every port.

        Raises RuntimeError with Dovecot's own output if it does not come up.
        """
        if self.running:
            return self
        if not dovecot_available():
            raise RuntimeError("dovecot is not installed (apt-get install dovecot-imapd)")
        self._prepare_files()
        attempts = 1 if self._has_started else 3
        for attempt in range(attempts):
            try:
                self._start_once(timeout)
                break
            except _PortInUse:
                # free_port() is racy: before the first successful start the
                # port is not part of the test's contract, so pick new ones.
                # A restart must reuse the port, so there it is an error.
                if attempt == attempts - 1:
                    raise
                self.port = free_port()
                if self.tls:
                    self.ssl_port = free_port()
        self._has_started = True
        return self

    def _start_once(self, timeout: float) -> None:
        # A fresh socket dir per start: no stale master.pid/sockets from a
        # killed instance can make Dovecot think it is already running.
        self._run_dir = Path(tempfile.mkdtemp(prefix="helpdesk-dovecot-", dir="/tmp"))
        os.chmod(self._run_dir, 0o755)
        self._write_config(self._run_dir)
        # Remember where this start's output begins, for error messages.
        self._output_offsets = {
            path: (path.stat().st_size if path.exists() else 0)
            for path in (self._master_out, self.log_path)
        }

        command = ["dovecot", "-F", "-c", str(self.conf_path)]
        if shutil.which("setpriv"):
            # If the test process dies without calling stop() (SIGKILL,
            # crash), the kernel sends SIGTERM to the master and Dovecot
            # shuts down instead of lingering.  The death signal fires when
            # the *thread* that called start() exits, so start it from the
            # main thread (as pytest fixtures do).
            command = ["setpriv", "--pdeathsig", "TERM", "--", *command]
        with open(self._master_out, "ab") as out:
            # -F keeps the master in the foreground so we own its PID; a new
            # session makes the master PID the process group id of all its
            # children, which lets stop() signal all of them at once.
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _LIVE_DOVECOTS.add(self)
        proc = self._proc
        deadline = time.monotonic() + timeout
        try:
            _wait_for_greeting(self.host, self.port, b"* OK", deadline,
                               alive=lambda: proc.poll() is None)
            if self.ssl_port:
                assert self.ca_path is not None
                _wait_for_greeting(self.host, self.ssl_port, b"* OK", deadline,
                                   _client_ssl_context(self.ca_path),
                                   alive=lambda: proc.poll() is None)
        except Exception as exc:
            details = self._diagnostics()
            self.stop()
            error = _PortInUse if "Address already in use" in details else RuntimeError
            raise error(f"Dovecot failed to start: {exc}\n{details}") from exc

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the master and every child; safe to call more than once.

        Dovecot's own SIGTERM shutdown takes about a second (the master
        waits on a timer for its children), which adds up over many tests.
        So the whole process group gets SIGTERM at once -- imap processes
        still send "* BYE" and finish their writes -- and once every child
        has exited the idle master is killed outright.
        """
        proc, self._proc = self._proc, None
        _LIVE_DOVECOTS.discard(self)
        if proc is not None:
            pgid = proc.pid  # start_new_session: master PID == group id
            _killpg(pgid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and proc.poll() is None:
                if not (_group_members(pgid) - {pgid}):
                    break
                time.sleep(0.01)
            try:
                proc.wait(0.05)
            except subprocess.TimeoutExpired:
                pass
            kill_group_leftovers(proc, pgid)
        if self._run_dir is not None:
            shutil.rmtree(self._run_dir, ignore_errors=True)
            self._run_dir = None

    def logins(self) -> list[tuple[str, bool]]:
        """(user, used_tls) for every successful login so far, from the log.

        Dovecot treats loopback connections as "secured", so even with
        tls=True it accepts plaintext logins on 127.0.0.1; tests that must
        prove the client used TLS check this instead.
        """
        result = []
        for match in re.finditer(r"Login: user=<([^>]*)>.*", self.read_log()):
            result.append((match.group(1), ", TLS" in match.group(0)))
        return result

    def _diagnostics(self) -> str:
        parts = []
        for path in (self._master_out, self.log_path):
            try:
                with open(path, "rb") as f:
                    f.seek(self._output_offsets.get(path, 0))
                    text = f.read().decode(errors="replace").strip()
            except FileNotFoundError:
                continue
            if text:
                parts.append(f"--- {path} ---\n{text[-4000:]}")
        return "\n".join(parts) or "(no Dovecot output)"

    # ----------------------------------------------------------- IMAP helpers

    def password(self, user: str) -> str:
        return self.users[user]

    @contextlib.contextmanager
    def client(self, user: str, timeout: float = 10.0) -> Iterator["imapclient.IMAPClient"]:  # noqa: F821
        """A logged-in IMAPClient for ``user``; logs out on exit.

        With tls=True it uses implicit TLS on ``ssl_port`` verified against
        ``ca_path``, since the plain port refuses login without STARTTLS.
        """
        import imapclient

        if self.tls:
            assert self.ca_path is not None and self.ssl_port
            conn = imapclient.IMAPClient(
                self.host, self.ssl_port, ssl=True,
                ssl_context=_client_ssl_context(self.ca_path), timeout=timeout,
            )
        else:
            conn = imapclient.IMAPClient(self.host, self.port, ssl=False, timeout=timeout)
        try:
            password = self.users[user]
            if (user + password).isascii():
                conn.login(user, password)
            else:  # imaplib's LOGIN is ASCII-only
                conn.plain_login(user, password)
            yield conn
        finally:
            with contextlib.suppress(Exception):
                conn.logout()

    def append(
        self,
        user: str,
        raw: bytes | str | email.message.Message,
        folder: str = "INBOX",
        flags: tuple = (),
    ) -> int | None:
        """Deliver ``raw`` into ``folder`` (created if missing); return its UID."""
        if isinstance(raw, email.message.Message):
            raw = raw.as_bytes()
        elif isinstance(raw, str):
            raw = raw.encode()
        with self.client(user) as conn:
            if folder.upper() != "INBOX" and not conn.folder_exists(folder):
                conn.create_folder(folder)
            response = conn.append(folder, raw, flags=flags)
        match = re.search(rb"APPENDUID \d+ (\d+)", response or b"")
        return int(match.group(1)) if match else None

    def create_folder(self, user: str, folder: str) -> None:
        with self.client(user) as conn:
            if not conn.folder_exists(folder):
                conn.create_folder(folder)

    def folder_exists(self, user: str, folder: str) -> bool:
        with self.client(user) as conn:
            return conn.folder_exists(folder)

    def list_folders(self, user: str) -> list[str]:
        with self.client(user) as conn:
            return [name for _flags, _sep, name in conn.list_folders()]

    def list_uids(self, user: str, folder: str = "INBOX") -> list[int]:
        with self.client(user) as conn:
            conn.select_folder(folder, readonly=True)
            return sorted(conn.search("ALL"))

    def fetch_all(self, user: str, folder: str = "INBOX") -> list[bytes]:
        """Raw messages in UID order, without setting \\Seen."""
        with self.client(user) as conn:
            conn.select_folder(folder, readonly=True)
            uids = sorted(conn.search("ALL"))
            if not uids:
                return []
            data = conn.fetch(uids, ["BODY.PEEK[]"])
            return [data[uid][b"BODY[]"] for uid in uids]

    def fetch_flags(self, user: str, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        with self.client(user) as conn:
            conn.select_folder(folder, readonly=True)
            uids = conn.search("ALL")
            if not uids:
                return {}
            return {uid: tuple(d[b"FLAGS"]) for uid, d in conn.fetch(uids, ["FLAGS"]).items()}

    def message_count(self, user: str, folder: str = "INBOX") -> int:
        with self.client(user) as conn:
            return int(conn.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"])

    def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        with self.client(user) as conn:
            return int(conn.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])

    # ------------------------------------------------------- admin (doveadm)

    def doveadm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``doveadm -c <our conf> ARGS`` against this instance."""
        result = subprocess.run(
            ["doveadm", "-c", str(self.conf_path), *args],
            capture_output=True, text=True, timeout=30,
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"doveadm {' '.join(args)} failed ({result.returncode}): "
                f"{result.stdout}{result.stderr}"
            )
        return result

    def reset_uidvalidity(
        self,
        user: str,
        folder: str = "INBOX",
        new_value: int | None = None,
        renumber: bool = True,
    ) -> int:
        """Give ``folder`` a new UIDVALIDITY, as after a server-side rebuild.

        With ``renumber`` (default) Dovecot's UID list and indexes for the
        folder are deleted first, so the existing messages get fresh UIDs
        1..n -- the realistic case in which a client that ignores
        UIDVALIDITY would skip or re-read mail.  ``doveadm mailbox update``
        then sets the value explicitly: a rebuilt uidlist takes its
        UIDVALIDITY from the clock and could repeat the old value within
        the same second.  Clients that have the folder selected are
        disconnected by Dovecot.  Returns the new UIDVALIDITY.
        """
        old = self.uidvalidity(user, folder)
        if new_value is None:
            new_value = old + 1
        if renumber:
            # Kick sessions first so no process rewrites the files we delete.
            self.doveadm("kick", user, check=False)
            folder_dir = self._maildir_folder(user, folder)
            for path in folder_dir.iterdir():
                if path.name.startswith("dovecot-uidlist") or path.name.startswith("dovecot.index"):
                    path.unlink()
            # Let Dovecot rescan and rebuild before forcing the value.
            self.doveadm("force-resync", "-u", user, folder)
        self.doveadm("mailbox", "update", "-u", user, "--uid-validity", str(new_value), folder)
        seen = self.uidvalidity(user, folder)
        if seen != new_value:
            raise RuntimeError(f"UIDVALIDITY is {seen}, expected {new_value}")
        return new_value

    def _maildir_folder(self, user: str, folder: str) -> Path:
        root = self.mail_dir / user
        if folder.upper() == "INBOX":
            return root
        # Maildir++ stores "A/B" as the directory ".A.B".
        return root / ("." + folder.replace(self.separator, "."))


class _PortInUse(RuntimeError):
    """Dovecot could not bind its port (someone took it after free_port())."""


def _grant_traverse(path: Path) -> None:
    """Add the "others may search" bit to ``path`` and its ancestors."""
    for directory in [path, *path.parents]:
        mode = directory.stat().st_mode
        if not mode & 0o001:
            os.chmod(directory, (mode & 0o7777) | 0o001)


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid, follow_symlinks=False)
    if path.is_dir() and not path.is_symlink():
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def _group_members(pgid: int) -> set[int]:
    """PIDs in process group ``pgid`` that are still running (not zombies).

    Zombies are ignored: once the master is gone its unreaped children are
    adopted by init, which may take a while to reap them, but they hold no
    sockets or files any more.
    """
    members = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # Fields after the parenthesised command name: state ppid pgrp ...
        fields = stat[stat.rindex(b")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != b"Z":
            members.add(int(entry.name))
    return members


def kill_group_leftovers(proc: subprocess.Popen, pgid: int) -> None:
    """After a polite SIGTERM: kill whatever of the group is still alive and reap it.

    The group id cannot be reused as a PID while any member lives, so
    signalling the group cannot hit an unrelated process.
    """
    if proc.poll() is None or _group_members(pgid):
        _killpg(pgid, signal.SIGKILL)
    proc.wait(5)
    deadline = time.monotonic() + 5
    while _group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.01)


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


# --------------------------------------------------------------------------
# OAuth2 token introspection (what Dovecot's oauth2 passdb asks)
# --------------------------------------------------------------------------


class OAuthIntrospection:
    """A tiny RFC 7662 token introspection endpoint on 127.0.0.1.

    Dovecot POSTs ``token=...``; a token in ``tokens`` (token -> user) is
    answered ``{"active": true, "username": user}``, any other one -- an
    expired token, say -- ``{"active": false}``, as a real authorization
    server does. ``expire(token)`` turns a valid token into an expired one.
    ``seen`` lists the tokens asked about, in order.
    """

    def __init__(self, tokens: dict[str, str]) -> None:
        self.tokens = dict(tokens)
        self.seen: list[str] = []
        self._lock = threading.Lock()
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://{HOST}:{self._server.server_address[1]}/introspect"

    def expire(self, token: str) -> None:
        with self._lock:
            self.tokens.pop(token, None)

    def start(self) -> "OAuthIntrospection":
        import http.server
        import json
        import urllib.parse

        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                token = (form.get("token") or [""])[0]
                with owner._lock:
                    owner.seen.append(token)
                    user = owner.tokens.get(token)
                answer = {"active": True, "username": user} if user else {"active": False}
                body = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:  # keep pytest's output clean
                pass

        self._server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(5)


# --------------------------------------------------------------------------
# SMTP
# --------------------------------------------------------------------------


@dataclasses.dataclass
class CapturedMessage:
    """One message accepted by :class:`SmtpCapture` (final 250 sent)."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)


class _CaptureHandler:
    """aiosmtpd handler; runs in the controller's event-loop thread."""

    def __init__(self, owner: "SmtpCapture") -> None:
        self.owner = owner

    async def handle_MAIL(self, server, session, envelope, address, mail_options) -> str:
        if (self.owner.auth is not None or self.owner.xoauth2 is not None) and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        with self.owner._cond:
            reply = self.owner._rcpt_responses.popleft() if self.owner._rcpt_responses else "250 OK"
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(rcpt_options)
        return reply

    async def handle_DATA(self, server, session, envelope) -> str:
        owner = self.owner
        with owner._cond:
            owner.data_attempts += 1
        if owner.data_delay > 0:
            # If the client vanishes meanwhile, aiosmtpd's eof_received /
            # connection_lost cancels this coroutine, so we never record --
            # just like an MTA that never got to send its final 250.
            await asyncio.sleep(owner.data_delay)
        # Belt and braces in case the cancellation raced with the wake-up.
        transport = server.transport
        if transport is None or transport.is_closing():
            return "421 4.4.2 Connection lost"
        with owner._cond:
            reply = owner._responses.popleft() if owner._responses else "250 OK"
            if reply.startswith("250"):
                owner.messages.append(
                    CapturedMessage(
                        mail_from=envelope.mail_from,
                        rcpt_tos=list(envelope.rcpt_tos),
                        data=bytes(envelope.original_content or envelope.content),
                    )
                )
                owner._cond.notify_all()
            else:
                owner.rejected += 1
        return reply


# Google's answer to a refused XOAUTH2 token: a 334 challenge carrying a
# JSON error, then (after the client's empty line) the final 535.
XOAUTH2_ERROR_CHALLENGE = b'{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}'
XOAUTH2_REFUSED = "535 5.7.8 Username and Password not accepted"


class _XOAuth2CaptureHandler(_CaptureHandler):
    """Adds the XOAUTH2 mechanism (aiosmtpd picks up ``auth_*`` methods)."""

    async def auth_XOAUTH2(self, server, args):
        from aiosmtpd.smtp import AuthResult

        owner = self.owner
        if len(args) < 2:
            return AuthResult(success=False, handled=False, message="501 5.5.2 Initial response required")
        try:
            fields = base64.b64decode(args[1], validate=True).decode().split("\x01")
        except (ValueError, UnicodeDecodeError):
            return AuthResult(success=False, handled=False, message="501 5.5.2 Can't decode base64")
        values = dict(f.split("=", 1) for f in fields if "=" in f)
        user = values.get("user", "")
        token = values.get("auth", "").removeprefix("Bearer ")
        with owner._cond:
            scripted = owner._auth_responses.popleft() if owner._auth_responses else None
            ok = scripted is None and owner.xoauth2.get(user) == token
            owner.xoauth2_logins.append((user, token, ok))
        if scripted is not None:
            return AuthResult(success=False, handled=False, message=scripted)
        if ok:
            return AuthResult(success=True, auth_data=user)
        await server.challenge_auth(XOAUTH2_ERROR_CHALLENGE)
        return AuthResult(success=False, handled=False, message=XOAUTH2_REFUSED)


class SmtpCapture:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that records accepted mail.

    * ``responses``: scripted replies to DATA, consumed in order; a reply
      that is not 250 rejects the message (it is not recorded).  Once the
      script is used up every message gets "250 OK".
    * ``add_rcpt_responses``: scripted replies to RCPT TO, the same way: a
      reply that is not 250 refuses that recipient ("550 5.1.1 user
      unknown", the most common permanent failure, comes here, not at DATA).
    * ``data_delay``: seconds to stall inside DATA before replying; if the
      client disconnects (e.g. is SIGKILLed) during the stall, nothing is
      recorded.
    * ``auth``: ``{"user": "password"}`` enables AUTH PLAIN/LOGIN (allowed
      without TLS on loopback) and makes authentication mandatory.
    * ``xoauth2``: ``{"user": "valid access token"}`` enables AUTH XOAUTH2
      (and makes authentication mandatory); any other token is refused the
      way Google does (334 JSON challenge, then 535). ``xoauth2_logins``
      records ``(user, token, accepted)``; ``add_auth_responses`` scripts
      replies to the next XOAUTH2 attempts (e.g. a 454).
    * ``tls``: implicit TLS (SMTPS) with a throwaway CA at ``ca_path``;
      ``starttls``: offer STARTTLS on the plain port instead.
    """

    def __init__(
        self,
        responses: list[str] | None = None,
        tls: bool = False,
        auth: dict[str, str] | None = None,
        data_delay: float = 0.0,
        starttls: bool = False,
        cert_dir: os.PathLike | str | None = None,
        xoauth2: dict[str, str] | None = None,
    ) -> None:
        self.host = HOST
        self.port: int = free_port()
        self.tls = tls
        self.starttls = starttls
        self.auth = dict(auth) if auth else None
        self.xoauth2 = dict(xoauth2) if xoauth2 else None
        self.xoauth2_logins: list[tuple[str, str, bool]] = []
        self._auth_responses: collections.deque[str] = collections.deque()
        self.data_delay = data_delay
        self.messages: list[CapturedMessage] = []
        self.data_attempts = 0  # DATA commands that completed reading, incl. rejected
        self.rejected = 0
        self.ca_path: Path | None = None
        self._cond = threading.Condition()
        self._responses: collections.deque[str] = collections.deque(responses or [])
        self._rcpt_responses: collections.deque[str] = collections.deque()
        self._cert_dir = Path(cert_dir) if cert_dir else None
        self._tls_files: _TlsFiles | None = None
        self._controller = None
        self._has_started = False

    # ------------------------------------------------------------ scripting

    def add_responses(self, *replies: str) -> None:
        """Append scripted DATA replies (see class docstring)."""
        with self._cond:
            self._responses.extend(replies)

    def add_rcpt_responses(self, *replies: str) -> None:
        """Append scripted RCPT TO replies (see class docstring)."""
        with self._cond:
            self._rcpt_responses.extend(replies)

    def add_auth_responses(self, *replies: str) -> None:
        """Script the replies to the next XOAUTH2 attempts (refusals only)."""
        with self._cond:
            self._auth_responses.extend(replies)

    def snapshot(self) -> list[CapturedMessage]:
        """A copy of the accepted messages, safe to iterate."""
        with self._cond:
            return list(self.messages)

    def clear(self) -> None:
        with self._cond:
            self.messages.clear()

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until at least ``count`` messages were accepted."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.messages) >= count, timeout)

    # ------------------------------------------------------------ lifecycle

    def _server_ssl_context(self) -> ssl.SSLContext:
        # Certificates are made once per instance so ca_path stays valid
        # across stop()/start().
        if self._tls_files is None:
            if self._cert_dir is None:
                tmp = tempfile.mkdtemp(prefix="smtp-tls-")
                weakref.finalize(self, shutil.rmtree, tmp, ignore_errors=True)
                self._cert_dir = Path(tmp)
            self._tls_files = _make_tls_files(self._cert_dir)
            self.ca_path = self._tls_files.ca_path
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(self._tls_files.cert_path), str(self._tls_files.key_path))
        return ctx

    def client_ssl_context(self) -> ssl.SSLContext:
        """Client context trusting our CA (tls/starttls only)."""
        assert self.ca_path is not None, "start() a tls/starttls server first"
        return _client_ssl_context(self.ca_path)

    def start(self) -> "SmtpCapture":
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        if self._controller is not None:
            return self
        kwargs: dict = {}
        if self.tls or self.starttls:
            ctx = self._server_ssl_context()
            if self.tls:
                kwargs["ssl_context"] = ctx
            else:
                kwargs["tls_context"] = ctx
        if self.auth is not None:
            users = self.auth

            def authenticator(server, session, envelope, mechanism, auth_data):
                ok = (
                    isinstance(auth_data, LoginPassword)
                    and users.get(auth_data.login.decode()) == auth_data.password.decode()
                )
                # handled=False makes aiosmtpd send its own 535 on failure;
                # AuthResult(success=False) alone sends no reply at all.
                return AuthResult(success=ok, handled=False)

            # Not auth_required=True: combined with auth_require_tls=False it
            # emits a UserWarning per connection (fatal under -W error);
            # handle_MAIL enforces authentication instead.
            kwargs.update(authenticator=authenticator, auth_require_tls=False)
        elif self.xoauth2 is not None:
            # Only XOAUTH2, as a provider that no longer takes passwords.
            kwargs.update(auth_require_tls=False, auth_exclude_mechanism=["PLAIN", "LOGIN"])
        handler_class = _XOAuth2CaptureHandler if self.xoauth2 is not None else _CaptureHandler

        # Controller(port=0) cannot work (it connects to its own port to
        # check readiness), hence free_port() -- which is racy, so retry
        # with a new port, but only before the port has been handed out.
        attempts = 1 if self._has_started else 3
        for attempt in range(attempts):
            controller = Controller(
                handler_class(self),
                hostname=self.host,
                port=self.port,
                # Keep the payload as bytes, exactly as the client sent it.
                decode_data=False,
                ready_timeout=10.0,
                **kwargs,
            )
            try:
                controller.start()
                break
            except OSError:
                if attempt == attempts - 1:
                    raise
                self.port = free_port()
        self._controller = controller
        self._has_started = True
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> "SmtpCapture":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
