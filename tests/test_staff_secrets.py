"""Staff commands need no mail secrets (CONTRACT §8): with the IMAP and SMTP
passwords out of reach they work, and what they queue is delivered by the
process that holds the database's lock: the running daemon within seconds,
or the command itself when no daemon runs and it can log in."""

import time

import pytest

from . import mails
from .conftest import USER, Embedded, networked_sections, run_helpdesk, write_config
from .servers import SmtpCapture, free_port
from .test_daemon import DaemonProcess, wait_until
from .test_e2e_documents import documents
from .test_staff import LEGAL_REP, pending

SMTP_PASSWORD = "clave-smtp"


@pytest.fixture
def smtp_server():
    """The relay asks for the password the staff cannot read."""
    with SmtpCapture(auth={USER: SMTP_PASSWORD}) as server:
        yield server


def configs(root, dovecot, smtp_server, **smtp):
    """The service's config (it can read the passwords) and the staff's:
    the same database, password files nobody can read (they do not exist,
    which root cannot read either)."""
    root.mkdir(parents=True, exist_ok=True)
    service = networked_sections(dovecot, smtp_server, smtp={"username": USER, "password": SMTP_PASSWORD, **smtp})
    missing = root / "credentials"  # root-only under the README's layout: here, absent
    staff = networked_sections(dovecot, smtp_server,
                               inbox={"password_file": str(missing / "imap-password")},
                               smtp={"username": USER, "password_file": str(missing / "smtp-password")})
    del staff["inbox"]["password"]
    return write_config(root / "service.toml", service), write_config(root / "staff.toml", staff)


def staff_cli(config, *args):
    return run_helpdesk("--config", config, *args, timeout=60)


def complete_request(tmp_path, sender):
    return mails.request(sender=sender, attachments=documents(tmp_path))


def radicados(config) -> list[str]:
    import json

    return [t["radicado"] for t in json.loads(staff_cli(config, "tickets", "--json").stdout)]


def kinds(smtp_server) -> list[str]:
    return [m.message["X-Helpdesk-Kind"] for m in smtp_server.snapshot()]


def test_staff_commands_work_without_the_mail_passwords_and_the_daemon_sends_what_they_queued(
        tmp_path, dovecot, smtp_server):
    service, staff = configs(tmp_path / "h", dovecot, smtp_server)
    for n in range(3):
        dovecot.append(USER, complete_request(tmp_path, f"u{n}@alcaldia-prueba.gov.co"))
    assert run_helpdesk("--config", service, "run", "--once").returncode == 0
    assert kinds(smtp_server).count("accepted") == 3
    first, second, third = sorted(radicados(staff))

    for args in (["queue"], ["queue", "--json"], ["tickets"], ["show", first], ["show", first, "--json"],
                 ["stats"], ["outbox"], ["failed"]):
        result = staff_cli(staff, *args)
        assert result.returncode == 0, (args, result.stderr)
        assert "password" not in result.stderr
    decisions = [staff_cli(staff, "approve", first, "--by", "Ana", "--yes"),
                 staff_cli(staff, "reject", second, "--by", "Ana", "--reason", "El acta no es de la entidad"),
                 staff_cli(staff, "correct", third, "--by", "Ana", "--reason", "La firma no es legible")]
    for result in decisions:
        assert result.returncode == 0, result.stderr
        # Queued, said so in one line: why it could not leave from here, and
        # that no service seems to be running to send it.
        [line] = result.stderr.splitlines()
        assert line.startswith("El correo quedó en cola y lo enviará el servicio (desde aquí no se pudo enviar: ")
        assert "smtp.password_file" in line and "El servicio no parece estar en marcha" in line
    assert len(smtp_server.snapshot()) == 6  # nothing sent by the staff commands

    assert run_helpdesk("--config", service, "run", "--once").returncode == 0
    sent = kinds(smtp_server)[6:]
    assert sorted(sent) == ["correction", "rejected", "reset"]


def test_approve_while_the_daemon_runs_is_delivered_by_it_within_seconds_exactly_once(
        tmp_path, dovecot, smtp_server):
    service, staff = configs(tmp_path / "h", dovecot, smtp_server)
    daemon = DaemonProcess(service)
    try:
        daemon.wait_connected()
        dovecot.append(USER, complete_request(tmp_path, mails.ENTITY))
        assert wait_until(lambda: "accepted" in kinds(smtp_server), 30), daemon.output()
        [radicado] = radicados(staff)

        started = time.monotonic()
        result = staff_cli(staff, "approve", radicado, "--by", "Ana Pérez", "--yes")
        assert result.returncode == 0, result.stderr
        assert f"El servicio (pid {daemon.proc.pid}) envió el correo." in result.stdout
        assert time.monotonic() - started < 10
        resets = [m for m in smtp_server.snapshot() if m.message["X-Helpdesk-Kind"] == "reset"]
        assert [m.message["To"] for m in resets] == [LEGAL_REP]
        time.sleep(2)
        assert kinds(smtp_server).count("reset") == 1
    finally:
        assert daemon.stop() == 0
    assert "Traceback" not in daemon.output()


def test_approve_with_smtp_refusing_says_queued_and_retried_and_the_daemon_retries(tmp_path, dovecot, smtp_server):
    # The daemon's second attempt comes 2 s after the first, after the command has spoken.
    service, staff = configs(tmp_path / "h", dovecot, smtp_server, retry_base_seconds=2.0)
    daemon = DaemonProcess(service)
    try:
        daemon.wait_connected()
        dovecot.append(USER, complete_request(tmp_path, mails.ENTITY))
        assert wait_until(lambda: "accepted" in kinds(smtp_server), 30), daemon.output()
        [radicado] = radicados(staff)
        smtp_server.add_responses("451 4.3.0 Servidor ocupado, intente luego")

        result = staff_cli(staff, "approve", radicado, "--by", "Ana", "--yes")
        assert result.returncode == 0, result.stderr  # the decision is made
        assert result.stderr.strip() == ("El correo quedó en cola: el servidor SMTP no lo aceptó "
                                         "(451 4.3.0 Servidor ocupado, intente luego); el servicio lo reintentará.")
        assert wait_until(lambda: "reset" in kinds(smtp_server), 20), daemon.output()
        time.sleep(1)
        assert kinds(smtp_server).count("reset") == 1
    finally:
        assert daemon.stop() == 0


def test_approve_with_smtp_down_and_no_daemon_says_queued_retried_and_the_service_is_not_running(tmp_path):
    env = Embedded(tmp_path, smtp={"transport": "smtp", "host": "127.0.0.1", "port": free_port(),
                                   "security": "none", "timeout": 5.0})
    try:
        radicado = pending(env, tmp_path)
        result = run_helpdesk("--config", env.config_path, "approve", radicado, "--by", "Ana", "--yes", timeout=60)
    finally:
        env.daemon.close()
        env.store.close()
    assert result.returncode == 0, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("El correo quedó en cola: el servidor SMTP no lo aceptó (conexión SMTP con 127.0.0.1:")
    assert line.endswith("el servicio lo reintentará. El servicio no parece estar en marcha: "
                         "inícielo (systemctl start helpdesk) para que salga.")


def test_check_names_the_unreadable_password_and_still_checks_the_rest(tmp_path, dovecot, smtp_server):
    _service, staff = configs(tmp_path / "h", dovecot, smtp_server)
    result = staff_cli(staff, "check")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("OK") and "base de datos" in line for line in lines)
    assert any(line.startswith("FALLA IMAP:") and "inbox.password_file: no se puede leer" in line for line in lines)
    assert any(line.startswith("FALLA SMTP:") and "smtp.password_file: no se puede leer" in line for line in lines)
    assert sum("Qué hacer: revise inbox.password_file" in line for line in lines) == 1
