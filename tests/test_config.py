"""Configuration: typed, strict, every problem one line naming the key."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpdesk import config as config_mod
from helpdesk.errors import ConfigError

from .conftest import embedded_sections, write_config

ROOT = Path(__file__).resolve().parent.parent


def load(tmp_path, **sections):
    return config_mod.load(write_config(tmp_path / "config.toml", sections))


def test_shipped_config_runs_on_embedded_defaults():
    config = config_mod.load(ROOT / "config.toml")
    assert config.inbox.source == "maildir"
    assert config.smtp.transport == "file"
    assert config.database_path == ROOT / "var" / "helpdesk.db"


def test_contract_keys_are_read(tmp_path):
    (tmp_path / "pw").write_text("s3creto\n")
    config = load(
        tmp_path,
        inbox={"source": "imap", "host": "127.0.0.1", "port": 1993, "security": "none",
               "username": "soporte@entidad.gov.co", "password_file": "pw", "folder": "INBOX",
               "processed_folder": "Hecho"},
        smtp={"transport": "smtp", "host": "127.0.0.1", "port": 2525, "security": "none",
              "username": "", "password": "", "from_address": "a@b.gov.co", "from_name": "Mesa"},
        storage={"database": "x.db"}, radicado={"prefix": "MES"},
        reset={"backend": "command", "command": ["/bin/true", "--x"]},
    )
    assert config.inbox_password() == "s3creto"
    assert config.inbox.port == 1993 and config.inbox.processed_folder == "Hecho"
    assert config.reset.command == ["/bin/true", "--x"]
    assert config.database_path == tmp_path / "x.db"


@pytest.mark.parametrize(
    "sections, key",
    [
        ({"inbox": {"prot": 993}}, "inbox.prot"),
        ({"inboxx": {"port": 993}}, "inboxx"),
        ({"inbox": {"port": "993"}}, "inbox.port"),
        ({"inbox": {"idle": "yes"}}, "inbox.idle"),
        ({"smtp": {"security": "tls"}}, "smtp.security"),
        ({"inbox": {"source": "pop3"}}, "inbox.source"),
        ({"smtp": {"port": 70000}}, "smtp.port"),
        ({"reset": {"command": "/bin/reset"}}, "reset.command"),
        ({"radicado": {"prefix": "GEL-X"}}, "radicado.prefix"),
        ({"smtp": {"from_address": "nadie"}}, "smtp.from_address"),
        ({"inbox": {"source": "imap", "username": "u", "host": "imap.example.org", "security": "none"}}, "inbox.security"),
        ({"smtp": {"password": "a", "password_env": "B"}}, "smtp.password_env"),
    ],
)
def test_every_problem_names_its_dotted_key(tmp_path, sections, key):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, **sections)
    message = str(info.value)
    assert f": {key}:" in message and "\n" not in message
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    "sections, key",
    [
        ({"inbox": {"source": "imap", "username": "u", "password_file": "/nonexistent/pw"}}, "inbox.password_file"),
        ({"smtp": {"transport": "smtp", "password_env": "HELPDESK_TEST_UNSET_VAR"}}, "smtp.password_env"),
    ],
)
def test_a_missing_secret_is_named_when_read_not_when_loaded(tmp_path, sections, key):
    config = load(tmp_path, **sections)  # staff commands load the file without the secrets
    with pytest.raises(ConfigError) as info:
        config.mail_secrets()
    assert f": {key}:" in str(info.value) and info.value.exit_code == 2


def test_password_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HD_PW", "desde-entorno")
    config = load(tmp_path, smtp={"password_env": "HD_PW", "from_address": "a@b.gov.co"})
    assert config.smtp_password() == "desde-entorno"


def test_password_file_from_systemd_credentials(tmp_path, monkeypatch):
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "smtp-password").write_text("de-credencial\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    config = load(tmp_path, smtp={"password_file": "smtp-password", "from_address": "a@b.gov.co"})
    assert config.smtp_password() == "de-credencial"


def test_unreadable_password_file_is_named(tmp_path):
    if os.geteuid() == 0:
        pw = tmp_path / "pw-dir"
        pw.mkdir()  # a directory cannot be read as a file, even by root
    else:
        pw = tmp_path / "pw"
        pw.write_text("x")
        pw.chmod(0)
    config = load(tmp_path, smtp={"password_file": str(pw), "from_address": "a@b.gov.co"})
    with pytest.raises(ConfigError, match=r": smtp\.password_file: no se puede leer"):
        config.smtp_password()


def run_cli(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "helpdesk", *args], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **(env or {})}, timeout=60)


def test_cli_config_error_is_one_line_exit_2(tmp_path):
    write_config(tmp_path / "config.toml", embedded_sections(inbox={"prot": 1}))
    result = run_cli("--config", str(tmp_path / "config.toml"), "tickets")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "inbox.prot" in result.stderr and "Traceback" not in result.stderr


def test_cli_missing_config_file(tmp_path):
    result = run_cli("tickets", cwd=tmp_path, env={"HELPDESK_CONFIG": str(tmp_path / "no.toml")})
    assert result.returncode == 2
    assert "no existe el archivo de configuración" in result.stderr
    assert "Traceback" not in result.stderr
