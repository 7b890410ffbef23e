"""The loop: fetch, store raw, process each message in its own transaction,
move it, deliver the outbox, wait.

The order of one message's steps is what makes a crash harmless:

    fetch -> save raw (fsync) -> transaction (ticket + outbox) -> move

A crash before the commit leaves the message in the inbox: it is read again.
A crash after the commit and before the move also leaves it there: it is
read again and deduplicated by Message-ID. Outbox rows are delivered after
the commit, so no email can exist for a state that was rolled back.

The daemon is the one processor of its database: ``Daemon.open`` takes the
database's lock (lock.py) before opening anything, and while it waits for
mail it watches for work other processes commit (a staff decision's email,
a retry asked with ``helpdesk retry``) and does it within a second.

The service and ``run --once`` (``run_backlog``) examine documents beside
this loop, in examination/background.py's threads (one document worker
each, one per core), so an ack never waits for another request's
documents; ``run_once`` alone, as a retry or a test calls it, examines
after its intake, in this thread.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

from . import lock, wording
from .config import Config
from .documents.worker import Worker
from .errors import ConfigError, InboxError
from .examination import checks
from .examination import ticket as examination
from .examination.background import BackgroundExaminer
from .faults import crash_point
from .intake import pipeline, quarantine
from .intake.inbox import Incoming, interruptible_sleep, open_source
from .intake.pipeline import Outcome
from .operations import metrics, retention, sdnotify, status
from .outgoing import outbox
from .outgoing.replies import Renderer
from .rules import Rules
from .store import Store

log = logging.getLogger(__name__)

# Deliver the outbox after this many processed messages, so that acks of a
# long backlog do not wait for the end of it (examination comes after the
# whole backlog is acknowledged).
DELIVER_EVERY = 25

# While run --once waits for its examinations, verdicts go out this often.
SWEEP_DELIVERY_SECONDS = 0.5

# While an examiner thread works, the main loop waits for its verdict this
# long at most, then reads the mailbox again (IMAP IDLE is left for the
# quiet moments: Dovecot itself announces new mail 0.5 s late).
EXAMINING_WAIT_SECONDS = 0.5

# How long a stop waits for the examination in hand (a file can take its
# whole timeout); after that the ticket keeps its mark for the next start.
EXAMINER_STOP_SECONDS = 10

# The retention policy is applied at start-up and then this often; a run
# with nothing due costs about 0.1 s on 20,000 tickets (bench/retention.py).
RETENTION_EVERY_SECONDS = 24 * 3600


class Daemon:
    def __init__(self, config: Config, store: Store, held: lock.InstanceLock | None = None):
        self.config = config
        self.store = store
        self.held = held  # the database's lock: released (and the store closed) by close()
        self.rules, self.renderer = self._load_rules_and_templates()
        self.worker = Worker(self.rules, config.documents)  # started at its first file; unused while an examiner runs
        self.examiner: BackgroundExaminer | None = None  # run_forever's or run_backlog's, beside intake
        self._source = None  # opened at first use: a retry needs no mailbox
        self.stopping = False
        self.reload_requested = False
        self.watchdog = sdnotify.Watchdog()
        self.next_retention = 0.0  # monotonic; 0: at the first idle moment
        self._data_version = self._current_data_version()

    @classmethod
    def open(cls, config: Config, role: str = lock.DAEMON) -> Daemon:
        """Take the database's lock, then open the database: a second
        instance refuses (``lock.AlreadyRunning``) having touched nothing.

        A brief holder (a staff command delivering its email) is waited
        for; a daemon must not fail its start because of it.
        """
        held = lock.acquire(config.database_path, role, wait=lock.BRIEF_HOLDER_WAIT)
        try:
            return cls(config, Store(config.database_path, config.raw_dir), held)
        except BaseException:
            held.release()
            raise

    @property
    def source(self):
        if self._source is None:
            self._source = open_source(self.config, self.store)
        return self._source

    def stop(self) -> None:
        """Ask the loop to finish the current message and return."""
        self.stopping = True

    def request_reload(self) -> None:
        """SIGHUP: reload rules and templates between two messages."""
        self.reload_requested = True

    def _interrupted(self) -> bool:
        """Asked about once a second by every wait: also the moment to tell
        systemd's watchdog that the loop is alive, and to look for work
        another process committed (the wait ends, a cycle does it)."""
        self.watchdog.ping()
        return self.stopping or self.reload_requested or self._work_arrived()

    def _between_attempts(self) -> bool:
        """The wait before reconnecting to a failing mailbox: work that needs
        no mailbox (a staff decision's email, a retry) is done meanwhile."""
        self.watchdog.ping()
        if not (self.stopping or self.reload_requested) and self._work_arrived():
            self.serve_local_work()
        return self.stopping or self.reload_requested

    def _work_arrived(self) -> bool:
        """Did another process commit an email due now or a retry request?

        ``PRAGMA data_version`` changes only when another connection
        commits, so a quiet database costs one pragma a second; the two
        probes behind it read one index row each.
        """
        version = self._current_data_version()
        if version == self._data_version:
            return False
        self._data_version = version
        return outbox.has_due(self.store) or quarantine.has_requests(self.store)

    def _current_data_version(self) -> int:
        return self.store.one("PRAGMA data_version")[0]

    def _load_rules_and_templates(self) -> tuple[Rules, Renderer]:
        """What a start and a SIGHUP read from disk; a ConfigError names the bad file."""
        return checks.load_rules(self.config), Renderer(self.config)

    def reload(self) -> bool:
        """Load the rules and templates again; on any error keep the ones in use.

        Called only between messages, so a message is examined and answered
        with one set of rules from start to end. The worker is replaced
        because it holds its own copy of the rules.
        """
        self.reload_requested = False
        sdnotify.notify("RELOADING=1", "STATUS=Leyendo de nuevo las reglas y las plantillas")
        try:
            rules, renderer = self._load_rules_and_templates()
        except ConfigError as exc:
            log.error("reload refused, the previous rules and templates stay in use: %s", exc,
                      extra={"event": "reload_failed"})
            sdnotify.notify("READY=1", f"STATUS=Recarga rechazada, siguen las reglas anteriores: {exc}")
            return False
        except Exception:  # a bug in loading must not stop the mail either
            log.exception("reload refused, the previous rules and templates stay in use",
                          extra={"event": "reload_failed"})
            sdnotify.notify("READY=1", "STATUS=Recarga rechazada, siguen las reglas anteriores (vea el registro)")
            return False
        self.rules, self.renderer = rules, renderer
        self.worker.close()
        self.worker = Worker(rules, self.config.documents)
        if self.examiner is not None:
            self.examiner.use(rules, renderer)
        log.info("rules and templates reloaded", extra={"event": "reloaded"})
        sdnotify.notify("READY=1", "STATUS=Reglas y plantillas recargadas; atendiendo el buzón")
        return True

    # -- one message ----------------------------------------------------

    def handle(self, incoming: Incoming) -> Outcome | None:
        self.watchdog.ping()
        crash_point("after_fetch")
        try:
            sha256 = incoming.sha256 or self.store.save_raw(incoming.raw)
        except OSError as exc:
            # Not stored, so not processed and not moved: read again later.
            log.error("cannot store %s: %s", incoming.ref, exc, extra={"event": "store_failed"})
            return None
        crash_point("after_store")
        outcome = self.process_stored(incoming.raw, sha256, incoming.ref)
        crash_point("after_commit")
        self.source.done(incoming)
        crash_point("after_move")
        if self.examiner is not None:
            self.examiner.wake()  # its documents are examined while the next message is read
        return outcome

    def process_stored(self, raw: bytes, sha256: str, ref: str) -> Outcome:
        try:
            outcome = pipeline.process(self.store, self.config, self.renderer, self.rules, raw, sha256)
        except Exception as exc:  # any bug or hostile input: quarantine, go on
            log.error("quarantined %s (sha256 %s): %s", ref, sha256[:12], exc, exc_info=True,
                      extra={"event": "quarantined"})
            quarantine.add(self.store, sha256, ref, f"{type(exc).__name__}: {exc}")
            return Outcome("quarantined", "", reason=f"{type(exc).__name__}: {exc}")
        log.info(
            "%s%s%s", outcome.action,
            f" ({outcome.reason})" if outcome.reason else "",
            f", queued {','.join(outcome.replies)}" if outcome.replies else "",
            extra={"event": outcome.action, "radicado": outcome.radicado, "message_id": outcome.message_id},
        )
        return outcome

    def retry(self, item: quarantine.Quarantined) -> Outcome:
        """Run a quarantined message through the pipeline again."""
        raw = self.store.load_raw(item.sha256)
        outcome = self.process_stored(raw, item.sha256, item.source_ref)
        if outcome.action != "quarantined":
            quarantine.resolve(self.store, item.id)
        return outcome

    def serve_retry_requests(self) -> list[Outcome]:
        """Retry what ``helpdesk retry`` asked for and record each outcome
        for the command waiting for it."""
        done = []
        for item in quarantine.requested(self.store):
            if self.stopping:
                break
            try:
                outcome = self.retry(item)
            except OSError as exc:  # its original is gone since the request (retention, a restore)
                outcome = Outcome("quarantined", "", reason=f"no se puede leer el correo original: {exc.strerror}")
            quarantine.record_retry(self.store, item.id, outcome)
            done.append(outcome)
        return done

    # -- cycles ---------------------------------------------------------

    def run_once(self) -> list[Outcome]:
        """Process what is in the inbox now and deliver what is due."""
        done: list[Outcome] = []
        if self.reload_requested:
            self.reload()
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
            if self.reload_requested:
                self.reload()
        self.source.flush()  # a loop left early (a stop) leaves its batch's handled messages
        status.poll_succeeded(self.store)
        self.serve_local_work()
        return done

    def run_backlog(self) -> list[Outcome]:
        """``run --once``: the backlog read and acknowledged first (every
        request gets its radicado before any document is examined), then
        examined by the examiner threads on every core, their verdicts
        delivered as they commit; returns once every ticket marked by then
        was examined (or failed) once. The threads and their workers start
        beside the intake, so the examination begins with warm workers."""
        self.examiner = BackgroundExaminer(self.config, self.rules, self.renderer)
        self.examiner.hold()
        self.examiner.start()
        try:
            done = self.run_once()
            self.examiner.release()
            targets = self.examiner.sweep()
            while not self.stopping and not self.examiner.swept(targets, SWEEP_DELIVERY_SECONDS):
                self.deliver()
        finally:
            self._stop_examiner()
        self.deliver()
        return done

    def serve_local_work(self) -> None:
        """What needs no mailbox: requested retries, the outbox, examinations,
        changes of registered email whose hold has ended."""
        self.serve_retry_requests()
        self.apply_email_changes()
        self.keep_terms()
        # Acks first: they promise a radicado "before documents are examined".
        self.deliver()
        if self.examiner is not None:
            self.examiner.wake()  # its verdicts are delivered as they commit
            return
        self.examine_pending()
        self.deliver()

    def apply_email_changes(self) -> None:
        """Changes of registered email confirmed and past their hold
        (staff/email_change.py): applied here, once, in this cycle; their
        notices go out with the delivery that follows."""
        from .staff import email_change

        self.watchdog.ping()
        try:
            email_change.apply_due(self.store, self.config, self.renderer)
        except Exception:  # the mail must go on; the change stays due and is tried next cycle
            log.exception("changes of registered email not applied", extra={"event": "email_change_failed"})

    def keep_terms(self) -> None:
        """The legal terms' step (helpdesk/terms/clock.py): correction
        reminders and withdrawals due today, and the day's staff digest;
        their emails go out with the delivery that follows."""
        from .terms import clock

        self.watchdog.ping()
        try:
            clock.run(self.store, self.config, self.renderer, self.rules)
        except Exception:  # the mail must go on; what is due stays due and is done next cycle
            log.exception("legal terms step failed", extra={"event": "terms_failed"})

    def examine_pending(self, only: set[int] | None = None) -> None:
        """Examine the documents of every ticket marked for it (or of those in ``only``)."""
        for ticket_id in examination.pending(self.store):
            if only is not None and ticket_id not in only:
                continue
            if self.stopping:
                return
            if self.reload_requested:
                self.reload()
            self.watchdog.ping()
            examination.examine_or_count_failure(self.store, self.config, self.rules, self.worker, self.renderer,
                                                 ticket_id)

    def deliver(self) -> None:
        self.watchdog.ping()
        sent, failing = outbox.deliver_due(self.store, self.config)
        self.watchdog.ping()
        if sent or failing:
            log.info("outbox: %d sent, %d deferred or failed", sent, failing)

    def run_forever(self) -> None:
        # Ready once the rules, templates and database are loaded and the
        # signal handlers are in place; the mailbox may still be down (that
        # is reported, and retried, not a failed start).
        self.examiner = BackgroundExaminer(self.config, self.rules, self.renderer)
        self.examiner.start()
        sdnotify.notify("READY=1", "STATUS=Atendiendo el buzón")
        backoff = 1.0
        while not self.stopping:
            try:
                self._keep_examiner()
                self.run_once()
                self.apply_retention()
                self.write_metrics()
                if self.stopping:
                    break
                if backoff > 1.0:
                    sdnotify.notify("STATUS=Atendiendo el buzón")
                if self.examiner is not None and self.examiner.busy():
                    # A verdict is being made: it goes out the moment it is
                    # committed, not at the mailbox wait's next one-second
                    # look at the database; the mailbox is fetched again
                    # after at most EXAMINING_WAIT_SECONDS.
                    self.watchdog.ping()
                    self.examiner.wait_examined(min(EXAMINING_WAIT_SECONDS, self._seconds_to_next_delivery()))
                else:
                    self.source.wait(self._seconds_to_next_delivery(), self._interrupted)
                backoff = 1.0
            except InboxError as exc:
                # Loud every time, and counted: a mailbox that keeps failing
                # (wrong password, expired token, bad certificate) must be
                # seen in the journal and by monitoring, never skipped.
                failures = status.poll_failed(self.store, str(exc))
                log.error("inbox unavailable (%d consecutive failures), retrying in %.0f s: %s",
                          failures, backoff, exc, extra={"event": "poll_failed"})
                self.write_metrics()
                tries = wording.count(failures, "intento fallido", "intentos fallidos seguidos")
                sdnotify.notify(f"STATUS=Buzón no disponible ({tries}): {exc}"[:400])
                self.source.close()
                self.serve_local_work()  # a mailbox that is down holds up no decision's email
                interruptible_sleep(backoff, self._between_attempts)
                backoff = min(backoff * 2, self.config.inbox.reconnect_max_seconds)
        sdnotify.notify("STOPPING=1", "STATUS=Deteniéndose")
        self._stop_examiner()
        self.deliver()  # a verdict the examiner committed just before the stop goes out now
        self.close()
        log.info("stopped")

    def apply_retention(self) -> None:
        """Once a day, after a cycle (the backlog is done): purge what the policy says."""
        if time.monotonic() < self.next_retention or self.stopping:
            return
        self.next_retention = time.monotonic() + RETENTION_EVERY_SECONDS
        try:
            retention.purge(self.store, self.config)
        except Exception:  # records must never stop the mail; tried again tomorrow
            log.exception("retention policy failed; the next attempt is in 24 h", extra={"event": "retention_failed"})

    def write_metrics(self) -> None:
        """Rewrite the Prometheus file; monitoring must never stop the mail."""
        path = self.config.metrics_path
        if path is None:
            return
        try:
            from .terms.office import office_of

            metrics.write(self.store, path, office_of(self.config, self.rules.procedures), self.config.terms.warn_days)
        except OSError as exc:
            log.error("cannot write the metrics file: %s", exc, extra={"event": "metrics_failed"})

    def close(self) -> None:
        """Close the mailbox and the worker; opened by ``open``, also the
        database, then the lock: the next holder finds everything committed."""
        if self._source is not None:
            self._source.close()
        self._stop_examiner()
        self.worker.close()
        if self.held is not None:
            self.store.close()
            self.held.release()

    def _keep_examiner(self) -> None:
        """An examination thread that died (an error its own loop could not
        catch) would leave every ticket unexamined, silently: it is said
        loudly and replaced; the tickets it held keep their marks."""
        if self.examiner is not None and not self.examiner.alive:
            log.error("the examination thread stopped; starting a new one", extra={"event": "examiner_restarted"})
            self._stop_examiner()  # its other threads: one pool at a time
            self.examiner = BackgroundExaminer(self.config, self.rules, self.renderer)
            self.examiner.start()

    def _stop_examiner(self) -> None:
        examiner, self.examiner = self.examiner, None
        if examiner is not None and not examiner.stop(EXAMINER_STOP_SECONDS):
            log.warning("stopped in the middle of an examination; it is done again at the next start",
                        extra={"event": "examination_interrupted"})

    def _seconds_to_next_delivery(self) -> float:
        from .staff import email_change

        # A hold that ends wakes the loop as a due email does.
        upcoming = min((t for t in (outbox.next_due_at(self.store), email_change.next_due_at(self.store)) if t),
                       default=None)
        if upcoming is None:
            return float(self.config.inbox.idle_restart_seconds)
        return max(1.0, (upcoming - datetime.now(timezone.utc)).total_seconds())

