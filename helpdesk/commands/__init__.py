"""The ``helpdesk`` command, one module per group of subcommands (as
Mailman's commands/): each parses its options, calls the library and prints
in Spanish."""
