"""Whose accounts a reset may touch: the entity of the ticket.

Its own module because both sides need it: the backends take it
(resets/backends.py, resets/ldap.py), and staff decisions and the link
pages build it from the ticket; kept in backends.py it tied backends.py
and ldap.py into an import circle.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EntityScope:
    """The entity a reset belongs to. The ldap backend puts these in
    reset.ldap_base / ldap_filter ({nit}, {domain}), so a user name such as
    "jperez" is looked for in that entity only."""

    nit: str = ""  # digits, without the check digit
    domain: str = ""  # the entity's own mail domain, never a free-mail one
