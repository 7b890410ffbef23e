"""Self-service recovery ("¿Olvidó su contraseña?", seeds 001, 003, 004).

A person gives their identifier (a user name, a document number or a
CURP: ``[selfservice] identifier_label`` says which); the account and its
registered email and phone come from the ldap directory
(``[selfservice] ldap_filter``) or a program (``[selfservice] command``:
the identifier on stdin, a JSON object ``{"account", "email", "phone"}`` on
stdout, exit 0; exit 1 with no output: unknown). The page shows them
masked (seed 004: "*****eon1@gmail.com", "*****9129").

An unknown identifier gets the same page, with masks derived from an HMAC
of the identifier (the same every time, like a real account's), and
nothing is sent: the answer says nothing of whether an account exists.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import subprocess
from dataclasses import dataclass

from ..config import Config
from ..resets.backends import command_environment, run_program

IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


@dataclass(frozen=True)
class Registered:
    account: str  # what the [reset] backend resets
    email: str  # where the link goes
    phone: str  # where the code goes ("" : none registered)


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
    from ..resets.ldap import LdapBackend

    backend = LdapBackend(config)
    try:
        found = backend.read_one(cfg.ldap_filter, identifier,
                                 (cfg.account_attribute, cfg.email_attribute, cfg.phone_attribute))
    finally:
        backend.close()
    if not found or not found.get(cfg.account_attribute) or not found.get(cfg.email_attribute):
        return None
    return Registered(found[cfg.account_attribute], found[cfg.email_attribute], found.get(cfg.phone_attribute, ""))


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
    if not isinstance(data, dict) or not data.get("account") or not data.get("email"):
        return None
    return Registered(str(data["account"]), str(data["email"]), str(data.get("phone") or ""))


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return "*****" + local[-4:] + "@" + domain


def mask_phone(phone: str) -> str:
    digits = "".join(c for c in phone if c.isdigit())
    return "*****" + digits[-4:] if digits else ""


def decoy(key: bytes, identifier: str) -> tuple[str, str]:
    """Masks for an unknown identifier: always the same for it, never a real one's."""
    mac = hmac.new(key, b"decoy:" + identifier.casefold().encode(), "sha256").hexdigest()
    letters = "".join(chr(ord("a") + int(c, 16) % 26) for c in mac[:4])
    digits = "".join(str(int(c, 16) % 10) for c in mac[4:8])
    domains = ("gmail.com", "hotmail.com", "outlook.com", "yahoo.com")
    return f"*****{letters}@{domains[int(mac[8], 16) % len(domains)]}", f"*****{digits}"


def new_code() -> str:
    """Six digits from ``secrets``."""
    return f"{secrets.randbelow(1_000_000):06d}"


def send_code(config: Config, phone: str, code: str) -> None:
    """The SMS, through ``[selfservice] sms_command``: the phone and the
    message on two lines of stdin, as the reset command gets its account."""
    message = (f"Su código para restablecer la contraseña es {code}. Vence en "
               f"{config.selfservice.code_minutes} minutos. No lo comparta con nadie.")
    run_program(config.selfservice.sms_command, f"{phone}\n{message}\n", config.reset.command_timeout,
                mask_phone(phone), "de mensajes de texto", code)
