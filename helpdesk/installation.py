"""Where deploy/install.sh put this program's files, seen from inside it.

install.sh makes the venv at PREFIX/.venv and helpdesk-foreground at
PREFIX/bin, with PREFIX = ROOT/opt/helpdesk (ROOT is / or install.sh
--root). Messages name those paths, so the operator can copy the command
they show. ``current()`` is None when helpdesk runs from any other install
(pip install, a checkout): then the messages name no such path.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Installation:
    root: Path
    prefix: Path

    @property
    def foreground(self) -> Path:
        """The wrapper that runs helpdesk as the service would, without systemd."""
        return self.prefix / "bin" / "helpdesk-foreground"

    @property
    def profile(self) -> Path:
        """The login script that sets HELPDESK_CONFIG for every user."""
        return self.root / "etc" / "profile.d" / "helpdesk.sh"

    @property
    def config(self) -> Path:
        return self.root / "etc" / "helpdesk" / "config.toml"


def current() -> Installation | None:
    prefix = Path(sys.prefix).parent  # sys.prefix is the venv, PREFIX/.venv
    if prefix.parts[-2:] != ("opt", "helpdesk") or not (prefix / "bin" / "helpdesk-foreground").is_file():
        return None
    return Installation(root=prefix.parent.parent, prefix=prefix)
