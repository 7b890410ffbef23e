"""The backends that create, modify, delete or disable an institutional
account (seed 002), each raising ``ResetFailed`` when it could not:

- ``manual``: nothing is applied by the program; the approving staff member
  sees what to do (the account, the official's data, the temporary
  password) and confirms having done it (commands/decisions.py asks);
- ``command``: ``[accounts] command`` (else ``[reset] command``) run without
  a shell, with the action as its last argument and the order as one JSON
  object on its standard input; exit 0 = done;
- ``ldap``: the entry is added, modified, deleted or locked with ldap3
  (``resets/ldap.py``'s connection, TLS rules and account search).

[accounts] backend chooses; empty, it is [reset] backend.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from ..config import Config
from .program import run_program

ACTIONS = ("create", "modify", "delete", "disable")


@dataclass(frozen=True)
class AccountOrder:
    """What one approved account request asks the backend to do."""

    action: str  # one of ACTIONS
    account: str  # the institutional address
    official_name: str
    official_doc_type: str
    official_doc_number: str
    official_position: str
    official_email: str  # personal contact address
    office: str
    changes: str  # what a modification asks for, as the office wrote it
    radicado: str
    password: str = ""  # a creation's temporary password, never stored

    def for_program(self) -> str:
        """The order as the command backend reads it on stdin."""
        data = asdict(self)
        if not self.password:
            del data["password"]
        return json.dumps(data, ensure_ascii=False) + "\n"


class ManualAccounts:
    """A person applies the order by hand; see commands/decisions.py."""

    name = "manual"

    def apply(self, order: AccountOrder) -> None:
        return None

    def close(self) -> None:
        pass


class CommandAccounts:
    name = "command"

    def __init__(self, config: Config):
        self.argv = config.accounts.command_of(config.reset)
        self.timeout = config.reset.command_timeout

    def apply(self, order: AccountOrder) -> None:
        run_program([*self.argv, order.action], order.for_program(), self.timeout, order.account, "de cuentas",
                    order.password)

    def close(self) -> None:
        pass


def make_account_backend(config: Config):
    backend = config.accounts.backend_of(config.reset)
    if backend == "command":
        return CommandAccounts(config)
    if backend == "ldap":
        from .ldap import LdapAccounts

        return LdapAccounts(config)
    return ManualAccounts()
