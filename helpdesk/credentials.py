"""Where a secret's file is (password_file, oauth_token_file), and reading
a password from it.

A relative name is looked up where each way of running puts it, in order:
$CREDENTIALS_DIRECTORY (systemd's LoadCredential=, and helpdesk-foreground
the same way), the credentials/ folder beside the config file (where
deploy/install.sh writes them, readable by root alone, so that root's
`helpdesk check` finds them), and the config file's own folder. An
absolute path is only itself. When the password cannot be had, the error
says where it looked, and ``SecretError.fix`` the step for this way of
running.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import errortext, installation, permissions
from .errors import SecretError


def candidates(value: str, config_dir: Path) -> list[Path]:
    path = Path(value).expanduser()
    if path.is_absolute():
        return [path]
    found = []
    if cred_dir := os.environ.get("CREDENTIALS_DIRECTORY"):
        found.append(Path(cred_dir) / path)
    return [*found, config_dir / "credentials" / path, config_dir / path]


def locate(value: str, config_dir: Path) -> Path:
    """The first candidate that exists; else the last one, for its error to name."""
    places = candidates(value, config_dir)
    return next((p for p in places if os.path.exists(p)), places[-1])


def _service_view_fix(section: str) -> str:
    """Run by someone who is not the service: check as the service would (install.sh's wrapper)."""
    installed = installation.current()
    if installed is None:
        return ""
    return f"revise {section}.password_file; compruébelo como lo ve el servicio, como root: {installed.foreground} check"


def _handed_over() -> Path | None:
    """$CREDENTIALS_DIRECTORY when this process runs as the service (systemd or helpdesk-foreground)."""
    cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    if cred_dir and os.path.isdir(cred_dir) and os.access(cred_dir, os.X_OK):
        return Path(cred_dir)
    return None


def _place(path: Path) -> str:
    cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    return f"$CREDENTIALS_DIRECTORY ({cred_dir})" if cred_dir and path == Path(cred_dir) else str(path)


def read_password(value: str, config_dir: Path, where: str, section: str, logs_in: bool) -> str:
    """The password in file ``value`` (without its final line break).

    ``where`` starts every message (``/etc/helpdesk/config.toml:
    inbox.password_file``); an empty file is an error when ``logs_in``.
    """
    places = candidates(value, config_dir)
    # os.path, not Path.exists(): on Python 3.11 that raises in a folder this user may not enter.
    path = next((p for p in places if os.path.exists(p)), None)
    handed_over = _handed_over()
    if path is None and handed_over is not None and len(places) > 1:
        source = config_dir / "credentials" / value
        raise SecretError(f"{where}: no se puede leer «{value}»: el servicio no la recibió en $CREDENTIALS_DIRECTORY "
                          f"({handed_over})",
                          f"guarde la contraseña en {source} (de ahí la copian LoadCredential= y helpdesk-foreground) "
                          "y vuelva a iniciar el servicio")
    if path is None:
        closed = [p.parent for p in places if os.path.isdir(p.parent) and not os.access(p.parent, os.X_OK)]
        if closed:
            blocker = permissions.find_blocker(closed[0] / value)
            detail = f" ({blocker.summary})" if blocker else ""
            raise SecretError(f"{where}: no se puede leer «{value}»: sin permiso para entrar en {closed[0]}{detail}",
                              _service_view_fix(section) or (permissions.advice_for(blocker) if blocker else ""))
        if len(places) == 1:
            raise SecretError(f"{where}: no se puede leer {places[0]}: no existe", _service_view_fix(section))
        folders = [_place(p.parent) for p in places]
        raise SecretError(f"{where}: no se puede leer «{value}»: no está en {', '.join(folders[:-1])} ni en "
                          f"{folders[-1]}", _service_view_fix(section))
    try:
        text = path.read_text(encoding="utf-8")
    except PermissionError:
        raise SecretError(f"{where}: no se puede leer {path}: permiso denegado",
                          _service_view_fix(section) or permissions.advice(path)) from None
    except OSError as exc:
        raise SecretError(f"{where}: no se puede leer {path}: {errortext.os_reason(exc)}") from None
    except UnicodeDecodeError:
        raise SecretError(f"{where}: {path} no está en UTF-8") from None
    password = text.rstrip("\r\n")
    if not password and logs_in:
        # The service's copy (LoadCredential=, helpdesk-foreground) comes from install.sh's folder.
        origin = config_dir / "credentials" / value if handed_over and path.parent == handed_over else path
        raise SecretError(f"{where}: {path} está vacío: escriba la contraseña en {origin}, sin salto de línea final",
                          f"printf '%s' 'la contraseña' > {origin}; luego repita la comprobación")
    return password
