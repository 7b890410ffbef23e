"""The daemon as a real process: IDLE, outages, SIGTERM, and kill -9 at
every step of a message, proving nothing is lost and nothing is sent twice;
and the order of those steps (a message leaves the inbox after its commit)."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import psutil
import pytest

from helpdesk import config as config_mod
from helpdesk.store import Store

from . import mails
from .conftest import USER, networked_sections, write_config
from .servers import SmtpCapture

ROOT = Path(__file__).resolve().parent.parent


class DaemonProcess:
    """``helpdesk run`` (or ``run --once``) in a subprocess, logging to a file."""

    def __init__(self, config_path: Path, *args: str, crash_at: str = "", extra_env: dict | None = None):
        env = {**os.environ, "PYTHONPATH": str(ROOT), **(extra_env or {})}
        env.pop("HELPDESK_CRASH_AT", None)
        if crash_at:
            env["HELPDESK_CRASH_AT"] = crash_at
        self.log_path = config_path.parent / f"daemon-{time.time_ns()}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "helpdesk", "--config", str(config_path), "run", *args],
            stdout=self.log, stderr=subprocess.STDOUT, env=env,
        )

    def wait_connected(self, timeout: float = 15) -> None:
        """Until the daemon has logged in to IMAP (and so holds the lock)."""
        assert wait_until(lambda: "connected to IMAP" in self.output(), timeout), self.output()

    def wait(self, timeout: float = 60) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.log.close()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait(30)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_until(predicate, timeout: float = 20, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@pytest.fixture
def setup(tmp_path, dovecot, smtp_server):
    root = tmp_path / "helpdesk"
    root.mkdir()
    path = write_config(root / "config.toml", networked_sections(dovecot, smtp_server))
    return path, dovecot, smtp_server


def acks_by_ticket(store: Store) -> dict[str, int]:
    return {r["radicado"]: r["n"] for r in store.query(
        "SELECT t.radicado, count(o.id) AS n FROM tickets t LEFT JOIN outbox o ON o.ticket_id = t.id "
        "AND o.kind = 'ack' GROUP BY t.id")}


def test_idle_daemon_answers_new_mail_and_stops_on_sigterm(setup):
    path, dovecot, smtp = setup
    daemon = DaemonProcess(path)
    try:
        daemon.wait_connected()
        time.sleep(0.5)  # let it enter IDLE
        dovecot.append(USER, mails.request())
        assert smtp.wait_for(1, timeout=10), daemon.output()
    finally:
        code = daemon.stop()
    assert code == 0, daemon.output()
    assert "stopped" in daemon.output()
    assert "Traceback" not in daemon.output()


def test_dovecot_outage_reconnects_misses_nothing_and_does_not_spin(setup):
    path, dovecot, smtp = setup
    daemon = DaemonProcess(path)
    try:
        daemon.wait_connected()
        proc = psutil.Process(daemon.proc.pid)
        time.sleep(0.5)
        dovecot.stop()
        cpu_before = sum(proc.cpu_times()[:2])
        time.sleep(4)
        cpu_down = sum(proc.cpu_times()[:2]) - cpu_before
        dovecot.start()
        dovecot.append(USER, mails.request(subject="durante la caída"))
        assert smtp.wait_for(1, timeout=20), daemon.output()
        # Idle while waiting: a spinning loop would burn ~4 s of CPU here.
        cpu_before = sum(proc.cpu_times()[:2])
        time.sleep(3)
        cpu_idle = sum(proc.cpu_times()[:2]) - cpu_before
    finally:
        assert daemon.stop() == 0
    assert cpu_down < 0.5, f"{cpu_down:.2f} s of CPU while the server was down"
    assert cpu_idle < 0.5, f"{cpu_idle:.2f} s of CPU while idle"
    assert "inbox unavailable" in daemon.output()


def test_polling_fallback_without_idle(tmp_path, dovecot, smtp_server):
    root = tmp_path / "h"
    root.mkdir()
    path = write_config(root / "config.toml", networked_sections(dovecot, smtp_server, inbox={"idle": False, "poll_seconds": 1}))
    daemon = DaemonProcess(path)
    try:
        daemon.wait_connected()
        dovecot.append(USER, mails.request())
        assert smtp_server.wait_for(1, timeout=10)
    finally:
        assert daemon.stop() == 0


BACKLOG = 6


def _fill(dovecot, count=BACKLOG):
    for n in range(count):
        dovecot.append(USER, mails.request(sender=f"u{n}@alcaldia-prueba.gov.co", subject=f"pedido {n}"))


def _assert_exactly_once(path: Path, smtp: SmtpCapture, dovecot, count=BACKLOG, in_flight: int = 0):
    """One ticket, one ack and one verdict per request. ``in_flight``: how
    many emails may have been sent twice, each with the same Message-ID: a
    kill at an arbitrary moment can fall after the SMTP server accepted an
    email and before its row was marked sent (outgoing/outbox.py's one window)."""
    config = config_mod.load(path)
    store = Store(config.database_path, config.raw_dir)
    assert store.one("SELECT count(*) FROM tickets")[0] == count
    assert set(acks_by_ticket(store).values()) == {1}
    # Each ticket: one ack and one verdict of its examination (a correction:
    # the backlog's requests carry no documents).
    assert smtp.wait_for(2 * count, timeout=10)
    time.sleep(0.3)
    received = Counter((m.message["X-Helpdesk-Radicado"], m.message["X-Helpdesk-Kind"]) for m in smtp.snapshot())
    assert len(received) == 2 * count, received
    assert sum(n - 1 for n in received.values()) <= in_flight, received
    for key in (k for k, n in received.items() if n > 1):
        ids = {m.message["Message-ID"] for m in smtp.snapshot()
               if (m.message["X-Helpdesk-Radicado"], m.message["X-Helpdesk-Kind"]) == key}
        assert len(ids) == 1, (key, ids)  # a resend, recognisable as such
    assert {kind for _r, kind in received} == {"ack", "correction"}
    # Every request got its own ticket: one ack per original sender.
    # (A resend allowed above carries the same Message-ID: count it once.)
    acks = {m.message["Message-ID"]: m for m in smtp.snapshot() if m.message["X-Helpdesk-Kind"] == "ack"}
    assert sorted(m.rcpt_tos[0] for m in acks.values()) == sorted(f"u{n}@alcaldia-prueba.gov.co" for n in range(count))
    assert dovecot.message_count(USER, "INBOX") == 0
    assert dovecot.message_count(USER, "Procesados") == count
    radicados = sorted(r["radicado"] for r in store.query("SELECT radicado FROM tickets"))
    assert [int(r[-6:]) for r in radicados] == list(range(1, count + 1))  # no gap
    store.close()


@pytest.mark.parametrize("crash_at", ["after_fetch@3", "after_store@3", "after_commit@3", "after_move@3",
                                      "before_examination@2"])
def test_kill_9_mid_message_then_restart_gives_exactly_once(setup, crash_at):
    path, dovecot, smtp = setup
    _fill(dovecot)
    crashed = DaemonProcess(path, "--once", crash_at=crash_at)
    assert crashed.wait() == -signal.SIGKILL
    again = DaemonProcess(path, "--once")
    assert again.wait() == 0, again.output()
    _assert_exactly_once(path, smtp, dovecot)


def test_kill_9_in_the_services_examination_thread_then_restart_gives_exactly_once(setup):
    # The service examines beside intake (examination/background.py): a
    # kill while the thread is between two tickets loses nothing and
    # repeats no decision. The main thread is wherever it is at that
    # moment, perhaps inside an SMTP delivery: that one email may go out
    # again with its Message-ID, as after a power cut.
    path, dovecot, smtp = setup
    _fill(dovecot)
    crashed = DaemonProcess(path, crash_at="before_examination@3")
    assert crashed.wait() == -signal.SIGKILL
    assert "examined:" in crashed.output()  # it died in the examiner, after two verdicts
    again = DaemonProcess(path, "--once")
    assert again.wait() == 0, again.output()
    _assert_exactly_once(path, smtp, dovecot, in_flight=1)


def committed_at_each_move(env, monkeypatch, move: str) -> list[tuple[int, int]]:
    """Wrap the inbox source's method ``move`` (what takes a message out of
    the inbox); at each call, before it moves anything, record what another
    connection to the database sees committed: (messages in, tickets)."""
    source = env.daemon.source
    original = getattr(source, move)
    seen = []

    def observed(*args, **kwargs):
        with closing(sqlite3.connect(env.config.database_path)) as other:
            seen.append(other.execute("SELECT (SELECT count(*) FROM messages WHERE direction = 'in'), "
                                      "(SELECT count(*) FROM tickets)").fetchone())
        return original(*args, **kwargs)

    monkeypatch.setattr(source, move, observed)
    return seen


def test_a_maildir_message_is_moved_only_after_its_ticket_is_committed(embedded, monkeypatch):
    # The order itself, not a crash: moved before the commit, a crash in
    # between would lose the message (it is no longer in new/).
    seen = committed_at_each_move(embedded, monkeypatch, "done")  # MaildirSource.done is the rename to cur/
    embedded.deliver(mails.request(sender="u1@alcaldia-prueba.gov.co"))
    embedded.deliver(mails.request(sender="u2@alcaldia-prueba.gov.co"))
    assert [o.action for o in embedded.run_once()] == ["new_ticket", "new_ticket"]
    assert seen == [(1, 1), (2, 2)]


def test_an_imap_message_is_moved_only_after_its_ticket_is_committed(networked, monkeypatch):
    seen = committed_at_each_move(networked, monkeypatch, "_move")  # the IMAP MOVE (or COPY and EXPUNGE)
    networked.deliver(mails.request(sender="u1@alcaldia-prueba.gov.co"))
    networked.deliver(mails.request(sender="u2@alcaldia-prueba.gov.co"))
    assert [o.action for o in networked.run_once()] == ["new_ticket", "new_ticket"]
    # One MOVE for the fetch batch (issue 15), after both tickets committed.
    assert seen == [(2, 2)]
    assert networked.dovecot.message_count(USER, "Procesados") == 2


def test_kill_9_during_smtp_data_then_restart_delivers_once(tmp_path, dovecot):
    with SmtpCapture(data_delay=1.5) as slow:
        root = tmp_path / "h"
        root.mkdir()
        path = write_config(root / "config.toml", networked_sections(dovecot, slow, smtp={"timeout": 10.0}))
        _fill(dovecot, 2)
        daemon = DaemonProcess(path, "--once")
        # Kill while the server holds the first DATA, before its final reply.
        assert wait_until(lambda: slow.data_attempts >= 1, 20), daemon.output()
        daemon.proc.kill()
        daemon.wait()
        assert slow.snapshot() == []
        slow.data_delay = 0.0
        again = DaemonProcess(path, "--once")
        assert again.wait() == 0, again.output()
        _assert_exactly_once(path, slow, dovecot, 2)


def _processed(path: Path) -> int:
    config = config_mod.load(path)
    if not config.database_path.exists():
        return 0
    store = Store(config.database_path, config.raw_dir)
    try:
        return store.one("SELECT count(*) FROM tickets")[0]
    finally:
        store.close()


def test_mail_arriving_while_busy_is_not_left_waiting(setup, tmp_path):
    """A request appended while the daemon examines the previous one (after
    its fetch, before IDLE) is answered at once, not at the server's next
    periodic check (seen: 16 to 60 s)."""
    from .test_e2e_documents import documents

    path, dovecot, smtp = setup
    daemon = DaemonProcess(path)
    try:
        daemon.wait_connected()
        time.sleep(0.5)
        for n in range(3):
            dovecot.append(USER, mails.request(sender=f"u{n}@alcaldia-prueba.gov.co", attachments=documents(tmp_path)))
            assert smtp.wait_for(2 * n + 1, timeout=10)  # its ack: examination starts now
            dovecot.append(USER, mails.request(sender=f"v{n}@alcaldia-prueba.gov.co"))
            started = time.monotonic()
            assert wait_until(lambda: len({m.rcpt_tos[0] for m in smtp.snapshot()}) >= 2 * (n + 1), 8), daemon.output()
            assert time.monotonic() - started < 8
            assert smtp.wait_for(4 * (n + 1), timeout=10)
    finally:
        assert daemon.stop() == 0


def test_the_file_outbox_marks_a_batch_in_one_transaction_and_a_crash_before_it_rewrites_the_same_files(
        embedded, monkeypatch):
    # Issue 15: a commit (and an fsync of the log) per email written cost
    # the acks of a backlog; the file outbox writes its batch, then marks it.
    from helpdesk.outgoing import outbox

    for n in range(3):
        embedded.deliver(mails.request(sender=f"u{n}@alcaldia-prueba.gov.co"))
    marked = []
    real = outbox.mark_all_sent

    def crash_before_marking(store, rows):
        marked.append(len(rows))
        raise OSError("crash between the files and the commit")

    monkeypatch.setattr(outbox, "mark_all_sent", crash_before_marking)
    monkeypatch.setattr(embedded.daemon, "examine_pending", lambda *a, **k: None)
    with pytest.raises(OSError):
        embedded.run_once()
    assert marked == [3]  # one transaction for the batch of three acks
    written = sorted(p.name for p in (embedded.root / "outbox").glob("*.eml"))
    assert len(written) == 3 and embedded.count("SELECT count(*) FROM outbox WHERE status = 'sent'") == 0
    monkeypatch.setattr(outbox, "mark_all_sent", real)
    embedded.daemon.deliver()
    assert sorted(p.name for p in (embedded.root / "outbox").glob("*.eml")) == written  # the same files, no more
    assert embedded.count("SELECT count(*) FROM outbox WHERE status = 'sent'") == 3


def test_imap_chunks_are_fetched_ahead_one_command_at_a_time_and_batches_move_after_their_commits(
        tmp_path, dovecot, smtp_server, monkeypatch):
    # Issue 15: the next chunk of a batch is fetched by a thread while this
    # one is processed. The connection still has one user at a time (a MOVE
    # never overlaps a FETCH), and each batch leaves the inbox once, after
    # all its tickets committed.
    import threading

    from helpdesk.intake import inbox

    from .conftest import Networked

    monkeypatch.setattr(inbox, "PREFETCH", 2)
    env = Networked(tmp_path / "h", dovecot, smtp_server, inbox={"fetch_batch": 4})
    try:
        for n in range(6):
            env.deliver(mails.request(sender=f"u{n}@alcaldia-prueba.gov.co"))
        seen = committed_at_each_move(env, monkeypatch, "_move")
        source, busy, overlaps, chunks = env.daemon.source, threading.Lock(), [], []
        fetch_batch, move = source._fetch_batch, source._move

        def fetching(uids):
            chunks.append(list(uids))
            if not busy.acquire(blocking=False):
                overlaps.append(("fetch", uids))
                return fetch_batch(uids)
            try:
                time.sleep(0.2)  # a slow server: the batch's last chunk is processed before the next arrives
                return fetch_batch(uids)
            finally:
                busy.release()

        def moving(uids):
            if not busy.acquire(blocking=False):
                overlaps.append(("move", uids))
                return move(uids)
            try:
                return move(uids)
            finally:
                busy.release()

        monkeypatch.setattr(source, "_fetch_batch", fetching)
        monkeypatch.setattr(source, "_move", moving)
        assert [o.action for o in env.run_once()] == ["new_ticket"] * 6
        assert [len(c) for c in chunks] == [2, 2, 2]  # batches of 4 and 2, read 2 at a time
        assert overlaps == []
        assert seen == [(4, 4), (6, 6)]  # one MOVE per batch, after its four (then two) tickets
        assert env.dovecot.message_count(USER, "Procesados") == 6
    finally:
        env.daemon.close()
        env.store.close()


def test_an_imap_message_that_could_not_be_stored_is_read_again_not_moved_unread(networked, monkeypatch):
    # A full disk refuses one message's bytes: it is not processed and stays
    # in the inbox. The messages after it are handled and moved, but the UID
    # recorded as handled must stop below it, or the next fetch takes it
    # for handled and moves it unread: lost.
    for n in range(3):
        networked.deliver(mails.request(sender=f"u{n}@alcaldia-prueba.gov.co"))
    # (The fetch thread stores each message and the daemon tries again when
    # that failed: the disk refuses the second message both times.)
    save_raw = networked.store.save_raw

    def disk_full_for_the_second(raw):
        if b"u1@alcaldia-prueba.gov.co" in raw:
            raise OSError(28, "No space left on device")
        return save_raw(raw)

    monkeypatch.setattr(networked.store, "save_raw", disk_full_for_the_second)
    assert [o.action for o in networked.run_once()] == ["new_ticket", "new_ticket"]
    assert networked.dovecot.message_count(USER, "INBOX") == 1
    monkeypatch.setattr(networked.store, "save_raw", save_raw)
    assert [o.action for o in networked.run_once()] == ["new_ticket"]
    assert networked.count("SELECT count(*) FROM tickets") == 3
    assert networked.dovecot.message_count(USER, "Procesados") == 3
