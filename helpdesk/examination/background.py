"""Examination beside intake, so that no request waits for another's documents.

The service (``helpdesk run``) and ``run --once`` examine documents in
threads of their own, one per document worker process (rules/documents.toml
``worker.processes``; by default one per core): the workers parse and read
the files on every core while the main loop goes on reading the mailbox and
delivering acks. A mail whose files use their ticket's whole time budget
(``worker.ticket_seconds``) delays the tickets its thread examines after
it, never the radicado of a request that arrives meanwhile.

Each thread has its own SQLite connection (connections are not shared
between threads) and its own document worker process. The threads share
one set of the tickets in hand, so no two examine the same ticket. The
main loop keeps the mailbox and the outbox: each verdict an examiner
commits (an ``accepted`` or ``correction`` email queued) changes the
database's ``data_version``, which the main loop looks at every second, so
it delivers that email as it delivers a staff decision's; ``run --once``
delivers them as it waits for the examinations to end (``sweep``).

A retry served by a staff command and the tests examine in the calling
thread instead (``Daemon.examine_pending``): one pass, in order.

Exactly-once stays the examination's own (examination/ticket.py): the verdict and
its email commit in one transaction that first checks the ticket is still
marked. A thread stopped half-way (the service stopped, the process
killed) leaves the mark set, and the next pass does the ticket again.
"""

from __future__ import annotations

import logging
import threading
import time

from ..config import Config
from ..documents.worker import Worker
from ..outgoing.replies import Renderer
from ..rules import Rules
from ..store import Store
from . import ticket as examination

log = logging.getLogger(__name__)

# A pass also starts without being woken, for tickets another process
# marked (``helpdesk reopen``), and this long after a pass that failed.
POLL_SECONDS = 5.0
# Files whose facts the first thread holds, read ahead during a hold, at
# most: a request has three, so about 250 tickets. Counted in files, not
# tickets: a PDF's facts keep up to 20,000 characters of its text, and a
# ticket may have 20 files; 750 of them hold 15 MB at worst.
READ_AHEAD_FILES = 750
# The read-ahead worker's niceness. With OCR, reading ahead on the core the
# intake left free still took CPU from it and from Dovecot: bench/peer.py's
# acks fell from 4.6-6.2x django-helpdesk's to 2.5-3.7x. A worker that
# yields the CPU costs the acks nothing and reads with what is left.
READ_AHEAD_NICE = 10


class BackgroundExaminer:
    def __init__(self, config: Config, rules: Rules, renderer: Renderer, threads: int | None = None):
        self.config = config
        self._tools = (rules, renderer)
        self._generation = 0  # bumped by use(): each thread takes the new tools between two tickets
        self._lock = threading.Lock()  # guards _tools, _generation, _in_hand
        self._in_hand: set[int] = set()
        self._ahead: dict[int, examination.Read] = {}  # files read during a hold, by ticket
        self._read_up_to = 0  # the last ticket read ahead
        self._stop = threading.Event()
        self._go = threading.Event()  # cleared by hold(): no verdict; only the first thread reads ahead
        self._go.set()
        count = threads or rules.documents.worker.process_count()
        self._wakes = [threading.Event() for _ in range(count)]
        # Set when an examination ends (its verdict email may be in the
        # outbox): the service's main loop waits on it while a pass runs
        # (``busy``), and delivers at once instead of at its next
        # one-second look at the database (daemon.run_forever).
        self._examined = threading.Event()
        # Passes begun and ended by each thread, for sweep(): under _progress.
        self._progress = threading.Condition()
        self._begun = [0] * count
        self._ended = [0] * count
        self._threads = [threading.Thread(target=self._run, args=(n,), name=f"examiner-{n + 1}", daemon=True)
                         for n in range(count)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    @property
    def alive(self) -> bool:
        return all(thread.is_alive() for thread in self._threads)

    def wake(self) -> None:
        """A ticket may have been marked: look now rather than at the next poll."""
        for wake in self._wakes:
            wake.set()

    def busy(self) -> bool:
        """A pass is running or asked for: a verdict may be committed soon."""
        with self._progress:
            running = any(begun > ended for begun, ended in zip(self._begun, self._ended))
        return running or any(wake.is_set() for wake in self._wakes)

    def wait_examined(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for an examination to end; True when one did."""
        ended = self._examined.wait(seconds)
        self._examined.clear()  # one set after the wait is not lost: the caller delivers everything due
        return ended

    def hold(self) -> None:
        """Commit no verdict until ``release``: ``run --once`` acknowledges
        its whole backlog first. Measured (bench/peer.py), an examination
        beside intake took the CPU and the GIL that the acks needed. Only
        the first thread works during a hold, and only its worker's part:
        it reads the tickets' files ahead (``READ_AHEAD_FILES``), on the
        core the intake leaves free, in a worker of lower priority
        (``READ_AHEAD_NICE``) that ends with the hold; its verdicts then
        need no worker."""
        self._go.clear()

    def release(self) -> None:
        self._go.set()
        self.wake()

    def use(self, rules: Rules, renderer: Renderer) -> None:
        """New rules and templates (SIGHUP), taken between two tickets, so a
        ticket is examined and answered with one set from start to end."""
        with self._lock:
            self._tools = (rules, renderer)
            self._generation += 1
            self._ahead.clear()  # read with the old rules' worker
        self.wake()

    def sweep(self) -> list[int]:
        """Ask for a pass by every thread; ``swept`` says when they are all
        done. Together they then have tried every ticket marked before this
        call, each once (one that keeps failing is not tried again and again)."""
        with self._progress:
            targets = [begun + 1 for begun in self._begun]
        self.wake()
        return targets

    def swept(self, targets: list[int], timeout: float) -> bool:
        with self._progress:
            return self._progress.wait_for(
                lambda: self._stop.is_set() or not self.alive
                or all(ended >= target for ended, target in zip(self._ended, targets)), timeout)

    def stop(self, timeout: float) -> bool:
        """Finish the tickets in hand within ``timeout`` seconds, then end.
        False when one is still examining: the process may exit anyway, the
        ticket keeps its mark and is examined after the next start."""
        self._stop.set()
        self._go.set()
        self.wake()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def _run(self, n: int) -> None:
        with self._lock:
            (rules, renderer), generation = self._tools, self._generation
        worker = Worker(rules, self.config.documents)
        ahead: Worker | None = None  # the first thread's read-ahead worker, during a hold
        store = None
        try:
            while not self._stop.is_set():
                self._wakes[n].wait(POLL_SECONDS)
                self._wakes[n].clear()
                with self._progress:
                    self._begun[n] += 1
                try:
                    if store is None:
                        store = Store(self.config.database_path, self.config.raw_dir)
                    with self._lock:
                        if generation != self._generation:
                            (rules, renderer), generation = self._tools, self._generation
                            worker.close()  # it holds its own copy of the rules
                            worker = Worker(rules, self.config.documents)
                            if ahead is not None:
                                ahead.close()
                                ahead = None
                    if n == 0 and not self._go.is_set():
                        ahead = ahead or Worker(rules, self.config.documents, nice=READ_AHEAD_NICE)
                        self._read_ahead(store, rules, ahead, generation)  # release() wakes it for a pass
                    else:
                        if ahead is not None:  # the hold is over: its niceness cannot be lowered back
                            ahead.close()
                            ahead = None
                        self._pass(store, rules, renderer, worker, generation)
                except Exception:  # the database unavailable, a bug: log, wait, try again
                    log.exception("examination pass failed; the next one is in %.0f s", POLL_SECONDS,
                                  extra={"event": "examination_failed"})
                    self._stop.wait(POLL_SECONDS)
                finally:
                    with self._progress:
                        self._ended[n] += 1
                        self._progress.notify_all()
        finally:
            worker.close()
            if ahead is not None:
                ahead.close()
            if store is not None:
                store.close()
            with self._progress:
                self._progress.notify_all()  # a sweep waiting on a thread that ended

    def _pass(self, store: Store, rules: Rules, renderer: Renderer, worker: Worker, generation: int) -> None:
        for ticket_id in examination.pending(store):
            self._go.wait()
            if self._stop.is_set():
                return
            with self._lock:
                if self._generation != generation:
                    return  # the next pass starts at once with the new tools (use() woke every thread)
                if ticket_id in self._in_hand:
                    continue  # another thread has it
                self._in_hand.add(ticket_id)
                read = self._ahead.pop(ticket_id, None)
            try:
                if not examination.is_pending(store, ticket_id):
                    # Another thread examined it since this pass listed it:
                    # doing it again cost 40% more worker time when measured.
                    continue
                examination.examine_or_count_failure(store, self.config, rules, worker, renderer, ticket_id, read)
            finally:
                with self._lock:
                    self._in_hand.discard(ticket_id)
                self._examined.set()

    def _read_ahead(self, store: Store, rules: Rules, worker: Worker, generation: int) -> None:
        """During a hold: have the worker read the files of the tickets
        marked since the last read, oldest first. A failure is left to the
        examination proper, which retries and counts it."""
        while not self._go.is_set() and not self._stop.is_set():
            with self._lock:
                held = sum(len(read.examined.results) for read in self._ahead.values())
                if generation != self._generation or held >= READ_AHEAD_FILES:
                    return
            ticket_id = examination.next_pending(store, self._read_up_to)
            if ticket_id is None:
                return
            self._read_up_to = ticket_id
            with self._lock:
                self._in_hand.add(ticket_id)  # released meanwhile, another thread must not take it
            try:
                read = examination.read_files(store, self.config, rules, worker, ticket_id)
                # A file that failed or was not reached may have starved beside
                # the intake: the examination proper reads the ticket again,
                # rather than answer with a failure of our own making.
                with self._lock:
                    if generation == self._generation and read.examined.complete:
                        self._ahead[ticket_id] = read
            except Exception:  # examined (and counted) after the hold
                log.debug("reading ticket %s ahead failed", ticket_id, exc_info=True)
            finally:
                with self._lock:
                    self._in_hand.discard(ticket_id)
