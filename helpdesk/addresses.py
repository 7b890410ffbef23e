"""Email addresses as every stage needs them: valid enough to send to, and their domain.

Kept apart from the message parser (intake/message.py) because the
configuration, the checks, the resets and the replies use them too.
"""

from __future__ import annotations

import re

_ADDRESS = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def valid_address(address: str) -> bool:
    """Strict enough to send to: one local@domain, no display-name tricks."""
    return bool(_ADDRESS.match(address)) and len(address) <= 254 and ".." not in address


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


# An address anywhere in a text (a server's reply, an error), not a whole one.
_ADDRESS_IN_TEXT = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def without_addresses(text: str) -> str:
    """Server replies quote the recipient ("550 5.1.1 <x@y>"); the log keeps the reason only."""
    return _ADDRESS_IN_TEXT.sub("[dirección]", text)
