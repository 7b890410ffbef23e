"""One processor per database: an ``flock`` beside it, held for a process's life.

Whoever holds ``helpdesk.db.lock`` is the only process that fetches mail,
processes and examines messages and delivers the outbox of that database
(CONTRACT §8). Two daemons on one database would answer every request twice
and mix their failures into each other's status rows; the lock makes the
second one refuse before it opens the database or the mailbox.

``flock`` rather than a pid file: the kernel drops the lock when the holder
exits, however it exits (SIGKILL, OOM, power loss), so a crash never leaves
a stale lock behind to clean up by hand. The file's contents are only for
people and for the one decision a contender makes: the holder writes its pid
and its role, one JSON line, when it can write the file.

Roles: ``run`` and ``run --once`` are *processors*, held for as long as they
run: a contender gives up at once. ``staff`` (a decision delivering its own
email while no daemon runs) and ``retry`` are *brief* holders: a daemon that
starts meanwhile waits for them rather than failing its start.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import Refused
from .errortext import os_reason
from .store import SHARED_FILE_MODE, iso, make_shared_dir

DAEMON = "run"
ONCE = "run --once"
STAFF = "staff"
RETRY = "retry"
PROCESSORS = (DAEMON, ONCE)

# A brief holder (a staff command delivering, a retry without a daemon)
# holds the lock for one SMTP batch or one examination; a daemon starting
# meanwhile waits this long before it gives up.
BRIEF_HOLDER_WAIT = 60.0
# Group-shared like the database beside it, so that staff in the service's
# group can take it and record who holds it while they deliver.
MODE = SHARED_FILE_MODE


@dataclass(frozen=True)
class Holder:
    """Who holds the lock, as its holder recorded it."""

    pid: int
    role: str
    since: str = ""

    @property
    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's process: it exists
            return True
        return True

    @property
    def processor(self) -> bool:
        """A running daemon or ``run --once``: a contender gives up at once."""
        return self.role in PROCESSORS and self.alive


class AlreadyRunning(Refused):
    """Another process holds the database's lock; ``holder`` says who, when known."""

    def __init__(self, holder: Holder | None):
        pid = str(holder.pid) if holder else "desconocido"
        super().__init__(f"ya hay una instancia en marcha (pid {pid})")
        self.holder = holder


class LockUnavailable(Refused):
    """The lock file cannot be opened at all (permissions, read-only folder)."""


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


class InstanceLock:
    """A held lock; ``release()`` (or the process's end) frees it."""

    def __init__(self, path: Path, fd: int, role: str):
        self.path = path
        self.role = role
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)  # nobody holds it now; a read-only holder cannot
        except OSError:
            pass
        os.close(fd)  # closing the only descriptor drops the flock

    def __enter__(self) -> InstanceLock:
        return self

    def __exit__(self, *_exc) -> None:
        self.release()


def acquire(database: Path, role: str, wait: float = 0.0) -> InstanceLock:
    """Take the lock of ``database`` for ``role``.

    A processor holding it raises ``AlreadyRunning`` at once. A brief holder
    (or one that recorded nothing yet) is waited for up to ``wait`` seconds.
    """
    fd, writable = _open(lock_path(database))
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                os.close(fd)
                raise LockUnavailable(f"no se puede bloquear {lock_path(database)}: {os_reason(exc)}") from None
        holder = _read(fd)
        if (holder is not None and holder.processor) or time.monotonic() >= deadline:
            os.close(fd)
            raise AlreadyRunning(holder)
        time.sleep(0.2)
    if writable:
        record = {"pid": os.getpid(), "role": role, "since": iso()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
    return InstanceLock(lock_path(database), fd, role)


def _open(path: Path) -> tuple[int, bool]:
    """Open (or create) the lock file for writing when allowed, else for reading."""
    try:
        make_shared_dir(path.parent)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, MODE)
            os.fchmod(fd, MODE)  # whatever the umask made of it; later modes are the admin's
            return fd, True
        except FileExistsError:
            pass
        try:
            return os.open(path, os.O_RDWR), True
        except PermissionError:
            return os.open(path, os.O_RDONLY), False
    except OSError as exc:
        raise LockUnavailable(f"no se puede abrir {path}: {os_reason(exc)}") from None


def _read(fd: int) -> Holder | None:
    """The holder's record, or None while it is empty or unreadable."""
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode("utf-8", "replace") or "null")
        return Holder(pid=int(data["pid"]), role=str(data["role"]), since=str(data.get("since", "")))
    except (OSError, ValueError, TypeError, KeyError):
        return None
