"""Temporary passwords and the backends that apply them.

Passwords come from ``secrets`` over an alphabet without look-alike
characters (no 0/O, 1/l/I), always with upper case, lower case and digits
(seed 003 asks for 8+ characters with all three; the default is 16), and
are shown in groups of four so that a person can read them over the phone.

A backend sets one account's password or raises ``ResetFailed``:

- ``manual``: nothing is applied by the program; the approving staff member
  sees the passwords once, applies them in the provider's console and
  confirms (``staff.approve`` asks);
- ``command``: a configured program run once per account, without a shell,
  the account and the password on its standard input (an unlock or a
  change of registered email: the action as its last argument);
- ``ldap``: the entry's password set with ldap3 (``resets/ldap.py``).
"""

from __future__ import annotations

import os
import secrets
import string
import subprocess

from ..config import Config
from ..errors import ResetFailed
from .ldap import LdapBackend
from .scope import EntityScope

UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"
LOWER = "abcdefghijkmnopqrstuvwxyz"
DIGITS = "23456789"
ALPHABET = UPPER + LOWER + DIGITS


def generate_password(length: int = 16) -> str:
    """A random password of ``length`` characters, in groups of four joined by '-'."""
    while True:
        chars = "".join(secrets.choice(ALPHABET) for _ in range(length))
        if any(c in UPPER for c in chars) and any(c in LOWER for c in chars) and any(c in DIGITS for c in chars):
            return "-".join(chars[i:i + 4] for i in range(0, length, 4))


def meets_policy(password: str) -> bool:
    """Seed 003: at least 8 characters with an upper-case letter, a lower-case letter and a digit."""
    return (len(password) >= 8 and any(c in string.ascii_uppercase for c in password)
            and any(c in string.ascii_lowercase for c in password) and any(c.isdigit() for c in password))


class ManualBackend:
    """The staff member applies the passwords by hand; see ``staff.approve``."""

    name = "manual"

    def reset(self, account: str, password: str, scope: EntityScope | None = None) -> None:
        return None

    def unlock(self, account: str, scope: EntityScope | None = None) -> None:
        return None

    def change_email(self, account: str, new_email: str, scope: EntityScope | None = None) -> None:
        return None

    def close(self) -> None:
        pass


class CommandBackend:
    """Runs ``reset.command`` for each account: two lines on stdin, exit 0 = done."""

    name = "command"

    def __init__(self, config: Config):
        self.argv = list(config.reset.command)
        self.timeout = config.reset.command_timeout

    def reset(self, account: str, password: str, scope: EntityScope | None = None) -> None:
        run_program(self.argv, f"{account}\n{password}\n", self.timeout, account, "de reinicio", password)

    def unlock(self, account: str, scope: EntityScope | None = None) -> None:
        """The program with "unlock" as its last argument, the account on stdin."""
        run_program([*self.argv, "unlock"], f"{account}\n", self.timeout, account, "de reinicio")

    def change_email(self, account: str, new_email: str, scope: EntityScope | None = None) -> None:
        """The program with "change-email" as its last argument; the account
        and the new address on two lines of stdin."""
        run_program([*self.argv, "change-email"], f"{account}\n{new_email}\n", self.timeout, account, "de reinicio")

    def close(self) -> None:
        pass


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


def make_backend(config: Config):
    if config.reset.backend == "command":
        return CommandBackend(config)
    if config.reset.backend == "ldap":
        return LdapBackend(config)
    return ManualBackend()
