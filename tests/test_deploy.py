"""The systemd unit is valid and its credentials path works."""

import email
import grp
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "helpdesk.service"


@pytest.mark.parametrize("name", ["helpdesk.service", "helpdesk-web.service"])
def test_unit_passes_systemd_analyze_verify(tmp_path, name):
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is not installed: run scripts/test, which installs systemd")
    # verify checks that ExecStart exists: point it at this checkout's script.
    script = Path(sys.executable).with_name("helpdesk")
    assert script.exists()
    unit = tmp_path / name
    unit.write_text((ROOT / "deploy" / name).read_text().replace("/opt/helpdesk/.venv/bin/helpdesk", str(script)))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert name not in result.stderr, result.stderr


def test_web_unit_is_hardened():
    text = (ROOT / "deploy" / "helpdesk-web.service").read_text()
    for line in ("NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                 "ReadWritePaths=/var/lib/helpdesk", "SystemCallFilter=@system-service", "Restart=on-failure",
                 "User=helpdesk", "ExecStart=/opt/helpdesk/.venv/bin/helpdesk web", "CapabilityBoundingSet=\n",
                 "MemoryDenyWriteExecute=yes"):
        assert line in text


def test_unit_is_hardened_and_uses_credentials():
    text = UNIT.read_text()
    for line in ("NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                 "ReadWritePaths=/var/lib/helpdesk", "SystemCallFilter=@system-service", "Restart=on-failure",
                 "User=helpdesk", "LoadCredential=imap-password:", "Type=notify", "WatchdogSec=",
                 "ExecReload=/bin/kill -HUP $MAINPID"):
        assert line in text


# -- deploy/install.sh, for real, as root ----------------------------------
#
# It changes this machine (user helpdesk, /opt/helpdesk, /etc/helpdesk,
# /var/lib/helpdesk, the unit): it runs only as root and when asked to,
# which scripts/test does as root (CI runs it so, on a fresh machine). The
# service is never started here (--no-start).

INSTALL = ROOT / "deploy" / "install.sh"
VENV_BIN = Path("/opt/helpdesk/.venv/bin")
ETC = Path("/etc/helpdesk")
DATA = Path("/var/lib/helpdesk")
INSTALLED_UNIT = Path("/etc/systemd/system/helpdesk.service")
INSTALLED_WEB_UNIT = Path("/etc/systemd/system/helpdesk-web.service")
WEB_UNIT = ROOT / "deploy" / "helpdesk-web.service"
SERVICE_ENV = {**{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")},
               "HELPDESK_CONFIG": str(ETC / "config.toml")}

system_install = pytest.mark.skipif(
    os.geteuid() != 0 or os.environ.get("HELPDESK_INSTALL_TEST") != "1",
    reason="deploy/install.sh changes the machine: only as root with HELPDESK_INSTALL_TEST=1, "
           "which scripts/test sets when run as root" if os.geteuid() == 0
           else "deploy/install.sh needs root; scripts/test runs it as root")


def install() -> subprocess.CompletedProcess:
    result = subprocess.run([str(INSTALL), "--no-start"], capture_output=True, text=True, timeout=900, cwd="/")
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def as_service(*args: str) -> subprocess.CompletedProcess:
    """``runuser -u helpdesk -- helpdesk ARGS``, the way an administrator checks the service's view."""
    return subprocess.run(["runuser", "-u", "helpdesk", "--", str(VENV_BIN / "helpdesk"), *args],
                          capture_output=True, text=True, timeout=120, cwd="/", env=SERVICE_ENV)


def as_staff(*args: str) -> subprocess.CompletedProcess:
    """A staff member: another user (nobody here), in group helpdesk, with the usual umask 022."""
    gid = grp.getgrnam("helpdesk").gr_gid
    return subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", f"--groups={gid}", "--",
                           "/bin/sh", "-c", 'umask 022 && exec "$0" "$@"', "/usr/local/bin/helpdesk", *args],
                          capture_output=True, text=True, timeout=120, cwd="/", env=SERVICE_ENV)


def owner_and_mode(path: Path) -> str:
    st = path.lstat()
    return f"{pwd.getpwuid(st.st_uid).pw_name}:{grp.getgrgid(st.st_gid).gr_name}:{stat.S_IMODE(st.st_mode):o}"


def snapshot() -> dict[str, tuple]:
    """Every file the script installs, with what a change would alter."""
    paths = [Path("/opt/helpdesk"), ETC, INSTALLED_UNIT, INSTALLED_WEB_UNIT, DATA, Path("/usr/local/bin/helpdesk"),
             Path("/etc/profile.d/helpdesk.sh")]
    found = {}
    for top in paths:
        for path in [top, *(top.rglob("*") if top.is_dir() and top != DATA else [])]:
            st = path.lstat()
            found[str(path)] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns)
    return found


@pytest.fixture(scope="module")
def first_install():
    return install()


@system_install
def test_install_sets_owners_and_modes(first_install):
    assert owner_and_mode(ETC) == "root:helpdesk:750"
    assert owner_and_mode(ETC / "config.toml") == "root:helpdesk:640"
    assert owner_and_mode(ETC / "credentials") == "root:root:700"
    for name in ("imap-password", "smtp-password"):
        assert owner_and_mode(ETC / "credentials" / name) == "root:root:600"
    assert owner_and_mode(DATA) == "helpdesk:helpdesk:2770"
    assert owner_and_mode(INSTALLED_UNIT) == "root:root:644"
    assert INSTALLED_UNIT.read_text() == UNIT.read_text()
    assert owner_and_mode(INSTALLED_WEB_UNIT) == "root:root:644"
    assert INSTALLED_WEB_UNIT.read_text() == WEB_UNIT.read_text()
    assert os.readlink("/usr/local/bin/helpdesk") == str(VENV_BIN / "helpdesk")
    # The data of the shipped config.toml lands in the data folder, not under /etc.
    config = (ETC / "config.toml").read_text()
    assert f'database = "{DATA}/helpdesk.db"' in config and '"var/' not in config


@system_install
def test_the_service_user_passes_check_and_the_unit_verifies(first_install):
    result = as_service("check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "/opt/helpdesk/.venv/lib/" in result.stdout  # the rules and templates of the wheel
    for unit in (INSTALLED_UNIT, INSTALLED_WEB_UNIT):
        verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
        assert verify.returncode == 0, verify.stderr
        assert unit.name not in verify.stderr, verify.stderr


@system_install
def test_staff_in_group_helpdesk_decide_as_themselves(first_install):
    from . import mails

    inbox = DATA / "inbox"
    assert as_service("run", "--once").returncode == 0  # the service makes its folders
    name = f"{time.time_ns()}.install-test"
    (inbox / "tmp" / name).write_bytes(mails.request(subject="Prueba de instalación"))
    (inbox / "tmp" / name).rename(inbox / "new" / name)
    assert as_service("run", "--once").returncode == 0
    listing = as_staff("tickets", "--json")
    assert listing.returncode == 0, listing.stderr
    ticket = next(t for t in json.loads(listing.stdout) if t["subject"] == "Prueba de instalación")
    assert ticket["state"] == "needs_correction"

    corrected = as_staff("correct", ticket["radicado"], "--by", "Ana", "--reason", "Falta el acta.")
    assert corrected.returncode == 0, corrected.stderr
    before = set((DATA / "outbox").glob("*.eml"))
    assert as_service("run", "--once").returncode == 0  # the service delivers what staff queued
    kinds = {email.message_from_bytes(p.read_bytes())["X-Helpdesk-Kind"]
             for p in set((DATA / "outbox").glob("*.eml")) - before}
    assert kinds == {"correction"}
    assert owner_and_mode(DATA / "helpdesk.db").split(":")[1:] == ["helpdesk", "660"]
    # The service's own work is not a staff command: refused in one line, no traceback.
    daemon_as_staff = as_staff("run", "--once")
    assert daemon_as_staff.returncode == 1 and "permiso denegado" in daemon_as_staff.stderr
    assert "Traceback" not in daemon_as_staff.stderr


@system_install
def test_a_second_run_changes_nothing_and_keeps_an_edited_config(first_install):
    with open(ETC / "config.toml", "a", encoding="utf-8") as fh:
        fh.write("# editado por el administrador\n")
    before = snapshot()
    result = install()
    assert snapshot() == before
    assert "nada que cambiar" in result.stdout
    assert f"se conserva {ETC}/config.toml" in result.stdout
    assert (ETC / "config.toml").read_text().endswith("# editado por el administrador\n")
