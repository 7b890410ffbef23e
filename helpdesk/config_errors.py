"""The errors of reading a configuration file, said so that the reader
knows what to do: where helpdesk looked for the file and why there, who
may read it, and where a TOML mistake is.

Right after deploy/install.sh, a root shell opened before the install has
no HELPDESK_CONFIG (/etc/profile.d applies to new logins only), so
`helpdesk check` looked for ./config.toml: the message says so and names
--config, HELPDESK_CONFIG and the login script.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from . import errortext, installation, permissions


def _profile_hint() -> str:
    """``; /etc/profile.d/helpdesk.sh pone ...`` when install.sh wrote one, else ""."""
    installed = installation.current()
    if installed is None or not installed.profile.is_file():
        return ""
    try:
        found = re.search(r"HELPDESK_CONFIG=(\S+)", installed.profile.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        found = None
    value = found.group(1) if found else str(installed.config)
    return (f"; {installed.profile} pone HELPDESK_CONFIG={value} solo en las sesiones que se inician después "
            f"de instalar: abra una sesión nueva o ejecute «. {installed.profile}»")


def missing(path: Path, named: object) -> str:
    """``path`` does not exist; ``named`` is what the caller passed (None: the default was used)."""
    shown = Path(os.path.abspath(path))
    if named:
        return f"{shown}: no existe el archivo de configuración"
    if os.environ.get("HELPDESK_CONFIG"):
        return f"{shown}: no existe el archivo de configuración que indica HELPDESK_CONFIG"
    return (f"{shown}: no existe el archivo de configuración. Sin --config ni HELPDESK_CONFIG se busca config.toml "
            f"en la carpeta actual; indique el archivo con --config RUTA o con HELPDESK_CONFIG=RUTA{_profile_hint()}.")


def unreadable(path: Path, exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return f"{path}: no se puede leer: permiso denegado. {permissions.advice(path)}"
    return f"{path}: no se puede leer: {errortext.os_reason(exc)}"


def invalid_toml(path: Path, exc: ValueError) -> str:
    """``path: TOML inválido en la línea 12, columna 10 («port = abc»): valor no válido (...)``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = None
    return f"{path}: {errortext.toml_error(exc, text)}"
