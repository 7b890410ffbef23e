"""The systemd unit is valid and its credentials path works."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "helpdesk.service"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_unit_passes_systemd_analyze_verify(tmp_path):
    # verify checks that ExecStart exists: point it at this checkout's script.
    script = Path(sys.executable).with_name("helpdesk")
    assert script.exists()
    unit = tmp_path / "helpdesk.service"
    unit.write_text(UNIT.read_text().replace("/opt/helpdesk/.venv/bin/helpdesk", str(script)))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "helpdesk.service" not in result.stderr, result.stderr


def test_unit_is_hardened_and_uses_credentials():
    text = UNIT.read_text()
    for line in ("NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                 "ReadWritePaths=/var/lib/helpdesk", "SystemCallFilter=@system-service", "Restart=on-failure",
                 "User=helpdesk", "LoadCredential=imap-password:", "Type=notify", "WatchdogSec=",
                 "ExecReload=/bin/kill -HUP $MAINPID"):
        assert line in text
