"""No English and no Python on a Spanish screen: the help of every command
and the error paths an operator meets first (no config file, a config
nobody may read, bad TOML, a wrong or empty password, usage mistakes) show
no untranslated text of the OS, click, tomllib, SQLite or imaplib."""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
import tomllib

import pytest

from helpdesk import errortext

from .conftest import ROOT, USER, embedded_sections, networked_sections, run_helpdesk, write_config

# Texts the OS and the libraries write in English, and Python's own marks.
# (Not "Error:": it is Spanish too, and click's translated prefix.)
ENGLISH = (
    r"Permission denied", r"No such file", r"Is a directory", r"Errno", r"Connection refused", r"timed out",
    r"Invalid value", r"\bat line\b", r"end of document", r"\bb'", r'\bb"', r"\[required\]", r"\brequired\b",
    r"\bdefault:", r"Usage:", r"usage:", r"Options:", r"options:", r"Commands:", r"Show this message",
    r"show this help", r"Traceback", r"\bMissing\b", r"is not a valid", r"does not exist", r"Try '",
    r"\bTEXT\b", r"\bINTEGER\b", r"\bFILE\b", r"\bDIRECTORY\b", r"\bFLOAT\b", r"\bPATH\b", r"Authentication failed\.'",
    r"unable to open", r"database is locked", r"Aborted!",
)


def english_in(text: str) -> list[str]:
    return [marker for marker in ENGLISH if re.search(marker, text)]


# Run in a fresh interpreter, as `helpdesk` starts: what an earlier test
# imported in this process must not decide the help's words.
HELP_OF_EVERY_COMMAND = """
import json, sys
import click
from click.testing import CliRunner
from helpdesk.cli import cli

def every_command(group, path=()):
    for name, command in sorted(group.commands.items()):
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from every_command(command, (*path, name))

helps = {}
for path in [(), *every_command(cli)]:
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="helpdesk")
    helps[" ".join(("helpdesk", *path))] = [result.exit_code, result.output]
json.dump(helps, sys.stdout)
"""


def test_the_help_of_every_command_is_spanish():
    result = subprocess.run([sys.executable, "-c", HELP_OF_EVERY_COMMAND], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    helps = json.loads(result.stdout)
    assert len(helps) > 30 and all(code == 0 for code, _ in helps.values())
    found = {command: english_in(output) for command, (_, output) in helps.items() if english_in(output)}
    assert found == {}


def test_a_required_option_is_marked_obligatorio_in_spanish():
    result = run_helpdesk("review", "--help")
    assert "Nombre de quien revisa (queda en el historial)." in result.stdout
    assert "[obligatorio]" in result.stdout and "--by TEXTO" in result.stdout
    assert "--config ARCHIVO" in result.stdout


def screen(result) -> str:
    return result.stdout + result.stderr


def test_config_error_paths_show_no_english(tmp_path):
    cases = {}
    # No file where the default points.
    cases["sin archivo"] = run_helpdesk("queue", cwd=tmp_path, env={"HELPDESK_CONFIG": ""})
    # A folder given as the file (read by root too), and TOML mistakes of each kind.
    (tmp_path / "carpeta.toml").mkdir()
    cases["carpeta"] = run_helpdesk("--config", tmp_path / "carpeta.toml", "queue")
    for n, text in enumerate(['[inbox]\nport = abc\n', '[inbox]\n[inbox]\n', '[inbox\n', 'clave "x"\n',
                              '[inbox]\nhost = "sin cerrar\n', '[smtp]\nport = 25\nport = 26\n',
                              'a = [1, 2\n', 'ruta = "C:\\carpeta"\n', 'x = 1 y\n', 'x = 1979-13-45\n']):
        bad = tmp_path / f"malo{n}.toml"
        bad.write_text(text, encoding="utf-8")
        cases[f"TOML {text!r}"] = run_helpdesk("--config", bad, "check")
    (tmp_path / "latin1.toml").write_bytes('[radicado]\nprefix = "AÑO"\n'.encode("latin-1"))
    cases["latin-1"] = run_helpdesk("--config", tmp_path / "latin1.toml", "queue")
    for name, result in cases.items():
        assert result.returncode == 2, (name, screen(result))
        assert english_in(screen(result)) == [], (name, screen(result))
        if name != "carpeta":  # click's own usage error: usage, hint and error
            assert len(result.stderr.splitlines()) == 1, (name, result.stderr)


def test_bad_toml_names_line_column_and_a_spanish_reason(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[inbox]\nsource = "maildir"\nport = abc\n', encoding="utf-8")
    result = run_helpdesk("--config", config, "queue")
    assert result.stderr == (f"Error: {config}: TOML inválido en la línea 3, columna 8 («port = abc»): valor no "
                             "válido (un texto va entre comillas; verdadero o falso es true o false)\n")


def test_usage_error_paths_show_no_english(tmp_path):
    config = write_config(tmp_path / "config.toml", embedded_sections())
    cases = [("approve",), ("reject", "GEL-2026-000001"), ("stats", "--days", "muchos"), ("stats", "--days", "0"),
             ("tickets", "--state", "inexistente"), ("show",), ("aprobar",), ("queue", "--sobra"),
             ("backup",), ("restore", str(tmp_path / "no-existe"))]
    for args in cases:
        result = run_helpdesk("--config", config, *args)
        assert result.returncode == 2, (args, screen(result))
        assert english_in(screen(result)) == [], (args, screen(result))


def test_a_wrong_imap_password_shows_the_servers_words_decoded(tmp_path, dovecot, smtp_server):
    sections = networked_sections(dovecot, smtp_server, inbox={"password": "no-es-la-clave"})
    config = write_config(tmp_path / "config.toml", sections)
    result = run_helpdesk("--config", config, "check", cwd=tmp_path)
    assert result.returncode == 1
    [line] = [line for line in result.stdout.splitlines() if line.startswith("FALLA IMAP")]
    assert line == (f"FALLA IMAP: IMAP {dovecot.host}:{dovecot.port}: el servidor rechazó el usuario {USER}: "
                    "«[AUTHENTICATIONFAILED] Authentication failed.»")
    assert english_in(result.stdout.replace("«[AUTHENTICATIONFAILED] Authentication failed.»", "")) == []


def test_an_unreachable_imap_server_is_said_in_spanish(tmp_path):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sections = embedded_sections(inbox={"source": "imap", "host": "127.0.0.1", "port": port, "security": "none",
                                        "username": USER, "password": "x", "connect_timeout": 2.0})
    result = run_helpdesk("--config", write_config(tmp_path / "config.toml", sections), "check", cwd=tmp_path)
    [line] = [line for line in result.stdout.splitlines() if line.startswith("FALLA IMAP")]
    assert line == (f"FALLA IMAP: IMAP 127.0.0.1:{port}: conexión rechazada (¿está en marcha el servidor en ese "
                    "puerto?)")


def test_every_reason_tomllib_gives_has_a_spanish_one():
    # A Python upgrade that adds or rewords a reason would bring English back.
    source = inspect.getsource(__import__("tomllib._parser", fromlist=["_"]))
    reasons = re.findall(r'suffixed_err\(\s*src,\s*\w+,\s*f?"((?:[^"\\]|\\.)*)"', source)
    assert len(reasons) >= 20
    patterns = [re.compile(p) for p, _ in errortext.TOML_REASONS]
    untranslated = []
    for reason in set(reasons):
        # The f-string's fields stand for a key or a character.
        sample = re.sub(r"\{[^}]+\}", "('x',)", reason.encode().decode("unicode_escape"))
        if not any(p.fullmatch(sample) for p in patterns):
            untranslated.append(reason)
    assert untranslated == []


@pytest.mark.parametrize("document", ["x = \n", "x = 1 2\n", "[a]\nb = 1\n[a]\n", "x = {a = 1, a = 2}\n",
                                      "x = \"\\q\"\n", "x = \"\\uZZZZ\"\n", "[[a]\n", "x = 1\0\n"])
def test_tomllib_errors_come_out_spanish(document):
    with pytest.raises(tomllib.TOMLDecodeError) as info:
        tomllib.loads(document)
    text = errortext.toml_error(info.value, document)
    assert text.startswith("TOML inválido en la línea ") and english_in(text) == [], text
    assert "sintaxis no válida" not in text, (str(info.value), text)
