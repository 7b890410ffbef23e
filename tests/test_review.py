"""`helpdesk review` driven in a real pseudo-terminal, as a staff member would."""

import os
import signal
import sys
import time
from pathlib import Path

import pexpect

from . import mails
from .conftest import Embedded
from .test_staff import LEGAL_REP, high_risk_pending, pending

ROOT = Path(__file__).resolve().parent.parent


def spawn(env: Embedded, *args, editor: str = "") -> pexpect.spawn:
    """`helpdesk review ARGS` in a pseudo-terminal; ``editor`` is $EDITOR (none by default, whatever the
    environment running the tests has)."""
    environ = {k: v for k, v in os.environ.items() if k not in ("VISUAL", "EDITOR")}
    return pexpect.spawn(sys.executable, ["-m", "helpdesk", "--config", str(env.config_path), "review", *args],
                         env={**environ, "PYTHONPATH": str(ROOT), **({"EDITOR": editor} if editor else {})},
                         encoding="utf-8", timeout=30, preexec_fn=_as_a_shell_starts_it)


def _as_a_shell_starts_it() -> None:
    """Ctrl-C interrupts the command, as in a person's terminal. An ignored
    or blocked SIGINT is inherited through exec, and in the full parallel
    suite (not alone, not with -n 2 on this file) the review spawned here
    ignored Ctrl-C in every run: the test waited its whole 30 s."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def write(child: pexpect.spawn, *lines: str) -> str:
    """Type a text line by line, ending it with a lone period; the email
    previewed (recipient, subject, text), up to the confirmation prompt."""
    child.expect(r"termine con una línea que tenga solo un punto \(\.\)")
    for line in (*lines, "."):
        child.sendline(line)
    return previewed(child)


def previewed(child: pexpect.spawn) -> str:
    child.expect("----- Así lo recibirá el solicitante -----\r\n")
    child.expect("----- Fin del correo -----\r\n")
    shown = child.before.replace("\r\n", "\n")
    child.expect(r"¿Enviar este correo\? \[s/n\]: ")
    return shown


def sent_as_previewed(email, to: str) -> str:
    """What the preview showed for ``email``: its recipient, subject and whole text."""
    body = email.get_body(("plain",)).get_content().replace("\r\n", "\n").rstrip()
    return f"Para:    {to}\nAsunto:  {email['Subject']}\n\n{body}\n"


PROMPT = r"Qué hace\?"


def test_review_approves_rejects_and_skips(tmp_path):
    env = Embedded(tmp_path / "h")
    first = pending(env, tmp_path, sender="a@alcaldia-prueba.gov.co")
    second = pending(env, tmp_path, sender="b@alcaldia-prueba.gov.co")
    third = pending(env, tmp_path, sender="c@alcaldia-prueba.gov.co")
    child = spawn(env, "--by", "Ana Pérez", "--attachments-dir", str(tmp_path / "adjuntos"))

    child.expect(first)
    child.expect(PROMPT)
    child.sendline("x")  # not an answer: asked again, nothing decided
    child.expect(PROMPT)
    child.sendline("g")
    child.expect(r"3 adjuntos en")
    child.expect(PROMPT)
    child.sendline("a")
    child.expect(r"se muestran solo esta vez")
    child.expect("Los guiones son parte de la clave")
    child.expect(r"Escriba el radicado")
    child.sendline("s")  # the menu's "saltar": never a yes here
    child.expect("Aprobación cancelada")
    child.expect(PROMPT)  # the same ticket is asked again
    child.sendline("a")
    child.expect(r"Escriba el radicado")
    child.sendline(first.lower())
    child.expect(f"Solicitud {first} aprobada")

    child.expect(second)
    child.expect(PROMPT)
    child.sendline("r")
    write(child, "El acta corresponde a otra entidad")
    child.sendline("s")
    child.expect(f"Solicitud {second} rechazada")

    child.expect(third)
    child.expect(PROMPT)
    child.sendline("s")
    child.expect("sigue en la cola")
    child.expect("No quedan más solicitudes")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    states = dict(env.store.query("SELECT radicado, state FROM tickets"))
    assert states == {first: "resolved", second: "rejected", third: "pending_approval"}
    assert len(list((tmp_path / "adjuntos" / first).iterdir())) == 3
    env.daemon.deliver()
    resets = [m["To"] for m in env.sent() if m["X-Helpdesk-Kind"] == "reset"]
    assert resets == [LEGAL_REP]
    events = [r["actor"] for r in env.store.query("SELECT actor FROM events WHERE action IN ('aprobada', 'rechazada')")]
    assert len(events) == 2 and all(a.startswith("Ana Pérez") for a in events)


def test_review_quits_without_deciding(tmp_path):
    env = Embedded(tmp_path / "h")
    radicado = pending(env, tmp_path)
    child = spawn(env, "--by", "Ana")
    child.expect(radicado)
    child.expect(PROMPT)
    child.sendline("q")
    child.expect("Revisión terminada")
    child.expect(pexpect.EOF)
    assert env.store.one("SELECT state FROM tickets")[0] == "pending_approval"


def test_review_approves_a_high_risk_ticket_only_after_the_warnings_are_acknowledged(tmp_path):
    env = Embedded(tmp_path / "h")
    radicado = high_risk_pending(env, tmp_path)
    child = spawn(env, "--by", "Ana")
    child.expect(radicado)
    child.expect(PROMPT)
    child.sendline("a")
    child.expect("alto riesgo")
    child.sendline("s")
    child.expect("Sin aprobar")
    child.expect(PROMPT)
    child.sendline("a")
    child.sendline("revisadas")
    child.expect(r"Escriba el radicado")
    child.sendline("sí")
    child.expect(f"Solicitud {radicado} aprobada")
    child.expect(pexpect.EOF)
    assert env.store.one("SELECT state FROM tickets")[0] == "resolved"


def test_review_confirmation_is_never_a_menu_letter(tmp_path):
    # "s" is "saltar" in the menu, "a" is "aprobar", Enter is no answer, "y"
    # the English habit: none of them sends the passwords; the typed word does.
    env = Embedded(tmp_path / "h")
    radicado = pending(env, tmp_path)
    child = spawn(env, "--by", "Ana")
    child.expect(radicado)
    for answer in ("s", "a", "", "y", "q"):
        child.expect(PROMPT)
        child.sendline("a")
        # The one screen that shows the passwords says the hyphens belong to them.
        child.expect("Los guiones son parte de la clave")
        child.expect(r"@\S+ +(\S+)\r?\n")
        assert "-" in child.match.group(1)
        child.expect(rf"Escriba el radicado \({radicado}\) o «sí»")
        child.sendline(answer)
        child.expect("Aprobación cancelada: no se envió nada")
    assert env.store.one("SELECT state FROM tickets")[0] == "pending_approval"
    child.expect(PROMPT)
    child.sendline("a")
    child.expect("Escriba el radicado")
    child.sendline("si")  # without the accent, as a keyboard without ñ/tildes types it
    child.expect(f"Solicitud {radicado} aprobada")
    child.expect(pexpect.EOF)
    assert env.store.one("SELECT state FROM tickets")[0] == "resolved"
    env.daemon.deliver()
    assert [m["To"] for m in env.sent() if m["X-Helpdesk-Kind"] == "reset"] == [LEGAL_REP]


# -- writing to the entity (issue 25, item 7) ----------------------------------


def test_review_rejection_is_written_in_paragraphs_previewed_and_sent_only_when_confirmed(tmp_path):
    env = Embedded(tmp_path / "h")
    radicado = pending(env, tmp_path)
    child = spawn(env, "--by", "Ana")
    child.expect(radicado)
    child.expect(PROMPT)
    child.sendline("r")
    # Enter starts a new line, an empty line a new paragraph: only the lone period ends the text.
    write(child, "El acta de posesión corresponde a otra entidad.", "", "Envíe el acta del alcalde actual.")
    child.sendline("x")  # not an answer: asked again
    child.expect(r"Responda s \(enviar\) o n \(no enviar\)")
    child.sendline("n")
    child.expect("No se envió nada.")
    child.expect(PROMPT)
    assert env.count("SELECT count(*) FROM outbox WHERE kind = 'rejected'") == 0
    assert env.store.one("SELECT state FROM tickets")[0] == "pending_approval"
    child.sendline("r")
    shown = write(child, "El acta de posesión corresponde a otra entidad.", "", "Envíe el acta del alcalde actual.")
    child.sendline("s")
    child.expect(f"Solicitud {radicado} rechazada")
    child.expect(pexpect.EOF)
    env.daemon.deliver()
    [rejected] = [m for m in env.sent() if m["X-Helpdesk-Kind"] == "rejected"]
    assert shown == sent_as_previewed(rejected, mails.ENTITY)
    assert ("por el siguiente motivo:\n\nEl acta de posesión corresponde a otra entidad.\n\nEnvíe el acta del "
            "alcalde actual.\n\n") in shown


def test_review_reply_written_in_the_editor_is_sent_as_previewed(tmp_path):
    env = Embedded(tmp_path / "h")
    radicado = pending(env, tmp_path)
    editor = tmp_path / "editor.py"  # what a person does in vi: writes above the instructions, saves
    editor.write_text("import sys\npath = sys.argv[1]\nkept = open(path, encoding='utf-8').read()\n"
                      "open(path, 'w', encoding='utf-8').write('Buenos días.\\n\\nSu solicitud sigue en "
                      "revisión.\\n' + kept)\n", encoding="utf-8")
    child = spawn(env, "--by", "Ana", editor=f"{sys.executable} {editor}")
    child.expect(PROMPT)
    child.sendline("e")
    child.expect(r"Se abre el editor")
    shown = previewed(child)
    child.sendline("s")
    child.expect(f"Respuesta registrada en {radicado}")
    child.expect(pexpect.EOF)
    env.daemon.deliver()
    [reply] = [m for m in env.sent() if m["X-Helpdesk-Kind"] == "reply"]
    assert shown == sent_as_previewed(reply, mails.ENTITY)
    assert "le responde:\n\nBuenos días.\n\nSu solicitud sigue en revisión.\n\nSi necesita algo más" in shown
    assert "#" not in shown  # the editor's instructions are not sent


def test_review_falls_back_to_typing_when_the_editor_cannot_run(tmp_path):
    env = Embedded(tmp_path / "h")
    radicado = pending(env, tmp_path)
    child = spawn(env, "--by", "Ana", editor=str(tmp_path / "no-existe"))
    child.expect(PROMPT)
    child.sendline("c")
    child.expect(f"No se pudo usar el editor \\({tmp_path / 'no-existe'}\\): no se encontró ese programa. "
                 "Escríbalo aquí.")
    write(child, "La firma del formato no es legible.")
    child.sendline("s")
    child.expect(f"Se pidió una corrección en {radicado}")
    child.expect(pexpect.EOF)
    assert env.store.one("SELECT state FROM tickets")[0] == "needs_correction"


def test_review_sends_nothing_when_writing_or_confirming_is_interrupted(tmp_path):
    env = Embedded(tmp_path / "h")
    radicado = pending(env, tmp_path)
    child = spawn(env, "--by", "Ana")
    child.expect(PROMPT)
    child.sendline("r")
    child.expect("solo un punto")
    child.sendline("El acta no corresponde")  # Enter: the next line, not the end
    child.sendeof()  # Ctrl-D
    child.expect("No se envió nada.")
    child.expect("Cancelado.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1

    child = spawn(env, "--by", "Ana")
    child.expect(PROMPT)
    child.sendline("e")
    write(child, "Seguimos revisando.")
    # Ctrl-C at the confirmation, as a person presses it: not in the instant
    # between the prompt being written and input() waiting on the terminal,
    # where CPython sees a SIGINT only at the next key (its readline loop
    # checks signals when select() is interrupted).
    time.sleep(0.3)
    child.sendintr()
    child.expect("No se envió nada.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert env.count("SELECT count(*) FROM outbox WHERE kind IN ('rejected', 'reply')") == 0
    assert tuple(env.store.one("SELECT state, claimed_by FROM tickets WHERE radicado = ?", (radicado,))) == (
        "pending_approval", None)
