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

from ..config import DocumentsConfig, LimitsConfig
from ..rules import Rules, WorkerLimits
from . import RESCAN_SMALLER, SEND_ANOTHER_COPY, replies_json, ticket_files
from .facts import FileFacts
from .ocr.engine import TESSDATA_ENV
from .ticket_files import Plan

log = logging.getLogger(__name__)

_HEADER = struct.Struct("!Q")


@dataclass(frozen=True)
class WorkerFailure:
    filename: str
    reason: str  # in Spanish, for the entity


# A request for a ticket's stored messages (the other kind is one file).
MESSAGES, FILE = "messages", "file"


class ExaminationFailed(Exception):
    """A ticket's messages could not be parsed (the worker said why, died or
    ran out of time): the examination counts a failure (examination/ticket.py)."""


class _NoReply(Exception):
    """The worker gave no usable reply; the reason is for the entity."""


@dataclass(frozen=True)
class Examined:
    """A ticket's files as the worker read them. A chosen file missing from
    ``results`` was not reached before the ticket's time ran out."""

    plan: Plan
    results: dict  # (message, part) -> FileFacts | WorkerFailure, for each chosen file examined or failed

    @property
    def complete(self) -> bool:
        """Every chosen file was read, none failed in the worker (a crash, a
        time limit: what a busy machine may cause and a second try may not)."""
        return all(isinstance(self.results.get(key), FileFacts) for key in self.plan.chosen_keys())


# Why a file failed when the worker died on it or sent no valid reply.
BROKEN_BY_FILE = ("tiene un contenido que no se puede procesar (superó los límites de memoria o tiempo); "
                  f"{RESCAN_SMALLER}")

# The largest reply the parent reads: facts are small (text layers are
# bounded); more is a broken worker, not a document.
MAX_REPLY_BYTES = 4 * 1024 * 1024


def _write(stream, obj) -> None:
    """Parent -> worker: the rules and the files, from the trusted side."""
    _write_bytes(stream, pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def _write_bytes(stream, payload: bytes) -> None:
    """Write it all: the parent's pipes are unbuffered (see ``_start``), and
    a raw write may take part of the bytes."""
    view = memoryview(_HEADER.pack(len(payload)) + payload)
    while view:
        written = stream.write(view)
        view = view[written if written is not None else len(view):]
    stream.flush()


def _read_exactly(stream, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_bytes(stream, limit: int | None = None) -> bytes:
    (size,) = _HEADER.unpack(_read_exactly(stream, _HEADER.size))
    if limit is not None and size > limit:
        raise replies_json.BadReply(f"reply of {size} bytes")
    return _read_exactly(stream, size)


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


# What a scan's OCR leaves of a file's time for the rest: the reply, and
# the parsing a zip's next member needs (documents/ocr/read.py stops
# reading pages this long before the file's limit).
OCR_MARGIN_SECONDS = 1.5


def serve(memory_mb: int, cpu_seconds: int) -> None:
    """Worker main loop: limits first, then the rules, then one file per request on stdin.

    The rules come from the parent, not from the disk: the parent validated
    them (at start-up or on SIGHUP), so a worker replaced after a crash never
    picks up a half-edited rules file. With them come the reading options
    (config [documents]: OCR on or off, pages, the Spanish data's folder).
    """
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _no_new_privileges()
    logging.getLogger("pypdf").setLevel(logging.CRITICAL)

    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    try:
        rules, options = _read(requests)
    except EOFError:
        return
    sys.stdout = sys.stderr  # nothing but replies on the reply pipe
    while True:
        try:
            request = _read(requests)
        except EOFError:
            return
        if request[0] == MESSAGES:
            *args, left = request[1:]
            _serve_messages(replies, rules, options, cpu_seconds, *args, ticket_deadline=time.monotonic() + left)
        else:
            _, filename, data, procedure, left = request
            _write_bytes(replies, replies_json.encode(
                _examine_one(filename, data, rules, options, procedure, cpu_seconds, time.monotonic() + left)))


def _cpu_from_now(cpu_seconds: int) -> None:
    """CPU is capped per step: the soft limit moves with what was used."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = int(used.ru_utime + used.ru_stime) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (spent + cpu_seconds, resource.RLIM_INFINITY))


def _examine_one(filename: str, data: bytes, rules: Rules, options, procedure: str, cpu_seconds: int,
                 ticket_deadline: float):
    from .examine import examine
    from .ocr.read import Budget

    # A spreadsheet is read with its ticket's procedure's form labels.
    form = rules.procedures[procedure].form if procedure in rules.procedures else rules.form
    _cpu_from_now(cpu_seconds)
    # The parent waits for this file at most its timeout or what is left of
    # the ticket's time (Worker._file_limit); OCR stops short of both.
    deadline = min(time.monotonic() + rules.documents.worker.timeout_seconds, ticket_deadline)
    try:
        return examine(filename, data, rules, form=form, options=options,
                       budget=Budget(deadline - OCR_MARGIN_SECONDS))
    except MemoryError:
        return WorkerFailure(str(filename), f"es demasiado grande para procesarlo; {RESCAN_SMALLER}")
    except RecursionError:
        return WorkerFailure(str(filename),
                             f"tiene una estructura anómala que no se puede procesar; {SEND_ANOTHER_COPY}")
    except Exception as exc:  # a parser bug on hostile input: report it, keep serving
        return WorkerFailure(str(filename), f"no se pudo leer ({type(exc).__name__}); {SEND_ANOTHER_COPY}")


def _serve_messages(replies, rules: Rules, options, cpu_seconds: int, paths: list[str], procedure: str,
                    limits: LimitsConfig, only: set | None, want_texts: bool, ticket_deadline: float) -> None:
    """A ticket's messages: the plan first (or a failure, when they cannot
    be parsed), then the facts of each chosen file (of those in ``only``,
    when the parent asks again after losing a worker), in the plan's order."""
    _cpu_from_now(cpu_seconds)
    try:
        plan, held = ticket_files.plan(paths, limits, want_texts)
    except MemoryError:
        plan, held = WorkerFailure("", "el mensaje es demasiado grande para procesarlo"), {}
    except RecursionError:
        plan, held = WorkerFailure("", "el mensaje tiene una estructura anómala (anidamiento excesivo)"), {}
    except Exception as exc:  # unreadable store file, a parser bug on hostile input
        plan, held = WorkerFailure("", f"el mensaje no se pudo leer ({type(exc).__name__})"), {}
    _write_bytes(replies, replies_json.encode(plan))
    if isinstance(plan, WorkerFailure):
        return
    for key in plan.chosen_keys():
        if only is None or key in only:
            data = held.pop(key)
            _write_bytes(replies, replies_json.encode(_examine_one(plan.file(key).filename, data, rules, options,
                                                                   procedure, cpu_seconds, ticket_deadline)))
            del data


class Worker:
    """The parent's handle on one worker process; replaced when it fails."""

    def __init__(self, rules: Rules, documents: DocumentsConfig | None = None, nice: int = 0):
        """``documents``: config [documents] (OCR on or off, pages read);
        its defaults when None. ``nice``: added to the process's niceness,
        for a worker that must leave the CPU to others (read-ahead)."""
        from .ocr.read import Options

        self.rules = rules
        self.limits: WorkerLimits = rules.documents.worker
        documents = documents or DocumentsConfig()
        self.options = Options(ocr=documents.ocr, pages=documents.ocr_pages)
        self.nice = nice
        self._proc: subprocess.Popen | None = None

    def _start(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "helpdesk.documents.worker",
             str(self.limits.memory_mb), str(self.limits.cpu_seconds)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=worker_environment(),
            # Unbuffered: the parent waits for each reply with select() on the
            # pipe, which cannot see replies a buffered reader already took in
            # (a ticket's plan and its files' facts come back to back).
            bufsize=0,
        )
        if self.nice:
            # setpriority on the child rather than preexec_fn, which is not
            # safe in a process with threads. Raising one's own child's
            # niceness needs no privilege; lowering it back would.
            try:
                os.setpriority(os.PRIO_PROCESS, self._proc.pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + self.nice))
            except OSError:
                log.debug("could not lower the priority of worker %s", self._proc.pid, exc_info=True)
        _write(self._proc.stdin, (self.rules, self.options))

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

    def _send(self, request: tuple) -> None:
        """Hand one request to a living worker; one that died since the last
        (an operator, the OOM killer) is reaped by poll() and replaced."""
        if self._proc is None or self._proc.poll() is not None:
            self._start()
        _write(self._proc.stdin, request)

    def _reply(self, limit: float):
        """The worker's next reply within ``limit`` seconds; _NoReply (and
        the worker killed) otherwise."""
        try:
            ready, _, _ = select.select([self._proc.stdout], [], [], limit)
            if ready:
                return replies_json.decode(_read_bytes(self._proc.stdout, MAX_REPLY_BYTES), WorkerFailure)
            seconds = max(1, round(limit))
            reason = f"no se pudo procesar en {seconds} segundo{'s' if seconds != 1 else ''}; {RESCAN_SMALLER}"
        except (EOFError, OSError, replies_json.BadReply):
            reason = BROKEN_BY_FILE
        self._kill()
        raise _NoReply(reason)

    def _file_limit(self, timeout: float | None) -> float:
        """A file's wall clock: what is left of the ticket's time shortens
        the per-file limit, never lengthens it."""
        return self.limits.timeout_seconds if timeout is None else min(timeout, self.limits.timeout_seconds)

    def examine(self, filename: str, data: bytes, timeout: float | None = None,
                procedure: str = "") -> FileFacts | WorkerFailure:
        """Read one file within ``timeout`` (see ``_file_limit``). ``procedure``:
        the ticket's, whose form a spreadsheet is read with ("" : the rules
        folder's request form)."""
        started = time.monotonic()
        try:
            self._send((FILE, filename, data, procedure, self._file_limit(timeout)))
            return self._reply(self._file_limit(timeout))
        except OSError:
            self._kill()
            reason = BROKEN_BY_FILE
        except _NoReply as exc:
            reason = str(exc)
        log.warning("document worker failed on %r after %.1f s: %s; replacing it",
                    filename, time.monotonic() - started, reason)
        return WorkerFailure(filename, reason)

    def examine_messages(self, paths: list[str], procedure: str, limits: LimitsConfig, deadline: float,
                         want_texts: bool = False) -> Examined:
        """Parse a ticket's stored messages (their raw files, oldest first),
        choose and examine its files, all in the worker, by ``deadline``
        (time.monotonic()). A file that kills the worker or runs out of
        time fails alone: a new worker is asked for the files after it.
        ExaminationFailed when the messages themselves cannot be read."""
        plan: Plan | None = None
        results: dict = {}
        while True:
            left = deadline - time.monotonic()
            waiting = [] if plan is None else [k for k in plan.chosen_keys() if k not in results]
            if plan is not None and (not waiting or left <= 0):
                return Examined(plan, results)
            if left <= 0:
                raise ExaminationFailed("se agotó el tiempo del examen antes de leer los mensajes")
            try:
                self._send((MESSAGES, paths, procedure, limits, None if plan is None else set(waiting), want_texts,
                            left))
                first = self._reply(left)
            except OSError:
                self._kill()
                first = WorkerFailure("", "el proceso de examen no aceptó los mensajes")
            except _NoReply as exc:
                first = WorkerFailure("", str(exc))
            if isinstance(first, WorkerFailure):
                if plan is None:
                    raise ExaminationFailed(first.reason)
                return Examined(plan, results)  # the rest stay unexamined, as late
            if not isinstance(first, Plan):
                self._kill()
                raise ExaminationFailed("respuesta inesperada del proceso de examen")
            plan = plan or first
            for key in waiting or plan.chosen_keys():
                left = deadline - time.monotonic()
                if left <= 0:
                    self._kill()  # it is still reading the files the parent no longer waits for
                    break
                started = time.monotonic()
                try:
                    results[key] = self._reply(self._file_limit(left))
                except _NoReply as exc:
                    name = plan.file(key).filename
                    log.warning("document worker failed on %r after %.1f s: %s; replacing it",
                                name, time.monotonic() - started, exc)
                    results[key] = WorkerFailure(name, str(exc))
                    break  # a new worker for the files after it


def worker_environment() -> dict[str, str]:
    """All the worker gets of the daemon's environment: where its Python
    code is and how to read text. Never a password variable (password_env)
    or $CREDENTIALS_DIRECTORY: a subverted parser finds no secret to steal."""
    env = {"PYTHONPATH": _package_parent(), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
           # Tesseract on one core per worker: the workers are one per core
           # already (worker.processes), and OpenMP's extra threads only
           # fought them for it.
           "OMP_THREAD_LIMIT": "1"}
    for name in ("PATH", TESSDATA_ENV):
        if name in os.environ:
            env[name] = os.environ[name]
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
