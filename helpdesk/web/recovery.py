"""Self-service recovery ("¿Olvidó su contraseña?", seeds 001, 003, 004).

A person gives their identifier (a user name, a document number or a
CURP: ``[selfservice] identifier_label`` says which); the account and its
registered email and phone come from the ldap directory
(``[selfservice] ldap_filter``) or a program (``[selfservice] command``:
the identifier on stdin, a JSON object ``{"account", "email", "phone"}`` on
stdout, exit 0; exit 1 with no output: unknown). The page shows them
masked (seed 004: "*****eon1@gmail.com", "*****9129").

An unknown identifier gets the same page, with masks drawn from an HMAC
of the identifier (the same every time, like a real account's, and shaped
like real ones: web/decoys.py), and nothing is sent: the answer says
nothing of whether an account exists, in its words or in its time (what
is sent goes after the answer: web/deferred.py).
"""

from __future__ import annotations

import secrets

from ..config import Config
from ..resets.program import run_program
from . import decoys


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return "*****" + local[-4:] + "@" + domain


def mask_phone(phone: str) -> str:
    digits = "".join(c for c in phone if c.isdigit())
    return "*****" + digits[-4:] if digits else ""


def decoy(key: bytes, identifier: str, domains: tuple[str, ...] = ()) -> tuple[str, str]:
    """Masks for an identifier with no account (web/decoys.py)."""
    return decoys.decoy(key, identifier, domains)


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
