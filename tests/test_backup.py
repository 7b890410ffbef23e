"""A backup taken while the daemon works restores into a working instance, nothing lost."""

import os
import subprocess
import sys
import time
from pathlib import Path

from . import mails
from .conftest import Embedded, embedded_sections, run_helpdesk, write_config

ROOT = Path(__file__).resolve().parent.parent


def helpdesk(config: Path, *args) -> subprocess.CompletedProcess:
    return run_helpdesk("--config", config, *args)


def test_backup_during_a_backlog_restores_every_ticket(tmp_path):
    env = Embedded(tmp_path / "live")
    for n in range(60):
        env.deliver(mails.request(sender=f"u{n}@alcaldia-prueba.gov.co", subject=f"pedido {n}"))
    daemon = subprocess.Popen([sys.executable, "-m", "helpdesk", "--config", str(env.config_path), "run", "--once"],
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while env.count("SELECT count(*) FROM tickets") < 10 and time.monotonic() < deadline:
        time.sleep(0.02)
    result = helpdesk(env.config_path, "backup", str(tmp_path / "copia"))
    assert daemon.wait(60) == 0
    assert result.returncode == 0, result.stderr
    assert "solicitudes" in result.stdout

    other = tmp_path / "restored"
    other.mkdir()
    config = write_config(other / "config.toml", embedded_sections())
    restored = helpdesk(config, "restore", str(tmp_path / "copia"))
    assert restored.returncode == 0, restored.stderr
    clone = Embedded(other)
    tickets = clone.count("SELECT count(*) FROM tickets")
    assert 10 <= tickets <= 60
    # Every message the copy knows has its original bytes.
    for row in clone.store.query("SELECT sha256 FROM messages WHERE direction = 'in'"):
        assert clone.store.load_raw(row["sha256"])
    radicados = [r[0] for r in clone.store.query("SELECT radicado FROM tickets ORDER BY id")]
    assert [int(r[-6:]) for r in radicados] == list(range(1, tickets + 1))
    # The restored instance works: the next request continues the numbering.
    clone.deliver(mails.request(sender="nuevo@alcaldia-prueba.gov.co"))
    [outcome] = clone.run_once()
    assert int(outcome.radicado[-6:]) == tickets + 1
    again = helpdesk(config, "restore", str(tmp_path / "copia"))
    assert again.returncode == 1 and "--force" in again.stderr


def test_a_backup_is_private_and_a_restore_is_shared_with_the_group(tmp_path):
    import stat

    env = Embedded(tmp_path / "live")
    env.deliver(mails.request())
    env.run_once()
    assert helpdesk(env.config_path, "backup", str(tmp_path / "copia")).returncode == 0
    assert stat.S_IMODE((tmp_path / "copia" / "helpdesk.db").stat().st_mode) == 0o600
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in (tmp_path / "copia" / "raw").rglob("*.eml"))

    other = tmp_path / "restored"
    other.mkdir()
    config = write_config(other / "config.toml", embedded_sections())
    # Restored by root or a staff member, opened by the service in the same group.
    old = os.umask(0o022)
    try:
        assert helpdesk(config, "restore", str(tmp_path / "copia")).returncode == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((other / "helpdesk.db").stat().st_mode) == 0o660
    raw = list((other / "raw").rglob("*.eml"))
    assert raw and all(stat.S_IMODE(f.stat().st_mode) == 0o660 for f in raw)
    assert all(stat.S_IMODE(f.parent.stat().st_mode) == 0o2770 for f in raw)
