"""A text for the entity, written in `review`: several lines, read as the
email that goes, then confirmed (issue 25, item 7).

A one-line prompt sent half-written emails: staff pressed Enter to start a
paragraph and the line went to a municipality. So:

- the text is written in ``$VISUAL`` or ``$EDITOR`` when one is set (as
  git does), else typed here, line after line, until a line holding only
  a period. Not until an empty line: an empty line is how a person starts
  a new paragraph, the very keystroke that sent the half-written emails;
  a lone "." (the end of mail(1) and of SMTP's DATA) is never typed by
  accident, and leaves paragraphs free;
- the email is then shown as the entity will read it (recipient, subject,
  text), rendered by the function that will render it
  (staff.decisions.draft);
- nothing is queued until the staff member answers «s». «n» sends nothing
  and goes back to the menu; Ctrl-C or the end of the input (Ctrl-D) at
  any point sends nothing and ends the review, as elsewhere in it.
"""

from __future__ import annotations

import os

import click

from ..outgoing.replies import Reply
from .base import echo

END = "."
COMMENT = "#"


def write(what: str, radicado: str) -> str:
    """The staff member's text ("" when they wrote none); click.Abort on
    Ctrl-C or the end of the input. ``what`` names it: "el motivo del
    rechazo", "la respuesta"."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if editor:
        try:
            return _in_editor(what, radicado, editor)
        except click.ClickException as exc:  # the editor is missing or failed: type it here instead
            echo(f"No se pudo usar el editor ({editor}): {_editor_error(exc)}. Escríbalo aquí.")
    return _typed(what)


def _in_editor(what: str, radicado: str, editor: str) -> str:
    template = (f"\n\n{COMMENT} Escriba arriba {what} ({radicado}); el solicitante lo recibe tal cual.\n"
                f"{COMMENT} Puede escribir varios párrafos. Las líneas que empiezan por {COMMENT} no se envían.\n"
                f"{COMMENT} Guarde y cierre el editor para ver el correo antes de enviarlo; sin texto no se envía "
                "nada.\n")
    echo(f"Se abre el editor ({editor}) para escribir {what}…")
    try:
        text = click.edit(template, editor=editor, extension=".txt", require_save=True)
    except KeyboardInterrupt:
        raise _cancelled() from None
    if text is None:  # closed without saving
        return ""
    return "\n".join(line for line in text.splitlines() if not line.startswith(COMMENT)).strip()


def _typed(what: str) -> str:
    echo(f"Escriba {what}. Puede escribir varios párrafos (Enter pasa a la línea siguiente); termine con una "
         f"línea que tenga solo un punto ({END}). Ctrl-C cancela sin enviar nada.")
    lines: list[str] = []
    while True:
        try:
            line = input()
        except (EOFError, KeyboardInterrupt):
            raise _cancelled() from None
        if line.strip() == END:
            return "\n".join(lines).strip()
        lines.append(line)


def preview(reply: Reply) -> None:
    """The email as the entity will read it: who gets it, its subject and its text."""
    body = reply.message.get_body(("plain",)).get_content().replace("\r\n", "\n").rstrip()
    echo("\n----- Así lo recibirá el solicitante -----")
    echo(f"Para:    {reply.to}")
    echo(f"Asunto:  {reply.subject}\n")
    echo(body)
    echo("----- Fin del correo -----")


def confirmed() -> bool:
    """«s» sends, «n» does not; anything else asks again; Ctrl-C or the
    end of the input sends nothing (click.Abort)."""
    while True:
        try:
            answer = input("¿Enviar este correo? [s/n]: ").strip().casefold()
        except (EOFError, KeyboardInterrupt):
            raise _cancelled() from None
        if answer in ("s", "sí", "si"):
            return True
        if answer in ("n", "no"):
            echo("No se envió nada.")
            return False
        echo("Responda s (enviar) o n (no enviar).")


def _cancelled() -> click.Abort:
    echo("\nNo se envió nada.")
    return click.Abort()


def _editor_error(exc: click.ClickException) -> str:
    """What went wrong, in Spanish: click says "Editing failed" whatever it was."""
    cause = exc.__cause__
    if isinstance(cause, FileNotFoundError):
        return "no se encontró ese programa"
    if isinstance(cause, PermissionError):
        return "no hay permiso para ejecutarlo"
    if isinstance(cause, OSError):
        return "no se pudo ejecutar"
    return "terminó con un error"
