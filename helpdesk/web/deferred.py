"""What the self-service page sends, done after its answer.

Issue 22: "send code" took 354 ms for a real account (the SMS program ran
inside the request) and 6 ms for an unknown one, which told who has an
account. Now the request only hands a job to this queue, for a real
account and for an unknown one alike (the unknown one's job sends
nothing), and answers; one worker thread of the web process runs the jobs
a moment later (``DELAY``, so that the answer has left before the job
takes the interpreter and the database), in order.

Bounded: a full queue drops the job with an ERROR line rather than making
the request wait (a wait would be the very signal this removes). The
global send budget (web/budgets.py, 200 an hour by default) keeps it far
from full. A job lost to a stop of the process (or a full queue) is an
email or SMS that never left: the person asks again, as after a lost
email; the audit line of the send is written by the job, so it is missing
too.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable

log = logging.getLogger(__name__)

DELAY = 0.05  # seconds between the answer and the job: a page is written in about 2 ms
CAPACITY = 256


class Deferred:
    """One worker thread running jobs after a short delay, in order."""

    def __init__(self, delay: float = DELAY, capacity: int = CAPACITY):
        self.delay = delay
        self.jobs: queue.Queue = queue.Queue(capacity)
        self.thread = threading.Thread(target=self._run, name="helpdesk-web-deferred", daemon=True)
        self.thread.start()

    def submit(self, job: Callable[[], None]) -> bool:
        """Queue ``job``; False (logged) when the queue is full."""
        try:
            self.jobs.put_nowait((time.monotonic() + self.delay, job))
            return True
        except queue.Full:
            log.error("self-service: the deferred send queue is full (%d); a send was dropped", CAPACITY,
                      extra={"event": "web_deferred_full"})
            return False

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every queued job has run (tests, bench); True when so."""
        deadline = time.monotonic() + timeout
        while self.jobs.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def _run(self) -> None:
        while True:
            ready_at, job = self.jobs.get()
            try:
                pause = ready_at - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                job()
            except Exception:  # one failed send must not stop the ones after it
                log.exception("self-service: a deferred send failed", extra={"event": "web_deferred_failed"})
            finally:
                self.jobs.task_done()
