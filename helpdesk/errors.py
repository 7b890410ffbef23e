"""The helpdesk's exception tree: each class says when it is raised.

The CLI turns these into one line on stderr (in Spanish) and an exit code;
anything else is a bug and keeps its traceback.
"""


class HelpdeskError(Exception):
    """Base of every expected failure. ``exit_code`` is what the CLI returns."""

    exit_code = 1


class ConfigError(HelpdeskError):
    """The configuration file is missing, unreadable or has a bad key.

    The message always names the file and the dotted key (``inbox.port``).
    """

    exit_code = 2


class SecretError(ConfigError):
    """A password file (password_file) is missing, unreadable or empty.

    ``fix`` says the step for this way of running (write the file, or check
    as the service sees it with helpdesk-foreground); "" for the usual one.
    """

    def __init__(self, message: str, fix: str = ""):
        super().__init__(message)
        self.fix = fix


class NotFound(HelpdeskError):
    """A radicado or quarantined message that does not exist was asked for."""


class InboxError(HelpdeskError):
    """The mailbox could not be reached or answered something unusable.

    Raised for connection, login and protocol failures; the daemon reconnects
    with backoff, ``run --once`` reports it and exits 1.
    """


class DeliveryError(HelpdeskError):
    """An outgoing email could not be handed to the SMTP server.

    ``permanent`` tells a 5xx refusal (never retried) from a temporary failure
    (4xx, timeout, refused connection: retried with backoff until the deadline).
    """

    def __init__(self, message: str, permanent: bool):
        super().__init__(message)
        self.permanent = permanent


class Refused(HelpdeskError):
    """A staff command cannot be carried out: wrong state, already being
    approved by someone else, or nothing to act on. The message says what
    the state is and what can be done."""


class ResetFailed(HelpdeskError):
    """A reset backend could not set an account's password. The message
    names the account and the reason, never the password."""
