"""OAuth2 access tokens for XOAUTH2 logins (Microsoft 365, Google Workspace).

The helpdesk never runs the OAuth2 dance itself: the operator points
``oauth_token_file`` at a file that something else keeps fresh, or
``oauth_token_command`` at a program that prints a current access token
(typically by trading the provider's refresh token for a new one). Access
tokens live about an hour, so the token is read again at *every* login,
never cached: a long-running daemon would otherwise hold on to an expired
one.

A token is a bearer credential, as good as a password while it lives: it
never goes into a log line or an error message. Errors name where the token
came from (the file or the command, and the dotted key), never the token.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .config import Config
from .errors import HelpdeskError
from .errortext import os_reason
from .operations import logs

# RFC 6750 b64token: what an access token may contain. Anything else (a
# JSON document, two words, a stray quote) means the file or the command
# gives something that is not a bare token.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


class TokenUnavailable(HelpdeskError):
    """The access token could not be obtained: the file is missing, empty or
    malformed, or the command failed, timed out or printed no token. The
    message names the file or command and its dotted key, never the token."""


@dataclass(frozen=True)
class TokenSource:
    """Where one section's ([inbox] or [smtp]) access token comes from."""

    section: str
    file: Path | None
    command: tuple[str, ...]
    timeout: float

    @property
    def key(self) -> str:
        return f"{self.section}.oauth_token_{'file' if self.file else 'command'}"

    def describe(self) -> str:
        """Spanish: where the token comes from, for error messages."""
        if self.file:
            return f"el archivo {self.file} ({self.key})"
        # The program only: its arguments might carry a client secret.
        return f"el comando {self.command[0]} ({self.key})"

    def renew_hint(self) -> str:
        """Spanish: what the operator does when the server refuses the token."""
        if self.file:
            return (f"escriba un token de acceso vigente en {self.file} ({self.key}) "
                    "o revise el proceso que lo renueva")
        return (f"revise que {self.command[0]} ({self.key}) obtenga un token nuevo "
                "(p. ej. que el token de refresco siga vigente)")

    def refused(self, username: str, said: str) -> str:
        """Spanish: the server refused the token; the same words for IMAP and SMTP."""
        return (f"el servidor rechazó el token de acceso (XOAUTH2) de {username}; probablemente caducó. "
                f"Renuévelo: {self.renew_hint()}. El servidor dijo: {said}")

    def read(self) -> str:
        """The current access token, read now; raise TokenUnavailable."""
        text = self._read_file() if self.file else self._run_command()
        lines = text.splitlines()
        token = lines[0].strip() if lines else ""
        if not token:
            raise TokenUnavailable(f"{self.describe()} no dio ningún token de acceso")
        if not _B64TOKEN.fullmatch(token):
            raise TokenUnavailable(
                f"{self.describe()} no dio un token de acceso válido: se espera el token solo, "
                "en la primera línea, sin espacios, comillas ni JSON"
            )
        logs.register_secret(token, transient=True)
        return token

    def _read_file(self) -> str:
        try:
            return self.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = os_reason(exc) if isinstance(exc, OSError) else "no es texto UTF-8"
            raise TokenUnavailable(f"no se puede leer {self.describe()}: {reason}") from None

    def _run_command(self) -> str:
        try:
            result = subprocess.run(list(self.command), stdin=subprocess.DEVNULL, capture_output=True,
                                    timeout=self.timeout, shell=False)
        except subprocess.TimeoutExpired:
            raise TokenUnavailable(f"{self.describe()} no terminó en {self.timeout:g} s") from None
        except OSError as exc:
            raise TokenUnavailable(f"no se pudo ejecutar {self.describe()}: {os_reason(exc)}") from None
        stdout = result.stdout.decode("utf-8", "replace")
        if result.returncode != 0:
            # The program's own last words say why (e.g. "invalid_grant"),
            # but whatever it printed on stdout may be a token: blank it out.
            stderr = result.stderr.decode("utf-8", "replace")
            for secret in stdout.split():
                if len(secret) >= 8:
                    stderr = stderr.replace(secret, "[token]")
            last = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), "")
            said = f": {last[:300]}" if last else ""
            raise TokenUnavailable(f"{self.describe()} terminó con código {result.returncode}{said}")
        return stdout


def token_source(config: Config, section: str) -> TokenSource | None:
    """The token source of ``section``, or None when it logs in with a password."""
    sec = getattr(config, section)
    if sec.auth != "xoauth2":
        return None
    return TokenSource(
        section=section,
        file=config.credential_path(sec.oauth_token_file) if sec.oauth_token_file else None,
        command=tuple(sec.oauth_token_command),
        timeout=sec.oauth_token_timeout,
    )
