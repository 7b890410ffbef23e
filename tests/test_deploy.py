"""The systemd unit is valid and its credentials path works."""

import email
import grp
import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "helpdesk.service"

# install.sh builds a venv with every dependency (pip's cache helps): minutes, not seconds.
pytestmark = pytest.mark.timeout(1200)


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


# -- deploy/install.sh, for real, as root, under --root --------------------
#
# The script runs for real (root, useradd, chown, a venv built from this
# checkout, runuser, systemd-analyze) but with --root into a folder of its
# own, so that the machine's /etc/helpdesk, /var/lib/helpdesk, /opt/helpdesk,
# units and links stay as they were: an administrator may run scripts/test
# as root where the real service lives. The one system change that may
# remain is the user and group helpdesk (what a real install creates too).
# It runs only as root and when asked to, which scripts/test does as root.
# The service is never started by the script (--root never starts anything);
# helpdesk-foreground runs the daemon here, the way a host without systemd does.

# What a real install writes, and what these tests must leave as they found it.
SYSTEM_PATHS = (Path("/opt/helpdesk"), Path("/etc/helpdesk"), Path("/var/lib/helpdesk"), Path("/run/helpdesk"),
                Path("/etc/systemd/system/helpdesk.service"), Path("/etc/systemd/system/helpdesk-web.service"),
                Path("/usr/local/bin/helpdesk"), Path("/etc/profile.d/helpdesk.sh"))

system_install = pytest.mark.skipif(
    os.geteuid() != 0 or os.environ.get("HELPDESK_INSTALL_TEST") != "1",
    reason="deploy/install.sh runs useradd, chown and runuser: only as root with HELPDESK_INSTALL_TEST=1, "
           "which scripts/test sets when run as root" if os.geteuid() == 0
           else "deploy/install.sh needs root; scripts/test runs it as root")


class Target:
    """The paths of an install made with ``install.sh --root DIR``."""

    def __init__(self, root: Path):
        self.root = root
        self.prefix = root / "opt" / "helpdesk"
        self.venv_bin = self.prefix / ".venv" / "bin"
        self.etc = root / "etc" / "helpdesk"
        self.data = root / "var" / "lib" / "helpdesk"
        self.runtime = root / "run" / "helpdesk"
        self.unit = root / "etc" / "systemd" / "system" / "helpdesk.service"
        self.web_unit = root / "etc" / "systemd" / "system" / "helpdesk-web.service"
        self.foreground = self.prefix / "bin" / "helpdesk-foreground"
        self.command = root / "usr" / "local" / "bin" / "helpdesk"
        self.profile = root / "etc" / "profile.d" / "helpdesk.sh"
        self.script = ROOT / "deploy" / "install.sh"  # the one that installs here
        self.wheel: Path | None = None  # a wheel built beforehand, for --wheel
        self.env = {**{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")},
                    "HELPDESK_CONFIG": str(self.etc / "config.toml")}

    def moved(self, text: str) -> str:
        """A shipped file's text with the system paths moved under the root, as install.sh renders it."""
        for system in ("/opt/helpdesk", "/etc/helpdesk", "/var/lib/helpdesk", "/run/helpdesk"):
            text = text.replace(system, f"{self.root}{system}")
        return text


def fingerprint(paths=SYSTEM_PATHS, skip: tuple[Path, ...] = ()) -> dict[str, tuple]:
    """Every file, folder and link under ``paths``: type, owner, mode, size,
    modification time, and the SHA-256 of each file up to 4 MB (the venv's
    big libraries by their stat alone)."""
    import hashlib

    found = {}
    for top in paths:
        if top in skip or not top.exists() and not top.is_symlink():
            continue
        for path in [top, *(sorted(top.rglob("*")) if top.is_dir() and not top.is_symlink() else [])]:
            st = path.lstat()
            detail = ""
            if stat.S_ISLNK(st.st_mode):
                detail = os.readlink(path)
            elif stat.S_ISREG(st.st_mode) and st.st_size <= 4 * 1024 * 1024:
                detail = hashlib.sha256(path.read_bytes()).hexdigest()
            found[str(path)] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, detail)
    return found


def real_service_running() -> bool:
    """Whether a helpdesk processor holds the machine's database lock: then
    /var/lib/helpdesk changes by itself and is left out of the comparison."""
    import fcntl

    try:
        fd = os.open("/var/lib/helpdesk/helpdesk.db.lock", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


@pytest.fixture(scope="module")
def system_before():
    """The machine's helpdesk paths before any install of this module."""
    skip = (Path("/var/lib/helpdesk"),) if real_service_running() else ()
    return skip, fingerprint(skip=skip)


@pytest.fixture(scope="module")
def target(system_before, package_build):
    """An empty folder for ``install.sh --root``, which user helpdesk and
    staff (nobody) can traverse, as they can / , removed afterwards; the
    script is run from the run's copy of this checkout (conftest.package_build),
    so that an edit made here meanwhile is not a new build in the second run,
    and is given that copy's wheel where it need not build one."""
    root = Path(tempfile.mkdtemp(prefix="helpdesk-install-test-"))
    root.chmod(0o755)
    installing = Target(root)
    installing.script = package_build.source / "deploy" / "install.sh"
    installing.wheel = package_build.wheel
    had_user = _exists(pwd.getpwnam, "helpdesk")
    had_group = _exists(grp.getgrnam, "helpdesk")
    yield installing
    shutil.rmtree(root, ignore_errors=True)
    # install.sh makes the system user and group helpdesk (the one change
    # --root leaves on the machine): the tests take back what they made, so
    # /etc/passwd and /etc/group are as they found them.
    if not had_user and _exists(pwd.getpwnam, "helpdesk"):
        subprocess.run(["userdel", "helpdesk"], check=False, capture_output=True)  # a process left as helpdesk: kept
    if not had_group and _exists(grp.getgrnam, "helpdesk"):
        subprocess.run(["groupdel", "helpdesk"], check=False, capture_output=True)


def _exists(lookup, name: str) -> bool:
    try:
        lookup(name)
        return True
    except KeyError:
        return False


def install(target: Target, build: bool = False) -> subprocess.CompletedProcess:
    """``install.sh --root``, given the run's wheel (--wheel), or with
    ``build`` building its own from the checkout as an administrator's run does."""
    wheel = [] if build else ["--wheel", str(target.wheel)]
    result = subprocess.run([str(target.script), "--root", str(target.root), *wheel], capture_output=True,
                            text=True, timeout=900, cwd="/")
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def as_service(target: Target, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``runuser -u helpdesk -- helpdesk ARGS``, the way an administrator checks the service's view."""
    return subprocess.run(["runuser", "-u", "helpdesk", "--", str(target.venv_bin / "helpdesk"), *args],
                          capture_output=True, text=True, timeout=120, cwd="/", env={**target.env, **(env or {})})


def as_staff(target: Target, *args: str, in_group: bool = True) -> subprocess.CompletedProcess:
    """A staff member: another user (nobody here), in group helpdesk or not, with the usual umask 022."""
    groups = f"--groups={grp.getgrnam('helpdesk').gr_gid}" if in_group else "--clear-groups"
    return subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", groups, "--",
                           "/bin/sh", "-c", 'umask 022 && exec "$0" "$@"', str(target.command), *args],
                          capture_output=True, text=True, timeout=120, cwd="/", env=target.env)


def owner_and_mode(path: Path) -> str:
    st = path.lstat()
    return f"{pwd.getpwuid(st.st_uid).pw_name}:{grp.getgrgid(st.st_gid).gr_name}:{stat.S_IMODE(st.st_mode):o}"


def snapshot(target: Target) -> dict[str, tuple]:
    """Every file the script installs, with what a change would alter."""
    return fingerprint((target.prefix, target.etc, target.unit, target.web_unit, target.command, target.profile),
                       skip=())


@pytest.fixture(scope="module")
def first_install(target):
    return install(target)


@system_install
def test_install_under_root_sets_owners_and_modes(first_install, target):
    assert owner_and_mode(target.etc) == "root:helpdesk:750"
    assert owner_and_mode(target.etc / "config.toml") == "root:helpdesk:640"
    assert owner_and_mode(target.etc / "credentials") == "root:root:700"
    for name in ("imap-password", "smtp-password"):
        assert owner_and_mode(target.etc / "credentials" / name) == "root:root:600"
    assert owner_and_mode(target.data) == "helpdesk:helpdesk:2770"
    assert owner_and_mode(target.unit) == "root:root:644"
    assert owner_and_mode(target.web_unit) == "root:root:644"
    assert owner_and_mode(target.foreground) == "root:root:755"
    # The units and the wrapper name the folders of this install, nothing of the machine's.
    shipped = target.script.parent
    assert target.unit.read_text() == target.moved((shipped / "helpdesk.service").read_text())
    assert target.web_unit.read_text() == target.moved((shipped / "helpdesk-web.service").read_text())
    assert target.foreground.read_text() == target.moved((shipped / "helpdesk-foreground").read_text())
    assert f"ExecStart={target.venv_bin}/helpdesk run\n" in target.unit.read_text()
    assert os.readlink(target.command) == str(target.venv_bin / "helpdesk")
    assert target.profile.read_text() == f"export HELPDESK_CONFIG={target.etc}/config.toml\n"
    # The data of the shipped config.toml lands in the data folder, not under /etc.
    config = (target.etc / "config.toml").read_text()
    assert f'database = "{target.data}/helpdesk.db"' in config and '"var/' not in config
    assert "con --root no se habilita ni se inicia nada" in first_install.stdout
    assert f"se instala el paquete {target.wheel} (--wheel), sin compilarlo aquí" in first_install.stdout
    assert "compilando" not in first_install.stdout


@system_install
def test_the_service_user_passes_check_and_the_unit_verifies(first_install, target):
    result = as_service(target, "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{target.prefix}/.venv/lib/" in result.stdout  # the rules and templates of the wheel
    for unit in (target.unit, target.web_unit):
        # verify checks that ExecStart exists: the venv of this install.
        verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
        assert verify.returncode == 0, verify.stderr
        assert unit.name not in verify.stderr, verify.stderr


@system_install
def test_staff_in_group_helpdesk_decide_as_themselves(first_install, target):
    from . import mails

    inbox = target.data / "inbox"
    assert as_service(target, "run", "--once").returncode == 0  # the service makes its folders
    name = f"{time.time_ns()}.install-test"
    (inbox / "tmp" / name).write_bytes(mails.request(subject="Prueba de instalación"))
    (inbox / "tmp" / name).rename(inbox / "new" / name)
    assert as_service(target, "run", "--once").returncode == 0
    listing = as_staff(target, "tickets", "--json")
    assert listing.returncode == 0, listing.stderr
    ticket = next(t for t in json.loads(listing.stdout) if t["subject"] == "Prueba de instalación")
    assert ticket["state"] == "needs_correction"

    corrected = as_staff(target, "correct", ticket["radicado"], "--by", "Ana", "--reason", "Falta el acta.")
    assert corrected.returncode == 0, corrected.stderr
    before = set((target.data / "outbox").glob("*.eml"))
    assert as_service(target, "run", "--once").returncode == 0  # the service delivers what staff queued
    kinds = {email.message_from_bytes(p.read_bytes())["X-Helpdesk-Kind"]
             for p in set((target.data / "outbox").glob("*.eml")) - before}
    assert kinds == {"correction"}
    assert owner_and_mode(target.data / "helpdesk.db").split(":")[1:] == ["helpdesk", "660"]
    # The service's own work is not a staff command: refused in one line, no traceback.
    daemon_as_staff = as_staff(target, "run", "--once")
    assert daemon_as_staff.returncode == 1 and "permiso denegado" in daemon_as_staff.stderr
    assert "Traceback" not in daemon_as_staff.stderr


@system_install
def test_staff_outside_the_group_are_told_the_usermod_line(first_install, target):
    result = as_staff(target, "queue", in_group=False)
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: {target.etc}/config.toml: no se puede leer: permiso denegado. {target.etc} es del grupo "
        "helpdesk y nobody no está en él: un administrador lo agrega con «usermod -aG helpdesk nobody», "
        "que vale desde el próximo inicio de sesión de nobody.\n")


@system_install
def test_a_root_shell_without_the_variable_is_told_where_it_comes_from(first_install, target):
    env = {k: v for k, v in target.env.items() if k != "HELPDESK_CONFIG"}
    result = subprocess.run([str(target.venv_bin / "helpdesk"), "check"], capture_output=True, text=True,
                            timeout=120, cwd="/", env=env)
    assert result.returncode == 2
    assert result.stderr == (
        "Error: /config.toml: no existe el archivo de configuración. Sin --config ni HELPDESK_CONFIG se busca "
        "config.toml en la carpeta actual; indique el archivo con --config RUTA o con HELPDESK_CONFIG=RUTA; "
        f"{target.profile} pone HELPDESK_CONFIG={target.etc}/config.toml solo en las sesiones que se inician "
        f"después de instalar: abra una sesión nueva o ejecute «. {target.profile}».\n")


@system_install
def test_helpdesk_foreground_runs_the_service_without_systemd(first_install, target, dovecot, smtp_server):
    """The supported way to run without systemd: helpdesk-foreground, as
    root, hands the installed credentials to user helpdesk and execs the
    command; `check` passes, `run` takes a mail and SIGTERM ends it with 0."""
    from . import mails
    from .conftest import USER, networked_sections, write_config

    sections = networked_sections(dovecot, smtp_server, storage={"database": f"{target.data}/foreground/helpdesk.db"})
    del sections["inbox"]["password"]
    sections["inbox"]["password_file"] = "imap-password"  # as the administrator writes it
    config = write_config(target.etc / "foreground.toml", sections)
    os.chown(config, 0, grp.getgrnam("helpdesk").gr_gid)
    config.chmod(0o640)
    foreground = [str(target.foreground), "--config", str(config)]

    # The password file as install.sh leaves it: empty, and said so.
    result = subprocess.run([*foreground, "check"], capture_output=True, text=True, timeout=300, cwd="/")
    assert result.returncode == 1
    secret = target.runtime / "credentials" / "imap-password"
    assert (f"FALLA IMAP: {config}: inbox.password_file: {secret} está vacío: escriba la contraseña en "
            f"{target.etc}/credentials/imap-password, sin salto de línea final\n") in result.stdout

    (target.etc / "credentials" / "imap-password").write_text(dovecot.password(USER))
    result = subprocess.run([*foreground, "check"], capture_output=True, text=True, timeout=300, cwd="/")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"OK    IMAP: sesión iniciada como {USER} en {dovecot.host}:{dovecot.port}" in result.stdout
    assert owner_and_mode(secret) == "helpdesk:helpdesk:400"
    assert owner_and_mode(secret.parent) == "helpdesk:helpdesk:500"

    # Without the wrapper the service user cannot open the credentials folder, and is told the wrapper.
    result = as_service(target, "--config", str(config), "check")
    assert result.returncode == 1
    assert (f"FALLA IMAP: {config}: inbox.password_file: no se puede leer «imap-password»: sin permiso para entrar "
            f"en {target.etc}/credentials (root:root 700)\n      Qué hacer: revise inbox.password_file; compruébelo "
            f"como lo ve el servicio, como root: {target.foreground} check\n") in result.stdout
    # Root finds the password where install.sh put it, without the wrapper.
    result = subprocess.run([str(target.venv_bin / "helpdesk"), "--config", str(config), "check"],
                            capture_output=True, text=True, timeout=300, cwd="/", env=target.env)
    assert f"OK    IMAP: sesión iniciada como {USER} en {dovecot.host}:{dovecot.port}" in result.stdout

    daemon = subprocess.Popen([*foreground, "run"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/")
    try:
        dovecot.append(USER, mails.request())
        assert smtp_server.wait_for(1, timeout=90), "no ack within 90 s"
        # exec, no process in between: the daemon itself, as user helpdesk.
        status = Path(f"/proc/{daemon.pid}/status").read_text()
        uid = pwd.getpwnam("helpdesk").pw_uid
        assert f"\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\n" in status
        daemon.send_signal(signal.SIGTERM)
        out, err = daemon.communicate(timeout=90)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    assert daemon.returncode == 0, err
    assert "Traceback" not in err
    sent = [m.message for m in smtp_server.snapshot()]
    assert sent[0]["X-Helpdesk-Kind"] == "ack" and sent[0]["To"] == mails.ENTITY
    assert [m["X-Helpdesk-Kind"] for m in sent].count("ack") == 1


@system_install
def test_a_second_run_changes_nothing_and_keeps_an_edited_config(first_install, target):
    with open(target.etc / "config.toml", "a", encoding="utf-8") as fh:
        fh.write("# editado por el administrador\n")
    before = snapshot(target)
    # This run builds its wheel from the checkout, as an administrator's
    # does: the build is the same program as the one installed, and says so.
    result = install(target, build=True)
    assert snapshot(target) == before
    assert "compilando el paquete (wheel)" in result.stdout and "ya instalado, la misma compilación" in result.stdout
    assert "nada que cambiar" in result.stdout
    assert f"se conserva {target.etc}/config.toml" in result.stdout
    assert (target.etc / "config.toml").read_text().endswith("# editado por el administrador\n")


@system_install
def test_the_deploy_tests_leave_the_machines_paths_as_they_were(system_before, first_install, target):
    """Last of this module: after every install, run and edit above, the
    machine's own helpdesk paths are exactly as before (listing, owners,
    modes, times, contents), and what the tests made is under the root."""
    skip, before = system_before
    # One more of everything that wrote before: an install, the daemon, a staff command.
    install(target)
    assert as_service(target, "run", "--once").returncode == 0
    assert as_staff(target, "tickets").returncode == 0
    assert fingerprint(skip=skip) == before
    assert (target.data / "helpdesk.db").is_file()
