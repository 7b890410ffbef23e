"""From the mailbox to a committed ticket: sources, parsing, robots, threading, the transaction."""
