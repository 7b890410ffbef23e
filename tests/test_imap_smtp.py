"""Intake and delivery against a real Dovecot and a real aiosmtpd."""

import email
import email.policy

import pytest

from helpdesk.staff import views

from . import mails
from .conftest import USER, Networked


def test_request_from_imap_gets_ack_over_smtp_and_is_moved(networked):
    networked.deliver(mails.request(subject="Reinicio de clave – Alcaldía de Prueba"))
    [outcome] = networked.run_once()
    assert outcome.action == "new_ticket"
    assert networked.smtp.wait_for(2, timeout=5)
    captured, verdict = networked.smtp.snapshot()
    assert verdict.message["X-Helpdesk-Kind"] == "correction"  # no documents attached
    assert captured.rcpt_tos == [mails.ENTITY]
    assert captured.mail_from == mails.SUPPORT
    ack = captured.message
    assert ack["X-Helpdesk-Kind"] == "ack" and outcome.radicado in ack["Subject"]
    assert "Alcaldía de Prueba" in ack["Subject"]
    assert networked.dovecot.message_count(USER, "INBOX") == 0
    assert networked.dovecot.message_count(USER, "Procesados") == 1
    state = networked.store.one("SELECT * FROM inbox_state")
    assert state["folder"] == "INBOX" and state["last_uid"] >= 1
    assert state["uidvalidity"] == networked.dovecot.uidvalidity(USER, "INBOX")


def test_uidvalidity_change_rereads_without_duplicates(networked):
    first = mails.request(subject="primera")
    networked.deliver(first)
    networked.run_once()
    # The mailbox is rebuilt (a restore from backup): the first message is
    # back in INBOX and every UID is renumbered.
    networked.deliver(first)
    networked.deliver(mails.request(subject="segunda"))
    old = networked.dovecot.uidvalidity(USER, "INBOX")
    networked.dovecot.reset_uidvalidity(USER, "INBOX")
    assert networked.dovecot.uidvalidity(USER, "INBOX") != old
    networked.daemon.source.close()  # the rebuild dropped our session: reconnect
    outcomes = networked.run_once()
    assert sorted(o.action for o in outcomes) == ["duplicate", "new_ticket"]
    assert networked.count("SELECT count(*) FROM tickets") == 2
    assert networked.smtp.wait_for(4, timeout=5)
    kinds = sorted(m.message["X-Helpdesk-Kind"] for m in networked.smtp.snapshot())
    assert kinds == ["ack", "ack", "correction", "correction"]
    assert networked.dovecot.message_count(USER, "INBOX") == 0


def script(smtp_server, stage: str, reply: str) -> None:
    """The server's next reply at ``stage``: RCPT TO (one recipient refused) or DATA."""
    {"RCPT": smtp_server.add_rcpt_responses, "DATA": smtp_server.add_responses}[stage](reply)


@pytest.mark.parametrize("stage, reply", [("DATA", "451 4.3.0 Intente más tarde"),
                                          ("RCPT", "450 4.2.1 Buzón ocupado, intente más tarde")],
                         ids=["DATA", "RCPT"])
def test_smtp_4xx_then_250_delivers_once(tmp_path, dovecot, smtp_server, stage, reply):
    networked = Networked(tmp_path / "h", dovecot, smtp_server, smtp={"retry_base_seconds": 600.0})
    script(smtp_server, stage, reply)
    networked.deliver(mails.request())
    networked.run_once()
    row = networked.store.one("SELECT status, attempts, last_error, next_attempt_at FROM outbox WHERE kind = 'ack'")
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert reply[:3] in row["last_error"]
    assert row["next_attempt_at"] > networked.store.one("SELECT created_at FROM outbox WHERE kind = 'ack'")[0]
    assert views.outbox_problems(networked.store)[0]["status"] == "pending"
    networked.daemon.deliver()  # not due yet: backoff
    assert networked.store.one("SELECT status FROM outbox WHERE kind = 'ack'")["status"] == "pending"
    with networked.store.transaction() as conn:  # ten minutes pass
        conn.execute("UPDATE outbox SET next_attempt_at = created_at WHERE kind = 'ack'")
    networked.daemon.deliver()
    assert networked.store.one("SELECT status FROM outbox WHERE kind = 'ack'")["status"] == "sent"
    kinds = [m.message["X-Helpdesk-Kind"] for m in networked.smtp.snapshot()]
    assert sorted(kinds) == ["ack", "correction"]


@pytest.mark.parametrize("stage", ["DATA", "RCPT"])
def test_smtp_550_fails_permanently_and_is_visible(networked, stage):
    # At RCPT TO is where "550 5.1.1 user unknown" usually comes.
    script(networked.smtp, stage, "550 5.1.1 Buzón inexistente")
    networked.deliver(mails.request())
    [outcome] = networked.run_once()
    networked.daemon.deliver()
    row = networked.store.one("SELECT status, attempts, last_error FROM outbox WHERE kind = 'ack'")
    assert row["status"] == "failed" and row["attempts"] == 1
    assert row["last_error"] == "550 5.1.1 Buzón inexistente"  # as the server said it, at either stage
    assert [m.message["X-Helpdesk-Kind"] for m in networked.smtp.snapshot()] == ["correction"]
    shown = views.detail(networked.store, outcome.radicado)
    assert shown["messages"][1]["delivery"] == "failed"
    assert any(e["action"] == "envío fallido" for e in shown["events"])


def test_refused_connection_is_temporary(tmp_path, dovecot, smtp_server):
    from .servers import free_port

    env = Networked(tmp_path / "h", dovecot, smtp_server, smtp={"port": free_port(), "retry_base_seconds": 600.0})
    env.deliver(mails.request())
    env.run_once()
    rows = env.store.query("SELECT status, attempts, last_error FROM outbox")
    assert [(r["status"], r["attempts"]) for r in rows] == [("pending", 1), ("pending", 1)]
    assert "conexión SMTP" in rows[0]["last_error"]


def test_retries_stop_at_the_deadline(tmp_path, dovecot, smtp_server):
    from .servers import free_port

    env = Networked(tmp_path / "h", dovecot, smtp_server, smtp={"port": free_port(), "retry_hours": 0.0})
    env.deliver(mails.request())
    env.run_once()
    assert env.store.one("SELECT status FROM outbox")["status"] == "failed"


def test_smtp_auth_is_used_when_configured(tmp_path, dovecot):
    from .servers import SmtpCapture

    with SmtpCapture(auth={"mesa": "clave-smtp"}) as smtp:
        env = Networked(tmp_path / "h", dovecot, smtp, smtp={"username": "mesa", "password": "clave-smtp"})
        env.deliver(mails.request())
        env.run_once()
        assert smtp.wait_for(1, timeout=5)
    with SmtpCapture(auth={"mesa": "clave-smtp"}) as smtp:
        env = Networked(tmp_path / "h2", dovecot, smtp, smtp={"username": "mesa", "password": "equivocada"})
        env.deliver(mails.request())
        env.run_once()
        row = env.store.one("SELECT status, last_error FROM outbox")
        assert row["status"] == "pending" and "autenticación" in row["last_error"]


def test_wrong_imap_password_is_a_clear_error(tmp_path, dovecot, smtp_server):
    from helpdesk.errors import InboxError

    env = Networked(tmp_path / "h", dovecot, smtp_server, inbox={"password": "mala"})
    with pytest.raises(InboxError, match="rechazó el usuario"):
        env.run_once()


def test_non_ascii_imap_password_logs_in(tmp_path, dovecot_dir, smtp_server):
    from .servers import DovecotServer

    # imaplib's LOGIN raised UnicodeEncodeError (a traceback in the daemon) on "ñ".
    server = DovecotServer(dovecot_dir, users={USER: "contraseña-ñandú"})
    server.start()
    try:
        env = Networked(tmp_path / "h", server, smtp_server)
        env.deliver(mails.request())
        [outcome] = env.run_once()
        assert outcome.action == "new_ticket"
    finally:
        server.stop()


def test_spanish_filenames_survive_imap(networked):
    raw = mails.request(attachments=[("Acta de posesión – Señor Alcalde.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")])
    networked.deliver(raw)
    [outcome] = networked.run_once()
    [row] = networked.store.query("SELECT sha256 FROM messages WHERE direction = 'in'")
    stored = email.message_from_bytes(networked.store.load_raw(row["sha256"]), policy=email.policy.default)
    names = [p.get_filename() for p in stored.iter_attachments()]
    assert names == ["Acta de posesión – Señor Alcalde.pdf"]


def test_one_imap_fetch_holds_at_most_the_message_limit_of_mail():
    # Issue 10, finding 11: a batch of 20 messages of 40 MB each was one fetch.
    from helpdesk.intake.inbox import _by_total_size

    sizes = {uid: {b"RFC822.SIZE": size} for uid, size in {1: 30, 2: 30, 3: 50, 4: 5, 5: 100}.items()}
    assert _by_total_size([1, 2, 3, 4, 5], sizes, 60) == [[1, 2], [3, 4], [5]]
    assert _by_total_size([], sizes, 60) == []


def test_imaplib_does_not_format_each_fetched_message_for_a_debug_log(networked):
    # imapclient turns imaplib's tracing on (debug = 5) and hands it to a
    # logger: imaplib built repr() of every fetched message first, four
    # times its size (178 MB at once for a 41 MB message), even with the
    # logger off. Issue 10, finding 6.
    networked.run_once()  # connected
    traced = []
    networked.daemon.source.client._imap._mesg = traced.append
    networked.deliver(mails.request(subject="sin trazas", body="cuerpo que no debe formatearse"))
    [outcome] = networked.run_once()
    assert outcome.action == "new_ticket"
    assert not [line for line in traced if "cuerpo que no debe" in line]
