"""XOAUTH2 (Microsoft 365, Google Workspace) against a real Dovecot and aiosmtpd.

Dovecot checks each token with its oauth2 passdb, which asks a small RFC 7662
introspection endpoint run by the test (``OAuthIntrospection``): ``TOKEN`` is
active, ``EXPIRED`` is not. aiosmtpd accepts XOAUTH2 with ``TOKEN`` only and
refuses any other token as Google does (334 JSON challenge, then 535).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from helpdesk import config as config_mod
from helpdesk.errors import ConfigError, DeliveryError, InboxError
from helpdesk.intake.inbox import ImapSource
from helpdesk.oauth import TokenSource, TokenUnavailable, token_source
from helpdesk.outgoing.outbox import deliver_due, make_transport

from . import mails
from .conftest import USER, Embedded, Networked, embedded_sections, run_helpdesk, write_config
from .servers import DovecotServer, OAuthIntrospection, SmtpCapture

# Shaped like real access tokens (RFC 6750 b64token), distinct enough to
# find in any text.
TOKEN = "ya29.a0AfB_valid-Token~1x2y3z"
RENEWED = "ya29.a0AfB_renewed-Token~4u5v6w"
EXPIRED = "ya29.a0AfB_expired-Token~7p8q9r"


# -- fixtures -----------------------------------------------------------


@pytest.fixture
def introspection():
    server = OAuthIntrospection({TOKEN: USER, RENEWED: USER}).start()
    yield server
    server.stop()


@pytest.fixture
def oauth_dovecot(dovecot_dir, introspection):
    server = DovecotServer(dovecot_dir, oauth2_url=introspection.url)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def oauth_smtp():
    with SmtpCapture(xoauth2={USER: TOKEN}) as server:
        yield server


def xoauth2(**keys) -> dict:
    """Overrides for a section: auth = "xoauth2", no password."""
    return {"auth": "xoauth2", "password": "", **keys}


def token_file(tmp_path: Path, token: str) -> Path:
    path = tmp_path / "token"
    path.write_text(token + "\n")
    return path


def token_command(tmp_path: Path, source: Path) -> list[str]:
    """A refresher: prints the token kept in ``source``, then a second line
    (as a script printing the expiry would), exit 0."""
    script = tmp_path / "refresh.py"
    script.write_text(
        "import sys\n"
        f"print(open({str(source)!r}).read().strip())\n"
        "print('expires_in=3599')\n"
    )
    return [sys.executable, str(script)]


def assert_not_leaked(texts, *tokens) -> None:
    """No token, raw or in its base64 XOAUTH2 form, in any of ``texts``."""
    blob = "\n".join(texts)
    for token in tokens:
        sasl = f"user={USER}\x01auth=Bearer {token}\x01\x01".encode()
        assert token not in blob
        assert base64.b64encode(sasl).decode() not in blob


def client_log(caplog) -> list[str]:
    # "mail.log" is aiosmtpd, the test's server, not our client.
    return [r.getMessage() for r in caplog.records if r.name != "mail.log"]


def helpdesk_check(config_path: Path) -> subprocess.CompletedProcess:
    return run_helpdesk("--config", config_path, "check", timeout=60)


# -- the whole flow -----------------------------------------------------


@pytest.mark.parametrize("source", ["file", "command"])
def test_valid_token_fetches_over_imap_and_delivers_over_smtp_without_logging_it(
        tmp_path, oauth_dovecot, oauth_smtp, introspection, caplog, source):
    caplog.set_level(logging.DEBUG)  # imapclient and aiosmtplib at their most verbose
    keys = {"oauth_token_file": str(token_file(tmp_path, TOKEN))}
    if source == "command":
        keys = {"oauth_token_command": token_command(tmp_path, token_file(tmp_path, TOKEN))}
    env = Networked(tmp_path / "h", oauth_dovecot, oauth_smtp,
                    inbox=xoauth2(**keys), smtp=xoauth2(username=USER, **keys))
    try:
        env.deliver(mails.request())
        [outcome] = env.run_once()
        assert outcome.action == "new_ticket"
        assert oauth_smtp.wait_for(2, timeout=5)
        assert sorted(m.message["X-Helpdesk-Kind"] for m in oauth_smtp.snapshot()) == ["ack", "correction"]
        assert oauth_dovecot.message_count(USER, "Procesados") == 1
        # Dovecot logged us in by XOAUTH2 after asking the introspection
        # endpoint about that very token; aiosmtpd saw it too.
        assert f"user=<{USER}>, method=XOAUTH2" in oauth_dovecot.read_log()
        assert TOKEN in introspection.seen
        assert (USER, TOKEN, True) in oauth_smtp.xoauth2_logins
        assert_not_leaked(client_log(caplog), TOKEN)
    finally:
        env.daemon.close()
        env.store.close()


def test_token_is_read_again_at_every_login(tmp_path, oauth_dovecot, oauth_smtp, introspection):
    path = token_file(tmp_path, TOKEN)
    env = Networked(tmp_path / "h", oauth_dovecot, oauth_smtp,
                    inbox=xoauth2(oauth_token_file=str(path)), smtp=xoauth2(username=USER, oauth_token_file=str(path)))
    oauth_smtp.xoauth2[USER] = RENEWED  # the SMTP side only knows the new one
    source = ImapSource(env.config, env.store)
    transport = make_transport(env.config)
    try:
        source.connect()
        source.close()
        # An external refresher rewrites the file; the old token dies.
        path.write_text(RENEWED + "\n")
        introspection.expire(TOKEN)
        source.connect()
        asyncio.run(_probe(transport))
        assert introspection.seen == [TOKEN, RENEWED]
        assert oauth_smtp.xoauth2_logins == [(USER, RENEWED, True)]
    finally:
        source.close()
        env.daemon.close()
        env.store.close()


async def _probe(transport) -> None:
    client = await transport._connect()
    await client.quit()


# -- an expired token ---------------------------------------------------


def test_expired_token_imap_error_says_refused_and_where_to_renew(tmp_path, oauth_dovecot, introspection, caplog):
    caplog.set_level(logging.DEBUG)
    path = token_file(tmp_path, EXPIRED)
    sections = embedded_sections(inbox={"source": "imap", "host": oauth_dovecot.host, "port": oauth_dovecot.port,
                                        "security": "none", "username": USER, "auth": "xoauth2",
                                        "oauth_token_file": str(path), "connect_timeout": 5.0})
    config = config_mod.load(write_config(tmp_path / "config.toml", sections))
    with pytest.raises(InboxError) as info:
        ImapSource(config, store=None).connect()
    message = str(info.value)
    assert "rechazó el token de acceso (XOAUTH2)" in message and "probablemente caducó" in message
    assert f"escriba un token de acceso vigente en {path} (inbox.oauth_token_file)" in message
    assert "\n" not in message
    assert EXPIRED in introspection.seen  # Dovecot really asked, and was told "inactive"
    assert_not_leaked([message, *client_log(caplog)], EXPIRED)


def test_check_passes_with_valid_token_and_fails_with_expired_one_saying_what_to_do(
        tmp_path, oauth_dovecot, oauth_smtp):
    path = token_file(tmp_path, TOKEN)
    sections = embedded_sections(
        inbox={"source": "imap", "host": oauth_dovecot.host, "port": oauth_dovecot.port, "security": "none",
               "username": USER, "auth": "xoauth2", "oauth_token_file": str(path)},
        smtp={"transport": "smtp", "host": oauth_smtp.host, "port": oauth_smtp.port, "security": "none",
              "username": USER, "auth": "xoauth2", "oauth_token_file": str(path), "timeout": 5.0},
    )
    config_path = write_config(tmp_path / "config.toml", sections)
    good = helpdesk_check(config_path)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "OK    IMAP: sesión iniciada como soporte@entidad.gov.co con token de acceso (XOAUTH2)" in good.stdout
    assert "autenticado como soporte@entidad.gov.co con token de acceso (XOAUTH2)" in good.stdout

    path.write_text(EXPIRED + "\n")
    bad = helpdesk_check(config_path)
    assert bad.returncode == 1
    lines = bad.stdout.splitlines()
    imap = lines.index(next(line for line in lines if line.startswith("FALLA IMAP")))
    smtp = lines.index(next(line for line in lines if line.startswith("FALLA SMTP")))
    for at, key in ((imap, "inbox"), (smtp, "smtp")):
        assert "rechazó el token de acceso (XOAUTH2)" in lines[at] and "probablemente caducó" in lines[at]
        assert lines[at + 1].startswith("      Qué hacer: obtenga un token de acceso nuevo: escriba un token")
        assert f"({key}.oauth_token_file)" in lines[at + 1]
    assert "Traceback" not in bad.stdout + bad.stderr
    assert_not_leaked([good.stdout, good.stderr, bad.stdout, bad.stderr], TOKEN, EXPIRED)


def test_expired_token_smtp_keeps_the_email_queued_with_the_reason_until_renewed(tmp_path, oauth_smtp, caplog):
    caplog.set_level(logging.DEBUG)
    path = token_file(tmp_path, EXPIRED)
    # A Maildir inbox is enough here: this is about SMTP.
    env = Embedded(tmp_path / "h", smtp={"transport": "smtp", "host": oauth_smtp.host, "port": oauth_smtp.port,
                                         "security": "none", "username": USER, "auth": "xoauth2",
                                         "oauth_token_file": str(path), "timeout": 5.0,
                                         "retry_base_seconds": 0.0})
    try:
        env.deliver(mails.request())
        env.run_once()
        rows = env.store.query("SELECT kind, status, attempts, last_error FROM outbox ORDER BY id")
        assert [r["kind"] for r in rows] == ["ack", "correction"]
        for row in rows:
            # Refused (535) but not "failed": the email is not at fault, and
            # a failed row is never sent again.
            assert row["status"] == "pending" and row["attempts"] >= 1
            assert "rechazó el token de acceso (XOAUTH2)" in row["last_error"]
            assert "probablemente caducó" in row["last_error"] and "535" in row["last_error"]
            assert str(path) in row["last_error"]
        assert oauth_smtp.snapshot() == []
        assert oauth_smtp.xoauth2_logins and set(oauth_smtp.xoauth2_logins) == {(USER, EXPIRED, False)}
        warnings = [r.getMessage() for r in caplog.records if r.name == "helpdesk.outgoing.outbox" and r.levelno >= logging.WARNING]
        assert warnings and all("rechazó el token de acceso" in w for w in warnings)

        path.write_text(TOKEN + "\n")  # the operator renews it
        assert deliver_due(env.store, env.config) == (2, 0)
        assert sorted(m.message["X-Helpdesk-Kind"] for m in oauth_smtp.snapshot()) == ["ack", "correction"]
        texts = [r["last_error"] or "" for r in env.store.query("SELECT last_error FROM outbox")]
        assert_not_leaked([*texts, *client_log(caplog)], EXPIRED, TOKEN)
    finally:
        env.daemon.close()
        env.store.close()


def test_smtp_4xx_to_xoauth2_is_a_temporary_failure(tmp_path, oauth_smtp):
    oauth_smtp.add_auth_responses("454 4.7.0 Temporary authentication failure")
    config = config_mod.load(write_config(tmp_path / "config.toml", embedded_sections(
        smtp={"transport": "smtp", "host": oauth_smtp.host, "port": oauth_smtp.port, "security": "none",
              "username": USER, "auth": "xoauth2", "oauth_token_file": str(token_file(tmp_path, TOKEN))})))
    with pytest.raises(DeliveryError) as info:
        asyncio.run(_probe(make_transport(config)))
    assert not info.value.permanent
    assert "falló temporalmente" in str(info.value) and "454" in str(info.value)


# -- token commands ------------------------------------------------------


def test_failing_command_is_an_inbox_error_naming_it_with_its_words_but_not_the_token(tmp_path):
    script = tmp_path / "refresh.py"
    # It prints a (stale) token and then fails: its stderr echoes it.
    script.write_text(
        "import sys\n"
        f"print({EXPIRED!r})\n"
        f"print('error: invalid_grant for {EXPIRED}', file=sys.stderr)\n"
        "sys.exit(3)\n"
    )
    sections = embedded_sections(inbox={"source": "imap", "security": "none", "username": USER, "auth": "xoauth2",
                                        "oauth_token_command": [sys.executable, str(script)]})
    config = config_mod.load(write_config(tmp_path / "config.toml", sections))
    with pytest.raises(InboxError) as info:
        ImapSource(config, store=None).connect()  # no server needed: it fails before connecting
    message = str(info.value)
    assert "no hay token de acceso" in message
    assert f"el comando {sys.executable} (inbox.oauth_token_command) terminó con código 3: " \
           "error: invalid_grant for [token]" in message
    assert_not_leaked([message], EXPIRED)


def make_source(**kw) -> TokenSource:
    return TokenSource(section="smtp", file=kw.get("file"), command=tuple(kw.get("command", ())),
                       timeout=kw.get("timeout", 5.0))


def test_command_timeout_missing_program_and_junk_token_are_clear(tmp_path):
    slow = make_source(command=[sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.3)
    with pytest.raises(TokenUnavailable, match=r"\(smtp.oauth_token_command\) no terminó en 0.3 s"):
        slow.read()
    missing = make_source(command=[str(tmp_path / "no-such-refresher")])
    with pytest.raises(TokenUnavailable, match="no se pudo ejecutar el comando .*no-such-refresher"):
        missing.read()
    # A script that prints the provider's whole JSON answer, not the token.
    (tmp_path / "answer.json").write_text(f'{{"access_token": "{TOKEN}", "expires_in": 3599}}')
    junk = make_source(file=tmp_path / "answer.json")
    with pytest.raises(TokenUnavailable, match="no dio un token de acceso válido") as info:
        junk.read()
    assert TOKEN not in str(info.value)
    silent = make_source(command=[sys.executable, "-c", "pass"])
    with pytest.raises(TokenUnavailable, match="no dio ningún token de acceso"):
        silent.read()


def test_token_file_missing_or_empty_is_clear(tmp_path):
    absent = make_source(file=tmp_path / "nope")
    with pytest.raises(TokenUnavailable, match=r"no se puede leer el archivo .*nope \(smtp.oauth_token_file\)"):
        absent.read()
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(TokenUnavailable, match="no dio ningún token de acceso"):
        make_source(file=tmp_path / "empty").read()


def test_command_output_first_line_only(tmp_path):
    (tmp_path / "t").write_text(TOKEN)
    assert make_source(command=token_command(tmp_path, tmp_path / "t")).read() == TOKEN


# -- configuration -------------------------------------------------------


def load(tmp_path, **sections):
    return config_mod.load(write_config(tmp_path / "config.toml", sections))


IMAP = {"source": "imap", "username": USER, "security": "ssl"}


@pytest.mark.parametrize(
    "sections, key",
    [
        ({"inbox": {"auth": "oauth"}}, "inbox.auth"),
        ({"inbox": {**IMAP, "auth": "xoauth2"}}, "inbox.oauth_token_file"),
        ({"inbox": {**IMAP, "auth": "xoauth2", "oauth_token_file": "t", "oauth_token_command": ["x"]}},
         "inbox.oauth_token_command"),
        ({"inbox": {**IMAP, "auth": "xoauth2", "oauth_token_file": "t", "password": "p"}}, "inbox.password"),
        ({"inbox": {**IMAP, "oauth_token_file": "t"}}, "inbox.oauth_token_file"),
        ({"inbox": {**IMAP, "auth": "xoauth2", "oauth_token_command": "/bin/refresh"}}, "inbox.oauth_token_command"),
        ({"inbox": {**IMAP, "auth": "xoauth2", "oauth_token_command": [""]}}, "inbox.oauth_token_command"),
        ({"inbox": {**IMAP, "auth": "xoauth2", "oauth_token_file": "t", "oauth_token_timeout": 0}},
         "inbox.oauth_token_timeout"),
        ({"inbox": {**IMAP, "auth": "xoauth2", "oauth_token_file": "t", "host": "imap.example.org",
                    "security": "none"}}, "inbox.security"),
        ({"smtp": {"auth": "xoauth2", "oauth_token_file": "t"}}, "smtp.username"),
        ({"smtp": {"username": USER, "auth": "xoauth2", "password_env": "X", "oauth_token_file": "t"}},
         "smtp.password_env"),
        ({"smtp": {"username": USER, "oauth_token_command": ["/bin/refresh"]}}, "smtp.oauth_token_command"),
    ],
)
def test_every_xoauth2_problem_names_its_dotted_key(tmp_path, sections, key):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, **sections)
    message = str(info.value)
    assert f": {key}:" in message and "\n" not in message
    assert info.value.exit_code == 2


def test_plain_text_refusal_speaks_of_the_token(tmp_path):
    with pytest.raises(ConfigError, match="enviaría el token de acceso sin cifrar a imap.example.org"):
        load(tmp_path, inbox={**IMAP, "auth": "xoauth2", "oauth_token_file": "t", "host": "imap.example.org",
                              "security": "none"})


def test_token_file_resolves_like_password_file(tmp_path, monkeypatch):
    sections = {"inbox": {**IMAP, "auth": "xoauth2", "oauth_token_file": "imap-token"},
                "smtp": {"transport": "smtp", "username": USER, "auth": "xoauth2",
                         "oauth_token_command": ["refresh", "--smtp"], "oauth_token_timeout": 5}}
    config = load(tmp_path, **sections)
    assert token_source(config, "inbox").file == tmp_path / "imap-token"  # beside the config file
    smtp = token_source(config, "smtp")
    assert (smtp.file, smtp.command, smtp.timeout) == (None, ("refresh", "--smtp"), 5.0)
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "imap-token").write_text(TOKEN)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))  # systemd LoadCredential=
    assert token_source(config, "inbox").read() == TOKEN


def test_password_login_is_the_default(tmp_path):
    config = load(tmp_path, inbox=IMAP)
    assert config.inbox.auth == config.smtp.auth == "password"
    assert token_source(config, "inbox") is None and token_source(config, "smtp") is None
