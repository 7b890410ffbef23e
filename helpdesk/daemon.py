"""The loop: fetch, store raw, process each message in its own transaction,
move it, deliver the outbox, wait.

The order of one message's steps is what makes a crash harmless:

    fetch -> save raw (fsync) -> transaction (ticket + outbox) -> move

A crash before the commit leaves the message in the inbox: it is read again.
A crash after the commit and before the move also leaves it there: it is
read again and deduplicated by Message-ID. Outbox rows are delivered after
the commit, so no email can exist for a state that was rolled back.
"""

from __future__ import annotations

import logging
import time
import traceback
from datetime import datetime, timezone

from . import examination, outbox, pipeline, quarantine
from .config import Config
from .documents.worker import Worker
from .errors import InboxError
from .faults import crash_point
from .inbox import Incoming, interruptible_sleep, open_source
from .pipeline import Outcome
from .replies import Renderer
from .rules import load_all
from .store import Store

log = logging.getLogger(__name__)

# Deliver the outbox after this many processed messages, so that acks of a
# long backlog do not wait for the end of it (examination comes after the
# whole backlog is acknowledged).
DELIVER_EVERY = 25


class Daemon:
    def __init__(self, config: Config, store: Store):
        self.config = config
        self.store = store
        self.renderer = Renderer(config)
        self.rules = load_all(config.rules_dir)
        self.worker = Worker(self.rules, config.rules_dir)
        self.source = open_source(config, store)
        self.stopping = False

    def stop(self) -> None:
        """Ask the loop to finish the current message and return."""
        self.stopping = True

    # -- one message ----------------------------------------------------

    def handle(self, incoming: Incoming) -> Outcome | None:
        crash_point("after_fetch")
        try:
            sha256 = self.store.save_raw(incoming.raw)
        except OSError as exc:
            # Not stored, so not processed and not moved: read again later.
            log.error("cannot store %s: %s", incoming.ref, exc)
            return None
        crash_point("after_store")
        outcome = self.process_stored(incoming.raw, sha256, incoming.ref)
        crash_point("after_commit")
        self.source.done(incoming)
        crash_point("after_move")
        return outcome

    def process_stored(self, raw: bytes, sha256: str, ref: str) -> Outcome:
        try:
            outcome = pipeline.process(self.store, self.config, self.renderer, self.rules, raw, sha256)
        except Exception as exc:  # any bug or hostile input: quarantine, go on
            log.error("quarantined %s (sha256 %s): %s\n%s", ref, sha256[:12], exc, traceback.format_exc())
            quarantine.add(self.store, sha256, ref, f"{type(exc).__name__}: {exc}")
            return Outcome("quarantined", "", reason=f"{type(exc).__name__}: {exc}")
        log.info(
            "%s message_id=<%s> radicado=%s%s%s",
            outcome.action, outcome.message_id, outcome.radicado or "-",
            f" reason={outcome.reason}" if outcome.reason else "",
            f" queued={','.join(outcome.replies)}" if outcome.replies else "",
        )
        return outcome

    def retry(self, item: quarantine.Quarantined) -> Outcome:
        """Run a quarantined message through the pipeline again."""
        raw = self.store.load_raw(item.sha256)
        outcome = self.process_stored(raw, item.sha256, item.source_ref)
        if outcome.action != "quarantined":
            quarantine.resolve(self.store, item.id)
        return outcome

    # -- cycles ---------------------------------------------------------

    def run_once(self) -> list[Outcome]:
        """Process what is in the inbox now and deliver what is due."""
        done: list[Outcome] = []
        for incoming in self.source.fetch():
            outcome = self.handle(incoming)
            if outcome is not None:
                done.append(outcome)
                if len(done) % DELIVER_EVERY == 0:
                    # Acks first: every request in a backlog gets its
                    # radicado before any document is examined.
                    self.deliver()
            if self.stopping:
                break
        # Acks first: they promise a radicado "before documents are examined".
        self.deliver()
        self.examine_pending()
        self.deliver()
        return done

    def examine_pending(self) -> None:
        """Examine the documents of every ticket marked for it."""
        for ticket_id in examination.pending(self.store):
            if self.stopping:
                return
            crash_point("before_examination")
            try:
                examination.examine_ticket(self.store, self.config, self.rules, self.worker, self.renderer, ticket_id)
            except Exception:  # a bug must not stop intake; the mark stays for a retry
                log.exception("examination of ticket %s failed; it will be retried", ticket_id)

    def deliver(self) -> None:
        sent, failing = outbox.deliver_due(self.store, self.config)
        if sent or failing:
            log.info("outbox: %d sent, %d deferred or failed", sent, failing)

    def run_forever(self) -> None:
        backoff = 1.0
        while not self.stopping:
            try:
                self.run_once()
                if self.stopping:
                    break
                self.source.wait(self._seconds_to_next_delivery(), lambda: self.stopping)
                backoff = 1.0
            except InboxError as exc:
                # Loud every time: a mailbox that keeps failing must be seen.
                log.error("inbox unavailable, retrying in %.0f s: %s", backoff, exc)
                self.source.close()
                interruptible_sleep(backoff, lambda: self.stopping)
                backoff = min(backoff * 2, self.config.inbox.reconnect_max_seconds)
        self.close()
        log.info("stopped")

    def close(self) -> None:
        self.source.close()
        self.worker.close()

    def _seconds_to_next_delivery(self) -> float:
        upcoming = outbox.next_due_at(self.store)
        if upcoming is None:
            return float(self.config.inbox.idle_restart_seconds)
        return max(1.0, (upcoming - datetime.now(timezone.utc)).total_seconds())


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.Formatter.converter = time.gmtime
