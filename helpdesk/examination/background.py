"""Examination beside intake, so that no request waits for another's documents.

The service (``helpdesk run``) examines documents in a thread of its own.
A mail whose files use their ticket's whole time budget
(rules/documents.toml, ``worker.ticket_seconds``) delays the tickets
examined after it, never the radicado of a request that arrives meanwhile:
the main loop goes on reading the mailbox and delivering acks.

The thread has its own SQLite connection (connections are not shared
between threads) and its own document worker process. The main loop keeps
the mailbox and the outbox: each verdict the examiner commits (an
``accepted`` or ``correction`` email queued) changes the database's
``data_version``, which the main loop looks at every second, so it
delivers that email as it delivers a staff decision's.

``run --once``, a retry served by a staff command and the tests examine in
the calling thread instead (``Daemon.examine_pending``): one pass, in
order, then exit.

Exactly-once stays the examination's own (examination/ticket.py): the verdict and
its email commit in one transaction that first checks the ticket is still
marked. A thread stopped half-way (the service stopped, the process
killed) leaves the mark set, and the next pass does the ticket again.
"""

from __future__ import annotations

import logging
import threading

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


class BackgroundExaminer:
    def __init__(self, config: Config, rules: Rules, renderer: Renderer):
        self.config = config
        self._tools = (rules, renderer)
        self._tools_changed = False
        self._tools_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="examiner", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def wake(self) -> None:
        """A ticket may have been marked: look now rather than at the next poll."""
        self._wake.set()

    def use(self, rules: Rules, renderer: Renderer) -> None:
        """New rules and templates (SIGHUP), taken between two tickets, so a
        ticket is examined and answered with one set from start to end."""
        with self._tools_lock:
            self._tools = (rules, renderer)
            self._tools_changed = True
        self._wake.set()

    def stop(self, timeout: float) -> bool:
        """Finish the ticket in hand within ``timeout`` seconds, then end.
        False when it is still examining: the process may exit anyway, the
        ticket keeps its mark and is examined after the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        rules, renderer = self._tools
        worker = Worker(rules)
        store = None
        try:
            while not self._stop.is_set():
                self._wake.wait(POLL_SECONDS)
                self._wake.clear()
                try:
                    if store is None:
                        store = Store(self.config.database_path, self.config.raw_dir)
                    rules, renderer, worker = self._current_tools(rules, renderer, worker)
                    self._pass(store, rules, renderer, worker)
                except Exception:  # the database unavailable, a bug: log, wait, try again
                    log.exception("examination pass failed; the next one is in %.0f s", POLL_SECONDS,
                                  extra={"event": "examination_failed"})
                    self._stop.wait(POLL_SECONDS)
        finally:
            worker.close()
            if store is not None:
                store.close()

    def _pass(self, store: Store, rules: Rules, renderer: Renderer, worker: Worker) -> None:
        for ticket_id in examination.pending(store):
            if self._stop.is_set():
                return
            if self._tools_changed:
                return  # the next pass starts at once (use() woke it) with the new ones
            examination.examine_or_count_failure(store, self.config, rules, worker, renderer, ticket_id)

    def _current_tools(self, rules: Rules, renderer: Renderer, worker: Worker) -> tuple[Rules, Renderer, Worker]:
        with self._tools_lock:
            if not self._tools_changed:
                return rules, renderer, worker
            self._tools_changed = False
            rules, renderer = self._tools
        worker.close()  # it holds its own copy of the rules
        return rules, renderer, Worker(rules)
