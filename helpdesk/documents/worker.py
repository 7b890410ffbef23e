"""A separate process with hard limits where hostile files are parsed.

The daemon never parses an attachment itself. It sends ``(filename,
bytes)`` to a worker process started with ``spawn`` (a clean interpreter:
no inherited sockets or database handles) whose address space and CPU time
are capped with ``setrlimit``; the parent also keeps a wall-clock timeout.
A file that makes the worker die, exceed its memory or run past its time
becomes an ``unreadable_document`` finding, the worker is replaced, and
the next file is examined normally. The daemon's own memory never sees the
decompressed content.
"""

from __future__ import annotations

import ctypes
import logging
import os
import pickle
import resource
import select
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..rules import Rules, WorkerLimits
from . import RESCAN_SMALLER, SEND_ANOTHER_COPY, replies_json
from .examine import FileFacts

log = logging.getLogger(__name__)

_HEADER = struct.Struct("!Q")


@dataclass(frozen=True)
class WorkerFailure:
    filename: str
    reason: str  # in Spanish, for the entity


# The largest reply the parent reads: facts are small (text layers are
# bounded); more is a broken worker, not a document.
MAX_REPLY_BYTES = 4 * 1024 * 1024


def _write(stream, obj) -> None:
    """Parent -> worker: the rules and the files, from the trusted side."""
    _write_bytes(stream, pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def _write_bytes(stream, payload: bytes) -> None:
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def _read_bytes(stream, limit: int | None = None) -> bytes:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError
    (size,) = _HEADER.unpack(header)
    if limit is not None and size > limit:
        raise replies_json.BadReply(f"reply of {size} bytes")
    payload = stream.read(size)
    if len(payload) < size:
        raise EOFError
    return payload


def _read(stream):
    """Worker side: what the parent sent."""
    return pickle.loads(_read_bytes(stream))


def _no_new_privileges() -> None:
    """prctl(PR_SET_NO_NEW_PRIVS): nothing the worker runs can gain
    privileges (setuid programs), whatever a parser bug lets it do."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
    except (OSError, AttributeError):
        pass  # not Linux: the resource limits still hold


def serve(memory_mb: int, cpu_seconds: int) -> None:
    """Worker main loop: limits first, then the rules, then one file per request on stdin.

    The rules come from the parent, not from the disk: the parent validated
    them (at start-up or on SIGHUP), so a worker replaced after a crash never
    picks up a half-edited rules file.
    """
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _no_new_privileges()
    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    from .examine import examine

    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    try:
        rules = _read(requests)
    except EOFError:
        return
    sys.stdout = sys.stderr  # nothing but replies on the reply pipe
    while True:
        try:
            filename, data, procedure = _read(requests)
        except EOFError:
            return
        # A spreadsheet is read with its ticket's procedure's form labels.
        form = rules.procedures[procedure].form if procedure in rules.procedures else rules.form
        # CPU is capped per file: the soft limit moves with what was used.
        used = resource.getrusage(resource.RUSAGE_SELF)
        spent = int(used.ru_utime + used.ru_stime) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (spent + cpu_seconds, resource.RLIM_INFINITY))
        try:
            result = examine(filename, data, rules, form=form)
        except MemoryError:
            result = WorkerFailure(str(filename), f"es demasiado grande para procesarlo; {RESCAN_SMALLER}")
        except RecursionError:
            result = WorkerFailure(str(filename),
                                   f"tiene una estructura anómala que no se puede procesar; {SEND_ANOTHER_COPY}")
        except Exception as exc:  # a parser bug on hostile input: report it, keep serving
            result = WorkerFailure(str(filename), f"no se pudo leer ({type(exc).__name__}); {SEND_ANOTHER_COPY}")
        del data
        _write_bytes(replies, replies_json.encode(result))


class Worker:
    """The parent's handle on one worker process; replaced when it fails."""

    def __init__(self, rules: Rules):
        self.rules = rules
        self.limits: WorkerLimits = rules.documents.worker
        self._proc: subprocess.Popen | None = None

    def _start(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "helpdesk.documents.worker",
             str(self.limits.memory_mb), str(self.limits.cpu_seconds)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=worker_environment(),
        )
        _write(self._proc.stdin, self.rules)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.stdin.close()
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait()
            for pipe in (proc.stdin, proc.stdout):
                try:
                    pipe.close()
                except OSError:
                    pass

    def _send(self, filename: str, data: bytes, procedure: str) -> None:
        """Hand one file to a living worker; one that died since the last
        file (an operator, the OOM killer) is reaped by poll() and replaced."""
        if self._proc is None or self._proc.poll() is not None:
            self._start()
        _write(self._proc.stdin, (filename, data, procedure))

    def examine(self, filename: str, data: bytes, timeout: float | None = None,
                procedure: str = "") -> FileFacts | WorkerFailure:
        """Read one file; ``timeout`` (what is left of the ticket's time)
        shortens the per-file wall clock, never lengthens it. ``procedure``:
        the ticket's, whose form a spreadsheet is read with ("" : the rules
        folder's request form)."""
        started = time.monotonic()
        limit = self.limits.timeout_seconds if timeout is None else min(timeout, self.limits.timeout_seconds)
        try:
            self._send(filename, data, procedure)
            ready, _, _ = select.select([self._proc.stdout], [], [], limit)
            if ready:
                return replies_json.decode(_read_bytes(self._proc.stdout, MAX_REPLY_BYTES), WorkerFailure)
            seconds = max(1, round(limit))
            reason = f"no se pudo procesar en {seconds} segundo{'s' if seconds != 1 else ''}; {RESCAN_SMALLER}"
        except (EOFError, OSError, replies_json.BadReply):
            reason = ("tiene un contenido que no se puede procesar (superó los límites de memoria o tiempo); "
                      f"{RESCAN_SMALLER}")
        log.warning("document worker failed on %r after %.1f s: %s; replacing it",
                    filename, time.monotonic() - started, reason)
        self._kill()
        return WorkerFailure(filename, reason)


def worker_environment() -> dict[str, str]:
    """All the worker gets of the daemon's environment: where its Python
    code is and how to read text. Never a password variable (password_env)
    or $CREDENTIALS_DIRECTORY: a subverted parser finds no secret to steal."""
    env = {"PYTHONPATH": _package_parent(), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
    if "PATH" in os.environ:
        env["PATH"] = os.environ["PATH"]
    return env


def _package_parent() -> str:
    """The folder holding the helpdesk package, so the worker imports the same code."""
    here = str(Path(__file__).resolve().parent.parent.parent)
    existing = os.environ.get("PYTHONPATH")
    return here + (os.pathsep + existing if existing else "")


if __name__ == "__main__":
    # Run the module's code under its real name, so that WorkerFailure is
    # helpdesk.documents.worker.WorkerFailure (replies_json tells it apart by name).
    from helpdesk.documents.worker import serve as _serve

    _serve(int(sys.argv[1]), int(sys.argv[2]))
