"""`helpdesk check` against the real servers: one line per check, exit 0 only when all pass."""

import subprocess
from pathlib import Path

from .conftest import networked_sections, run_helpdesk, write_config
from .servers import SmtpCapture, free_port

ROOT = Path(__file__).resolve().parent.parent


def check(config_path: Path) -> subprocess.CompletedProcess:
    return run_helpdesk("--config", config_path, "check", timeout=60)


def test_all_good(tmp_path, dovecot, smtp_server):
    result = check(write_config(tmp_path / "config.toml", networked_sections(dovecot, smtp_server)))
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    assert all(line.startswith("OK") for line in lines)
    assert any("IMAP: sesión iniciada" in line and "Procesados" in line for line in lines)
    assert any("SMTP" in line and "no se envió nada" in line for line in lines)
    assert smtp_server.snapshot() == []


def test_bad_imap_password_says_what_to_do(tmp_path, dovecot, smtp_server):
    sections = networked_sections(dovecot, smtp_server, inbox={"password": "mala"})
    result = check(write_config(tmp_path / "config.toml", sections))
    assert result.returncode == 1
    assert "FALLA IMAP" in result.stdout and "revise inbox.username y la contraseña" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_missing_folder_and_closed_smtp_port(tmp_path, dovecot, smtp_server):
    sections = networked_sections(dovecot, smtp_server, inbox={"folder": "NoExiste"}, smtp={"port": free_port()})
    result = check(write_config(tmp_path / "config.toml", sections))
    assert result.returncode == 1
    assert "no existe la carpeta NoExiste" in result.stdout
    assert "FALLA SMTP" in result.stdout and "que el servidor esté en marcha" in result.stdout


def test_smtp_wrong_credentials_and_untrusted_certificate(tmp_path, dovecot):
    with SmtpCapture(auth={"mesa": "bien"}) as smtp:
        sections = networked_sections(dovecot, smtp, smtp={"username": "mesa", "password": "mal"})
        result = check(write_config(tmp_path / "a.toml", sections))
        assert result.returncode == 1 and "revise smtp.username y la contraseña" in result.stdout
    with SmtpCapture(tls=True, cert_dir=tmp_path / "certs") as smtp:
        sections = networked_sections(dovecot, smtp, smtp={"security": "ssl"})
        result = check(write_config(tmp_path / "b.toml", sections))
        assert result.returncode == 1 and "smtp.ca_file" in result.stdout
        sections = networked_sections(dovecot, smtp, smtp={"security": "ssl", "ca_file": str(smtp.ca_path)})
        assert check(write_config(tmp_path / "c.toml", sections)).returncode == 0


def test_broken_template_is_named_before_a_reload(tmp_path, dovecot, smtp_server):
    import shutil

    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    sections = networked_sections(dovecot, smtp_server, replies={"templates": str(templates)})
    path = write_config(tmp_path / "config.toml", sections)
    assert any(line.startswith("OK") and "plantillas" in line for line in check(path).stdout.splitlines())
    (templates / "rejected.html.j2").write_text("{{ radicado }\n", encoding="utf-8")
    result = check(path)
    assert result.returncode == 1
    assert "FALLA plantillas" in result.stdout and "rejected.html.j2:1: plantilla inválida" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_the_file_outbox_is_said_to_keep_passwords_and_send_nothing(tmp_path):
    # Issue 10, finding 11: with the file transport (the embedded default)
    # a reset email's password stays in its .eml file: that file is the
    # delivered mail. check says so to the administrator.
    from .conftest import embedded_sections

    result = check(write_config(tmp_path / "config.toml", embedded_sections()))
    [line] = [line for line in result.stdout.splitlines() if "salida" in line]
    assert line.startswith("OK") and "archivos .eml en" in line
    assert "los de contraseñas quedan en esos archivos" in line and "configure [smtp]" in line
