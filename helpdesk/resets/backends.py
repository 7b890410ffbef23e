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

import secrets
import string

from ..config import Config
from .ldap import LdapBackend
from .program import run_program
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


def make_backend(config: Config):
    if config.reset.backend == "command":
        return CommandBackend(config)
    if config.reset.backend == "ldap":
        return LdapBackend(config)
    return ManualBackend()
