"""`helpdesk review` driven in a real pseudo-terminal, as a staff member would."""

import os
import sys
from pathlib import Path

import pexpect

from .conftest import Embedded
from .test_staff import LEGAL_REP, high_risk_pending, pending

ROOT = Path(__file__).resolve().parent.parent


def spawn(env: Embedded, *args) -> pexpect.spawn:
    return pexpect.spawn(sys.executable, ["-m", "helpdesk", "--config", str(env.config_path), "review", *args],
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, encoding="utf-8", timeout=30)


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
    child.expect(r"3 adjunto\(s\) en")
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
    child.expect("Motivo")
    child.sendline("El acta corresponde a otra entidad")
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
