"""Who an account is registered to: its account name, registered email
and phone, from the ldap directory or a program ([selfservice] lookup).

Self-service shows them masked; the procedures of those who cannot
self-serve (desbloqueo, cambio-correo) compare the sender with the
registered address and send their result there.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
from dataclasses import dataclass

from ..addresses import valid_address
from ..config import Config
from ..errors import ConfigError
from .program import command_environment

log = logging.getLogger(__name__)

IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


@dataclass(frozen=True)
class Registered:
    account: str  # what the [reset] backend resets
    email: str  # where the link goes
    phone: str  # where the code goes ("" : none registered)
    name: str = ""  # the holder's name (LDAP displayName or cn; the command's "name"); "" : none returned


# The LDAP attributes that may hold the holder's name, the first one found wins.
NAME_ATTRIBUTES = ("displayName", "cn")
MAX_NAME = 200


def _clean_name(value: object) -> str:
    """A name as staff read it: one line, no control characters, bounded."""
    text = "".join(c if c.isprintable() else " " for c in str(value or ""))
    return " ".join(text.split())[:MAX_NAME]


def valid_identifier(text: str) -> bool:
    return bool(IDENTIFIER.match(text))


def lookup(config: Config, identifier: str) -> Registered | None:
    """The account of ``identifier``, or None (unknown, or the lookup failed:
    the person then writes to support, as the page says)."""
    if not valid_identifier(identifier):
        return None
    cfg = config.selfservice
    if cfg.lookup == "command":
        return _from_program(config, identifier)
    from .ldap import LdapBackend

    try:
        backend = LdapBackend(config)
    except ConfigError as exc:  # check and the start say so too; a page must not break
        log.error("self-service lookup impossible: %s", exc)
        return None
    try:
        # The holder's name comes with the same search: staff compare it
        # with the form's (CONTRACT §13).
        found = backend.read_one(cfg.ldap_filter, identifier,
                                 (cfg.account_attribute, cfg.email_attribute, cfg.phone_attribute, *NAME_ATTRIBUTES))
    finally:
        backend.close()
    if not found or not found.get(cfg.account_attribute) or not valid_address(found.get(cfg.email_attribute, "")):
        return None  # no entry, or a registered "address" that is not one (a comma, a line break)
    name = next((found[a] for a in NAME_ATTRIBUTES if found.get(a)), "")
    return Registered(found[cfg.account_attribute], found[cfg.email_attribute], found.get(cfg.phone_attribute, ""),
                      _clean_name(name))


def _from_program(config: Config, identifier: str) -> Registered | None:
    try:
        result = subprocess.run(config.selfservice.command, input=identifier + "\n", capture_output=True, text=True,
                                timeout=config.reset.command_timeout, shell=False, env=command_environment())
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    try:
        data = json.loads(result.stdout)
    except ValueError:
        return None
    if not isinstance(data, dict) or not data.get("account") or not valid_address(str(data.get("email") or "")):
        return None
    return Registered(str(data["account"]), str(data["email"]), str(data.get("phone") or ""),
                      _clean_name(data.get("name")))
