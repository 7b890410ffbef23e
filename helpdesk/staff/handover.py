"""Work a command leaves to the one processor: the email it queued, the
messages it asks to retry.

Only the holder of the database's lock (lock.py) delivers the outbox and
processes messages (CONTRACT §8). A staff decision commits its email to the
outbox together with the decision; then ``deliver_queued``:

- a daemon holds the lock: it sees the commit within a second and delivers;
  the command watches the email for a few seconds to say what became of it;
- nobody holds it: the command takes the lock for one delivery, if it can
  read the SMTP secret, and lets it go at once;
- otherwise the email stays queued: the service sends it once it runs, and
  retries it while the SMTP server is down.

``retry`` records the request on the quarantine row. Whoever holds the lock
serves it (a daemon within a second, ``run --once`` in its cycle); when the
lock is free the command takes it and serves the request itself. Either way
the ticket is examined at once and the command reports the outcome.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

from .. import lock
from ..config import Config
from ..intake import quarantine
from ..intake.pipeline import Outcome
from ..outgoing import outbox
from ..store import Store
from ..tickets import state_label

# Another staff command delivering holds the lock for one SMTP batch.
STAFF_LOCK_WAIT = 5.0
# How long a command watches a running daemon deliver its email (it looks
# once a second) before saying it is queued.
WATCH_SECONDS = 10.0
# How long `retry` waits for the holder to serve its request; a daemon deep
# in a backlog serves it after, the request stays recorded.
RETRY_WAIT_SECONDS = 60.0
START_HINT = "inícielo (systemctl start helpdesk) para que salga"


@dataclass(frozen=True)
class Delivery:
    """What became of the email a command just queued."""

    status: str  # the outbox row's: pending, sent, failed (permanent), bounced
    attempts: int
    error: str  # the SMTP server's last answer, or why this process could not deliver
    daemon: lock.Holder | None = None  # the running daemon that took it over
    lock_was_free: bool = False  # no daemon ran: this process was the one to deliver

    def message(self) -> str:
        """What to tell the staff member: one line in Spanish."""
        if self.status == "sent":
            return f"El servicio (pid {self.daemon.pid}) envió el correo." if self.daemon else "Correo enviado."
        if self.status in ("failed", "bounced"):
            return f"El servidor SMTP rechazó el correo y no se reintentará: {self.error}. Vea helpdesk outbox."
        if self.attempts:
            line = (f"El correo quedó en cola: el servidor SMTP no lo aceptó ({self.error}); "
                    "el servicio lo reintentará")
        elif self.daemon:
            line = (f"El correo quedó en cola; el servicio (pid {self.daemon.pid}) lo enviará en unos segundos "
                    "y lo reintentará si el servidor SMTP no responde")
        elif self.error:
            line = f"El correo quedó en cola y lo enviará el servicio (desde aquí no se pudo enviar: {self.error})"
        else:
            line = "El correo quedó en cola y lo enviará el servicio"
        if self.lock_was_free:
            line += f". El servicio no parece estar en marcha: {START_HINT}"
        return line + "."

    @property
    def ok(self) -> bool:
        return self.status == "sent"


def deliver_queued(store: Store, config: Config, row_id: int) -> Delivery:
    """See the email of outbox row ``row_id`` (the one the command just
    queued) delivered by whoever may deliver. The row is named, not taken
    as the newest: the daemon's examination queues verdicts meanwhile."""
    try:
        held = lock.acquire(config.database_path, lock.STAFF, wait=STAFF_LOCK_WAIT)
    except lock.AlreadyRunning as exc:
        if exc.holder is None or exc.holder.role != lock.DAEMON:
            return _state(store, row_id)
        return _watch(store, row_id, exc.holder)
    except lock.LockUnavailable as exc:
        return _state(store, row_id, error=str(exc))
    with held:
        error = deliver_here(store, config)
    return _state(store, row_id, error=error, lock_was_free=True)


def deliver_here(store: Store, config: Config) -> str:
    """Deliver what is due; the caller holds the lock. Returns why it could
    not ("" when it could): the decision is committed, so nothing here may
    turn into a failed command."""
    # A deferral is the staff member's one Spanish line (Delivery.message), not
    # also the operator's log line; a permanent failure stays logged.
    quiet = logging.getLogger(outbox.__name__)
    level = quiet.level
    quiet.setLevel(max(level, logging.ERROR))
    try:
        outbox.deliver_due(store, config)
    except Exception as exc:  # the SMTP secret is the service's, the outbox folder too
        return str(exc) or type(exc).__name__
    finally:
        quiet.setLevel(level)
    return ""



def _watch(store: Store, row_id: int, daemon: lock.Holder) -> Delivery:
    """Wait a few seconds for the daemon's first attempt at the email."""
    deadline = time.monotonic() + WATCH_SECONDS
    while True:
        delivery = _state(store, row_id, daemon=daemon)
        if delivery.status != "pending" or delivery.attempts or time.monotonic() >= deadline:
            return delivery
        time.sleep(0.2)


def _state(store: Store, row_id: int, error: str = "", daemon: lock.Holder | None = None,
           lock_was_free: bool = False) -> Delivery:
    row = store.one("SELECT status, attempts, last_error FROM outbox WHERE id = ?", (row_id,))
    return Delivery(row["status"], row["attempts"], row["last_error"] or error, daemon, lock_was_free)


# -- retry ------------------------------------------------------------------


@dataclass(frozen=True)
class Retried:
    """One quarantined message after a retry; ``outcome`` None: not served yet."""

    item_id: int
    outcome: Outcome | None
    state: str | None = None  # its ticket's state afterwards
    examining: bool = False  # its ticket still waits for the examination

    @property
    def done(self) -> bool:
        return self.outcome is not None and not self.examining

    def line(self) -> str:
        if self.outcome is None:
            return f"#{self.item_id}: pedido; aún sin respuesta (vea helpdesk failed en unos minutos)"
        if self.outcome.action == "quarantined":
            return f"#{self.item_id}: sigue fallando: {self.outcome.reason}"
        radicado = f", {self.outcome.radicado}" if self.outcome.radicado else ""
        if self.examining:
            state = "; documentos pendientes de examen"
        else:
            state = f"; estado: {state_label(self.state)}" if self.state else ""
        return f"#{self.item_id}: procesado ({self.outcome.action}{radicado}){state}"


@dataclass(frozen=True)
class RetryReport:
    results: list[Retried]
    served_by: lock.Holder | None  # the process that served it; None: this command
    delivery_error: str = ""  # served here: why its emails are still queued

    @property
    def still_failing(self) -> int:
        return sum(1 for r in self.results if r.outcome and r.outcome.action == "quarantined")


def retry(store: Store, config: Config, items: list[quarantine.Quarantined]) -> RetryReport:
    """Have the lock holder retry ``items`` and examine their tickets; report what happened."""
    ids = [i.id for i in items]
    quarantine.request_retry(store, ids)
    deadline = time.monotonic() + RETRY_WAIT_SECONDS
    holder = None
    while True:
        results = _results(store, ids)
        if all(r.done for r in results):
            return RetryReport(results, holder)
        try:
            held = lock.acquire(config.database_path, lock.RETRY)
        except lock.AlreadyRunning as exc:
            holder = exc.holder or holder
            if time.monotonic() >= deadline:
                return RetryReport(results, holder)
            time.sleep(0.5)
            continue
        with held:
            error = _serve_here(store, config, ids)
        return RetryReport(_results(store, ids), None, error)


def _serve_here(store: Store, config: Config, ids: list[int]) -> str:
    """No daemon runs: this command is the processor, for these messages only."""
    from ..daemon import Daemon

    daemon = Daemon(config, store)  # the lock is ours; the store stays the caller's
    try:
        daemon.serve_retry_requests()
        error = deliver_here(store, config)  # acks first, as the daemon does
        radicados = [r.outcome.radicado for r in _results(store, ids) if r.outcome and r.outcome.radicado]
        tickets = {row["id"] for row in store.query(
            f"SELECT id FROM tickets WHERE radicado IN ({','.join('?' * len(radicados))})", radicados)}
        daemon.examine_pending(only=tickets)
        return deliver_here(store, config) or error
    finally:
        daemon.close()


def _results(store: Store, ids: list[int]) -> list[Retried]:
    results = []
    for item_id in ids:
        row = store.one(
            "SELECT q.retry_requested_at, q.retry_outcome, t.state, t.examine_pending FROM quarantine q "
            "LEFT JOIN tickets t ON t.radicado = json_extract(q.retry_outcome, '$.radicado') WHERE q.id = ?",
            (item_id,))
        if row["retry_requested_at"] is not None or not row["retry_outcome"]:
            results.append(Retried(item_id, None))
            continue
        outcome = Outcome(**json.loads(row["retry_outcome"]))
        results.append(Retried(item_id, outcome, row["state"], examining=bool(row["examine_pending"])))
    return results
