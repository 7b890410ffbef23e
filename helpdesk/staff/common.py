"""What every staff decision shares: who decides, the ticket it is about,
the states it may be taken from, and what it returns.

No decision lives here; the decisions (staff/decisions.py) and each
procedure's approval (staff/reset.py, unlock.py, accounts.py,
email_change.py) import from here, never from one another's modules.
"""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass

from ..errors import NotFound, Refused
from ..store import Store
from ..tickets import STATE_LABELS, Ticket


@dataclass(frozen=True)
class Credential:
    """One account an approval reset, with the password it got."""

    type: str
    account: str
    password: str


@dataclass(frozen=True)
class Decided:
    """A decision committed: its ticket, the outbox row of the email it
    queued (staff/handover.py watches that row), and the accounts an approval reset."""

    ticket: Ticket
    outbox_id: int
    credentials: tuple[Credential, ...] = ()
    order: object | None = None  # an account request's AccountOrder (staff/accounts.py), password removed
    recipient: str = ""  # where a reject, correct, revoke or reply sent its email


def actor(by: str) -> str:
    """The staff member's name and the operating-system user who ran the command."""
    try:
        system_user = getpass.getuser()
    except (KeyError, OSError):
        system_user = "?"
    return f"{by.strip()} (usuario del sistema: {system_user})"


def load_ticket(store: Store, radicado: str) -> tuple[Ticket, dict]:
    """The ticket and its stored form, or NotFound naming the radicado."""
    row = store.one("SELECT * FROM tickets WHERE radicado = ?", (radicado.strip().upper(),))
    if row is None:
        raise NotFound(f"no existe el radicado {radicado}")
    return Ticket.from_row(row), json.loads(row["form_json"] or "{}")


def require_state(ticket: Ticket, allowed: tuple[str, ...], action: str) -> None:
    """Refused, naming the states ``action`` is possible in, unless the ticket is in one."""
    if ticket.state not in allowed:
        options = " o ".join(f"«{STATE_LABELS[s]}»" for s in allowed)
        raise Refused(f"la solicitud {ticket.radicado} está en estado «{STATE_LABELS[ticket.state]}»; "
                      f"solo se puede {action} en estado {options} (vea helpdesk show {ticket.radicado})")


def staff_text(text: str) -> str:
    """A text a staff member wrote for the entity, as it is sent: paragraphs
    kept (the editor of `review` writes several), spaces at line ends and
    blank lines at both ends dropped."""
    return "\n".join(line.rstrip() for line in text.strip().splitlines())
