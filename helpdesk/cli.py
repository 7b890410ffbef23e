"""The ``helpdesk`` command: a thin click shell over the library.

Each command parses its options, calls the library and prints in Spanish.
Expected failures (``HelpdeskError``) become one line on stderr and the
exit code of CONTRACT §1: 1 refused, 2 usage or configuration.
"""

from __future__ import annotations

import sys

import click

from . import cli_es

# click's own texts (usage, errors) in Spanish, like everything else staff read;
# before the commands are declared, since click names a path option's
# metavar (FILE, DIRECTORY) when the option is made.
cli_es.install()

from .commands import accounts, decisions, directory, mail, procedures, samples, service, tickets, web  # noqa: E402, F401  (they register the subcommands)
from .commands.base import cli, echo  # noqa: E402
from .errors import HelpdeskError  # noqa: E402


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
        # The usual causes: a command of the service (run, purge, restore)
        # started by a staff member, or a staff member outside the group;
        # permissions.advice tells them apart by who owns what stopped us.
        from . import errortext, permissions

        echo(f"Error: {errortext.os_error(exc)}. {permissions.advice(exc.filename)}", err=True)
        sys.exit(1)
