"""Running a backend's program: the reset, account, lookup and SMS commands.

Its own module so that the daemon, which only looks registered addresses
up (``registered.py``), does not import the backends and with them ldap3
(85 ms of every start, measured with ``python -X importtime``).
"""

from __future__ import annotations

import os
import subprocess

from ..errors import ResetFailed

# What the reset program inherits of the daemon's environment: enough to
# find programs and read text, nothing else. The daemon's environment may
# hold the SMTP or LDAP password (password_env); the program needs neither.
# CREDENTIALS_DIRECTORY lets it read its own LoadCredential= files.
COMMAND_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "HOME", "TZ", "CREDENTIALS_DIRECTORY")


def command_environment() -> dict[str, str]:
    env = {name: os.environ[name] for name in COMMAND_ENVIRONMENT if name in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    return env


def run_program(argv: list[str], stdin: str, timeout: float, account: str, what: str, password: str = "") -> None:
    """Run a backend program without a shell, ``stdin`` on its standard
    input and only COMMAND_ENVIRONMENT; ResetFailed, naming ``account``,
    unless it exits 0 within ``timeout``."""
    try:
        result = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                                timeout=timeout, shell=False, env=command_environment())
    except subprocess.TimeoutExpired:
        raise ResetFailed(f"{account}: el programa {what} no terminó en {timeout:.0f} s") from None
    except OSError as exc:
        raise ResetFailed(f"{account}: no se pudo ejecutar {argv[0]}: {exc.strerror}") from None
    if result.returncode != 0:
        # The program's own words help staff, but it might echo its input.
        stderr = mask_password(result.stderr, password) if password else result.stderr
        raise ResetFailed(f"{account}: el programa {what} terminó con código {result.returncode}: "
                          f"{' '.join(stderr.split())[:300]}")


def mask_password(text: str, password: str) -> str:
    """``text`` without the password in any form a program might echo it:
    as given, without its hyphens, or one group of four at a time."""
    forms = {password, password.replace("-", ""), *password.split("-")}
    for form in sorted((f for f in forms if f), key=len, reverse=True):
        text = text.replace(form, "[clave]")
    return text
