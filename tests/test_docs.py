"""Every command documents itself: its docstring is its help, with an example."""

import click
import pytest

from helpdesk.cli import cli


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help_with_an_example(name):
    command: click.Command = cli.commands[name]
    assert command.help and "Ejemplo:" in command.help, f"helpdesk {name} needs a docstring with an example"


def test_contract_commands_of_this_milestone_exist():
    assert {"run", "tickets", "show", "demo"} <= set(cli.commands)
