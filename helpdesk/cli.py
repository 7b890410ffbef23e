"""The ``helpdesk`` command: a thin click shell over the library.

Each command parses its options, calls the library and prints in Spanish.
Expected failures (``HelpdeskError``) become one line on stderr and the
exit code of CONTRACT §1: 1 refused, 2 usage or configuration.
"""

from __future__ import annotations

import sys

import click

from . import cli_es
from .commands import accounts, decisions, directory, mail, procedures, samples, service, tickets, web  # noqa: F401  (they register the subcommands)
from .commands.base import cli, echo
from .errors import HelpdeskError

# click's own texts (usage, errors) in Spanish, like everything else staff read.
cli_es.install()


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="helpdesk", standalone_mode=False)
    except click.exceptions.Abort:
        echo("Cancelado.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except HelpdeskError as exc:
        echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except PermissionError as exc:
        # The usual cause: a command that belongs to the service (run, purge,
        # restore) started by a staff member; say so in one line.
        where = f" {exc.filename}" if exc.filename else ""
        echo(f"Error: permiso denegado:{where}. Este comando necesita los permisos del usuario del "
                   "servicio (por ejemplo: sudo -u helpdesk helpdesk ...).", err=True)
        sys.exit(1)
