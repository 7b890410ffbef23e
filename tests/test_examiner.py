"""Examination never holds intake up (issue 10, finding 8).

30 PDFs of slow text operators once made a legitimate request wait 182 s
for its radicado. Two bounds now: one ticket's files share a time budget
(``worker.ticket_seconds``), and the service examines in a thread of its
own, so a request that arrives meanwhile is acknowledged at once.

The slow files are ``docfiles.slow_pages_pdf``: about 7 s of text
extraction each on this machine, several times the per-file timeout of
2 s used here, so every run reaches the limits whatever the machine's
speed. Each differs by one operator: the same bytes twice are examined
once.
"""

from __future__ import annotations

import sqlite3
import threading

from . import docfiles, mails
from .conftest import Embedded, rules_with_worker, run_helpdesk
from .test_daemon import DaemonProcess, wait_until
from .test_e2e_documents import documents


def slow_request(count: int) -> bytes:
    return mails.request(subject="Documentos pesados", body="Adjunto las actas.",
                         attachments=[(f"acta{n}.pdf", docfiles.slow_pages_pdf(operators=14_000 + n), "application/pdf")
                                      for n in range(count)])


def test_the_files_of_one_ticket_share_a_time_budget(tmp_path):
    # Each file may take 2 s and the ticket 3 s: the first file uses 2, the
    # second the 1 left, the other two are not examined at all.
    rules = rules_with_worker(tmp_path / "rules", timeout_seconds=2, cpu_seconds=2, ticket_seconds=3)
    env = Embedded(tmp_path / "h", rules={"path": str(rules)})
    env.deliver(slow_request(4))
    env.run_once()
    errors = {r["filename"]: r["error"] for r in env.store.query("SELECT filename, error FROM documents")}
    assert "no se pudo procesar en 2 segundos" in errors["acta0.pdf"]
    assert "no se pudo procesar en 1 segundo;" in errors["acta1.pdf"]
    for late in ("acta2.pdf", "acta3.pdf"):
        assert errors[late].startswith("no alcanzó a examinarse: los adjuntos de la solicitud superaron 3 segundos")
    [warning] = env.store.query("SELECT detail FROM findings WHERE code = 'examination_time_exceeded'")
    assert warning["detail"] == ("2 adjuntos sin examinar: el examen de la solicitud superó 3 segundos "
                                 "(rules/documents.toml, worker.ticket_seconds): acta2.pdf, acta3.pdf")
    assert env.kinds() == ["ack", "correction"]
    correction = env.sent()[1].get_body(("plain",)).get_content()
    assert "acta3.pdf" in correction and "no alcanzó a examinarse" in correction


def test_a_request_is_acknowledged_while_another_tickets_documents_are_being_examined(tmp_path):
    # Five slow files of 2 s each (all CPU): the first ticket's examination
    # lasts at least 10 s. The second request arrives once it has begun and
    # must have its ack while the first is still examined; its ack takes
    # one poll (1 s) and a second, so 10 s leave a wide margin (eight files,
    # 16 s of CPU, were used before: the same proof at 6 s more CPU).
    rules = rules_with_worker(tmp_path / "rules", timeout_seconds=2, cpu_seconds=2)
    env = Embedded(tmp_path / "h", rules={"path": str(rules)})
    env.daemon.close()
    env.store.close()
    daemon = DaemonProcess(env.config_path)
    try:
        env.deliver(slow_request(5))
        assert wait_until(lambda: env.kinds() == ["ack"], 15), daemon.output()
        env.deliver(mails.request(sender="sistemas@alcaldia-prueba.gov.co", attachments=documents(tmp_path)))
        assert wait_until(lambda: env.kinds() == ["ack", "ack"], 15), daemon.output()
        with sqlite3.connect(env.config.database_path) as db:
            slow_pending = db.execute("SELECT examine_pending FROM tickets ORDER BY id LIMIT 1").fetchone()[0]
        assert slow_pending == 1  # the first ticket's documents are still being read
        # Both verdicts go out while the service runs, not at its stop.
        assert wait_until(lambda: len(env.kinds()) == 4, 60), daemon.output()
    finally:
        assert daemon.stop() == 0
    assert sorted(env.kinds()) == ["accepted", "ack", "ack", "correction"]
    assert "Traceback" not in daemon.output()


def test_a_message_joined_during_an_examination_makes_its_verdict_wait_for_the_next_pass(tmp_path):
    # Intake runs beside the service's examination: a reply with the missing
    # documents joined while the first files are read must not be dropped
    # by a verdict on the old set.
    from helpdesk.examination import ticket as examination

    env = Embedded(tmp_path / "h")
    env.deliver(mails.request(attachments=documents(tmp_path)[1:2]))  # the Excel form alone
    env.daemon.examiner = None
    real = env.daemon.worker.examine_messages

    def examine_while_a_reply_joins(*args, **kwargs):
        with env.store.transaction() as conn:  # what intake commits meanwhile
            conn.execute("INSERT INTO messages(direction, dedup_key, sha256, ticket_id, kind, at) "
                         "SELECT 'in', 'mid:tarde', sha256, 1, 'reply', '2026-01-01' FROM messages WHERE id = 1")
        return real(*args, **kwargs)

    env.daemon.source  # noqa: B018  (intake first, without examining)
    for incoming in env.daemon.source.fetch():
        env.daemon.handle(incoming)
    env.daemon.worker.examine_messages = examine_while_a_reply_joins
    assert examination.examine_ticket(env.store, env.config, env.daemon.rules, env.daemon.worker,
                                      env.daemon.renderer, 1) is None
    assert env.store.one("SELECT examine_pending, state FROM tickets")[:] == (1, "received")
    env.daemon.worker.examine_messages = real
    env.daemon.examine_pending()  # the next pass reads everything
    assert env.store.one("SELECT examine_pending FROM tickets")[0] == 0


def test_a_dead_examination_thread_is_replaced(tmp_path, caplog):
    # Whatever killed it, the service must not go on with nobody examining.
    from helpdesk.examination.background import BackgroundExaminer

    env = Embedded(tmp_path / "h")
    dead = BackgroundExaminer(env.config, env.daemon.rules, env.daemon.renderer, threads=2)
    dead.start()
    dead._threads[1] = threading.Thread(target=lambda: None)  # one of its threads ended
    dead._threads[1].start()
    dead._threads[1].join()
    env.daemon.examiner = dead
    env.daemon._keep_examiner()
    assert env.daemon.examiner is not dead and env.daemon.examiner.alive
    assert not dead._threads[0].is_alive()  # the rest of the old pool was stopped, not left beside the new one
    assert "the examination thread stopped" in caplog.text
    env.daemon._stop_examiner()


def nested_request(depth: int) -> bytes:
    """A request nesting ``depth`` multiparts with bare-CR line ends: the
    stdlib parser raises RecursionError on it (issue 10, finding 7)."""
    head = mails.request(subject="Solicitud", body="Adjunto.").replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    head = b"\r\n".join(line for line in head.split(b"\n")
                         if not line.lower().startswith((b"content-", b"mime-version")))
    nested = "".join(f'Content-Type: multipart/mixed; boundary="b{n}"\r\r--b{n}\r' for n in range(1, depth))
    return (head + b'\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b0"\r\n\r\n--b0\r'
            + nested.encode() + b"\r" + b"hola\r")


def test_messages_are_parsed_in_the_worker_and_one_that_breaks_the_parser_fails_there(tmp_path, monkeypatch):
    # The examination hands the worker the stored messages: the daemon
    # never parses their MIME, so a message that breaks the parser costs a
    # counted failure, never the daemon's stack or memory.
    from helpdesk.intake import message

    env = Embedded(tmp_path / "h", limits={"max_parts": 100_000})
    env.deliver(nested_request(3_000))
    env.daemon.source  # noqa: B018
    for incoming in env.daemon.source.fetch():
        env.daemon.handle(incoming)

    def no_walk_here(_msg):
        raise AssertionError("the daemon parsed a message's body")

    monkeypatch.setattr(message, "_walk", no_walk_here)
    for _ in range(3):
        env.daemon.examine_pending()
    [warning] = env.store.query("SELECT detail FROM findings WHERE code = 'examination_failed'")
    assert "ExaminationFailed" in warning["detail"]
    [event] = env.store.query("SELECT detail FROM events WHERE action = 'examen fallido' LIMIT 1")
    assert "anidamiento excesivo" in event["detail"]
    assert env.store.one("SELECT examine_pending FROM tickets")[0] == 0


def worker_calls(monkeypatch) -> list[tuple[str, ...]]:
    """The raw-message paths of every ticket any worker is asked to examine."""
    from helpdesk.documents.worker import Worker

    asked, lock = [], threading.Lock()
    examine_messages = Worker.examine_messages

    def counted(self, paths, *args, **kwargs):
        with lock:
            asked.append(tuple(paths))
        return examine_messages(self, paths, *args, **kwargs)

    monkeypatch.setattr(Worker, "examine_messages", counted)
    return asked


def requests_taken_in(tmp_path, count: int) -> Embedded:
    """COUNT requests with the three documents, acknowledged, not examined."""
    env = Embedded(tmp_path / "h")
    files = documents(tmp_path)
    for n in range(count):
        env.deliver(mails.request(sender=f"u{n}@alcaldia-prueba.gov.co", attachments=files))
    env.daemon.examiner = None
    for incoming in env.daemon.source.fetch():
        env.daemon.handle(incoming)
    return env


def test_examiners_on_every_core_share_the_tickets_and_examine_each_once(tmp_path, monkeypatch):
    from helpdesk.examination.background import BackgroundExaminer

    # Each ticket goes to a worker once: a thread whose list is older than
    # another's verdict must not examine that ticket again (its verdict
    # would be dropped, but the worker's time spent).
    asked = worker_calls(monkeypatch)
    env = requests_taken_in(tmp_path, 8)
    pool = BackgroundExaminer(env.config, env.daemon.rules, env.daemon.renderer, threads=3)
    pool.start()
    try:
        assert pool.swept(pool.sweep(), 120)
    finally:
        assert pool.stop(10)
    examined = env.store.query("SELECT ticket_id, count(*) AS n FROM events WHERE action = 'documentos examinados' "
                               "GROUP BY ticket_id")
    assert sorted((r["ticket_id"], r["n"]) for r in examined) == [(t, 1) for t in range(1, 9)]
    verdicts = env.store.query("SELECT ticket_id, count(*) AS n FROM outbox WHERE kind = 'accepted' GROUP BY ticket_id")
    assert sorted((r["ticket_id"], r["n"]) for r in verdicts) == [(t, 1) for t in range(1, 9)]
    assert env.count("SELECT count(*) FROM tickets WHERE examine_pending = 1") == 0
    assert len(asked) == len(set(asked)) == 8


def test_run_once_acknowledges_the_whole_backlog_before_examining(tmp_path):
    # The examiners start beside the intake (warm workers) but begin no
    # ticket until every request of the backlog has its ack queued.
    env = Embedded(tmp_path / "h")
    files = documents(tmp_path)
    for n in range(5):
        env.deliver(mails.request(sender=f"u{n}@alcaldia-prueba.gov.co", attachments=files))
    result = run_helpdesk("--config", env.config_path, "run", "--once")
    assert result.returncode == 0, result.stderr
    kinds = [r["kind"] for r in env.store.query("SELECT kind FROM outbox ORDER BY id")]
    assert kinds == ["ack"] * 5 + ["accepted"] * 5
    assert env.kinds().count("accepted") == 5  # and every verdict was delivered before it exited


def test_during_a_hold_the_first_thread_reads_files_ahead_and_commits_no_verdict(tmp_path, monkeypatch):
    # run --once holds the verdicts until every request has its ack; the
    # first examiner thread meanwhile has its worker read the tickets'
    # files, so after the release their verdicts need no worker. A ticket
    # whose reply joined after its files were read is read again.
    from helpdesk.examination.background import BackgroundExaminer

    asked = worker_calls(monkeypatch)
    env = requests_taken_in(tmp_path, 4)
    pool = BackgroundExaminer(env.config, env.daemon.rules, env.daemon.renderer, threads=2)
    pool.hold()
    pool.start()
    try:
        pool.wake()
        assert wait_until(lambda: len(asked) == 4, 60)  # every ticket's files read, by one thread
        assert env.count("SELECT count(*) FROM outbox WHERE kind != 'ack'") == 0  # and no verdict
        with env.store.transaction() as conn:  # a reply joins ticket 1 after its files were read
            conn.execute("INSERT INTO messages(direction, dedup_key, sha256, ticket_id, kind, at) "
                         "SELECT 'in', 'mid:tarde', sha256, 1, 'reply', '2026-01-01' FROM messages WHERE id = 1")
        pool.release()
        assert pool.swept(pool.sweep(), 60)
        assert wait_until(lambda: env.count("SELECT count(*) FROM tickets WHERE examine_pending = 1") == 0, 60)
    finally:
        assert pool.stop(10)
    # Tickets 2 to 4 used what was read ahead; ticket 1 was read again, with both of its messages.
    assert sorted(len(paths) for paths in asked) == [1, 1, 1, 1, 2]
    verdicts = env.store.query("SELECT ticket_id FROM outbox WHERE kind = 'accepted' ORDER BY ticket_id")
    assert [r["ticket_id"] for r in verdicts] == [1, 2, 3, 4]


def test_reading_ahead_yields_the_cpu_and_a_file_it_could_not_read_is_read_again(tmp_path, monkeypatch):
    # The read-ahead worker runs beside the intake at a lower priority; a
    # file it did not reach (or that failed, as a starved worker may) is not
    # answered as a failure: the examination after the hold reads it again.
    import dataclasses
    import os

    from helpdesk.documents.worker import Worker
    from helpdesk.examination.background import READ_AHEAD_NICE, BackgroundExaminer

    calls, lock = [], threading.Lock()
    examine_messages = Worker.examine_messages

    def starved_once(self, paths, *args, **kwargs):
        examined = examine_messages(self, paths, *args, **kwargs)
        niceness = os.getpriority(os.PRIO_PROCESS, self.pid) - os.getpriority(os.PRIO_PROCESS, 0)
        with lock:
            first = not calls
            calls.append(niceness)
        return dataclasses.replace(examined, results={}) if first else examined

    monkeypatch.setattr(Worker, "examine_messages", starved_once)
    env = requests_taken_in(tmp_path, 2)
    pool = BackgroundExaminer(env.config, env.daemon.rules, env.daemon.renderer, threads=1)
    pool.hold()
    pool.start()
    try:
        pool.wake()
        assert wait_until(lambda: len(calls) == 2, 60)
        pool.release()
        assert pool.swept(pool.sweep(), 60)
        assert wait_until(lambda: env.count("SELECT count(*) FROM tickets WHERE examine_pending = 1") == 0, 60)
    finally:
        assert pool.stop(10)
    assert calls[:2] == [READ_AHEAD_NICE] * 2  # read ahead at the lower priority
    assert calls[2:] == [0]  # ticket 1 read again, by a worker of normal priority; ticket 2 from the read-ahead
    assert env.count("SELECT count(*) FROM documents WHERE error != ''") == 0
    verdicts = env.store.query("SELECT ticket_id FROM outbox WHERE kind = 'accepted' ORDER BY ticket_id")
    assert [r["ticket_id"] for r in verdicts] == [1, 2]
