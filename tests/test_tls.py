"""TLS is explicit and verified: implicit TLS and STARTTLS for IMAP and
SMTP, certificates checked against the configured CA, self-signed refused."""

import pytest

from helpdesk.errors import InboxError

from . import mails
from .conftest import USER, Networked
from .servers import DovecotServer, SmtpCapture
from .test_daemon import wait_until


@pytest.fixture
def tls_dovecot(dovecot_dir):
    server = DovecotServer(dovecot_dir, tls=True)
    server.start()
    yield server
    server.stop()


def test_imap_implicit_tls_with_ca_and_smtp_implicit_tls(tmp_path, tls_dovecot):
    with SmtpCapture(tls=True, cert_dir=tmp_path / "smtp-certs") as smtp:
        env = Networked(tmp_path / "h", tls_dovecot, smtp,
                        inbox={"port": tls_dovecot.ssl_port, "security": "ssl", "ca_file": str(tls_dovecot.ca_path)},
                        smtp={"security": "ssl", "ca_file": str(smtp.ca_path)})
        env.deliver(mails.request())
        [outcome] = env.run_once()
        assert outcome.action == "new_ticket"
        assert smtp.wait_for(1, timeout=5)
        env.daemon.source.close()


def test_imap_starttls_and_smtp_starttls(tmp_path, tls_dovecot):
    with SmtpCapture(starttls=True, cert_dir=tmp_path / "smtp-certs") as smtp:
        env = Networked(tmp_path / "h", tls_dovecot, smtp,
                        inbox={"security": "starttls", "ca_file": str(tls_dovecot.ca_path)},
                        smtp={"security": "starttls", "ca_file": str(smtp.ca_path)})
        env.deliver(mails.request())
        env.run_once()
        assert smtp.wait_for(1, timeout=5)
        env.daemon.source.close()
    # Dovecot accepts plain logins on loopback: prove ours went over TLS.
    assert tls_dovecot.logins() and all(secured for _user, secured in tls_dovecot.logins())


def test_imap_certificate_not_trusted_is_refused(tmp_path, tls_dovecot, smtp_server):
    env = Networked(tmp_path / "h", tls_dovecot, smtp_server,
                    inbox={"port": tls_dovecot.ssl_port, "security": "ssl"})
    with pytest.raises(InboxError, match="certificado"):
        env.run_once()


def test_smtp_certificate_not_trusted_is_not_delivered(tmp_path, dovecot):
    with SmtpCapture(tls=True, cert_dir=tmp_path / "smtp-certs") as smtp:
        env = Networked(tmp_path / "h", dovecot, smtp, smtp={"security": "ssl"})
        env.deliver(mails.request())
        env.run_once()
        row = env.store.one("SELECT status, last_error FROM outbox")
        assert row["status"] == "pending" and "TLS" in row["last_error"]
        assert smtp.snapshot() == []


def test_smtp_starttls_required_but_not_offered_is_refused(tmp_path, dovecot, smtp_server):
    # aiosmtplib's default would continue in clear text; ours must not.
    env = Networked(tmp_path / "h", dovecot, smtp_server, smtp={"security": "starttls"})
    env.deliver(mails.request())
    env.run_once()
    assert env.store.one("SELECT status FROM outbox")["status"] == "pending"
    assert smtp_server.snapshot() == []


def test_imap_starttls_required_but_not_offered_is_refused(tmp_path, dovecot, smtp_server):
    env = Networked(tmp_path / "h", dovecot, smtp_server, inbox={"security": "starttls"})
    with pytest.raises(InboxError, match="STARTTLS"):
        env.run_once()
    assert dovecot.logins() == []  # refused before LOGIN: the password never went out in clear
    # The log does show a plain login when one happens: the same server, security = "none".
    plain = Networked(tmp_path / "h2", dovecot, smtp_server)
    try:
        assert plain.run_once() == []
        assert wait_until(lambda: dovecot.logins() == [(USER, False)], 5), dovecot.logins()
    finally:
        plain.daemon.close()
