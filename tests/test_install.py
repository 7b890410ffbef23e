"""A regular install runs (CONTRACT §8): the wheel built from this checkout,
installed into a fresh venv, works from any working directory with the
rules and templates it carries; a folder that is missing says where it was
looked for and which key sets it."""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from . import mails
from .conftest import USER, embedded_sections, networked_sections, pip, run_helpdesk, write_config


@pytest.fixture(scope="session")
def installed(tmp_path_factory, package_build) -> Path:
    """The folder holding ``helpdesk`` of a fresh venv with only the wheel in it.

    The wheel is the run's one build of a copy of this checkout
    (conftest.package_build: a build in the checkout could pick up a stale
    build/), which deploy/install.sh --wheel installs too; dependencies come
    from pip's cache, which scripts/test has filled. Nothing is read from
    the checkout: the venv holds no path to it.
    """
    root = tmp_path_factory.mktemp("install")
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True, timeout=120)
    bin_dir = root / "venv" / "bin"
    pip(bin_dir / "python", "install", str(package_build.wheel))
    return bin_dir


def installed_helpdesk(bin_dir: Path, *args, cwd: Path) -> subprocess.CompletedProcess:
    """The installed console script, with no trace of this checkout in its environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HELPDESK_CONFIG", "VIRTUAL_ENV")}
    return subprocess.run([str(bin_dir / "helpdesk"), *(str(a) for a in args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


@pytest.mark.timeout(600)
def test_the_wheel_carries_rules_and_templates(installed, tmp_path):
    result = subprocess.run([str(installed / "python"), "-c",
                             "from helpdesk.config import Config; import helpdesk; "
                             "print(helpdesk.__file__); print(Config().rules_dir); print(Config().templates_dir)"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    package, rules, templates = (Path(line) for line in result.stdout.splitlines())
    site = package.parent
    assert site.parent.name == "site-packages" and str(installed.parent) in str(site)
    assert rules == site / "shipped_rules" and (rules / "form.toml").is_file()
    assert templates == site / "shipped_templates" and (templates / "ack.txt.j2").is_file()


@pytest.mark.timeout(600)
def test_demo_and_form_template_run_from_another_directory(installed, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = installed_helpdesk(installed, "demo", "--dir", tmp_path / "demo", cwd=elsewhere)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Correos escritos en" in result.stdout
    sent = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
            for f in sorted((tmp_path / "demo" / "outbox").glob("*.eml"))]
    kinds = [m["X-Helpdesk-Kind"] for m in sent]
    assert "ack" in kinds and "correction" in kinds
    # The correction to the request without documents attaches the blank form.
    attached = [part.get_filename() for m in sent if m["X-Helpdesk-Kind"] == "correction"
                for part in m.iter_attachments()]
    assert "Formato de solicitud.xlsx" in attached

    result = installed_helpdesk(installed, "form-template", "formato.xlsx", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert (elsewhere / "formato.xlsx").read_bytes()[:4] == b"PK\x03\x04"


@pytest.mark.timeout(600)
def test_check_and_run_once_against_real_servers(installed, tmp_path, dovecot, smtp_server):
    (tmp_path / "etc").mkdir()
    config = write_config(tmp_path / "etc" / "config.toml", networked_sections(dovecot, smtp_server))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    result = installed_helpdesk(installed, "--config", config, "check", cwd=elsewhere)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{installed.parent}/lib/" in result.stdout and "shipped_rules son válidas" in result.stdout

    dovecot.append(USER, mails.request())
    result = installed_helpdesk(installed, "--config", config, "run", "--once", cwd=elsewhere)
    assert result.returncode == 0, result.stdout + result.stderr
    acks = [m.message for m in smtp_server.snapshot() if m.message["X-Helpdesk-Kind"] == "ack"]
    assert len(acks) == 1 and "[Radicado GEL-" in acks[0]["Subject"]
    assert acks[0]["To"] == mails.ENTITY


# -- a folder that is not there ------------------------------------------


def test_missing_rules_folder_names_the_key_not_a_file_to_correct(tmp_path):
    config = write_config(tmp_path / "config.toml", embedded_sections(rules={"path": "mis-reglas"}))
    result = run_helpdesk("--config", config, "run", "--once", cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert f"{config}: rules.path: no existe la carpeta de reglas {tmp_path / 'mis-reglas'}" in line
    assert "Traceback" not in result.stderr

    result = run_helpdesk("--config", config, "check", cwd=tmp_path)
    assert result.returncode == 1
    assert "rules.path" in result.stdout and "corrija el archivo de reglas indicado" not in result.stdout


def test_missing_rule_file_in_an_override_says_where_to_copy_it_from(tmp_path):
    from helpdesk.rules import RULES_DIR

    rules = tmp_path / "reglas"
    shutil.copytree(RULES_DIR, rules)
    (rules / "problems.toml").unlink()
    config = write_config(tmp_path / "config.toml", embedded_sections(rules={"path": str(rules)}))
    result = run_helpdesk("--config", config, "run", "--once", cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert str(rules / "problems.toml") in line and "rules.path" in line
    assert str(RULES_DIR / "problems.toml") in line


def test_missing_templates_folder_names_its_key(tmp_path):
    config = write_config(tmp_path / "config.toml", embedded_sections(replies={"templates": "plantillas"}))
    result = run_helpdesk("--config", config, "run", "--once", cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert f"{config}: replies.templates: no existe la carpeta de plantillas {tmp_path / 'plantillas'}" in line
