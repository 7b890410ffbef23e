"""Questions and incomplete requests: which signals tell them apart (issue 25, item 6).

    .venv/bin/python bench/questions.py [--show]

Two labelled sets, each message parsed by the real intake parser
(helpdesk/intake/message.py) and read by helpdesk/intake/question.py:

- written: tests/data/first_messages.toml, short real-world-style Spanish
  questions and incomplete requests (no attachments), each to its
  procedure;
- generated: the requests the test suite, the benchmarks and the demo build
  (tests/mails.py, bench/make_fixtures.py, helpdesk/demo.py), whole and with
  their attachments stripped (the sender forgot the files: an incomplete
  request), plus the first-message shapes the tests send without files.

For each candidate rule it prints both error rates: questions taken for
requests (a robotic correction to a person) and requests taken for
questions (a municipality waits for a person instead of the list of what is
missing). ``decide`` is the rule the desk uses; ``--show`` lists what it
gets wrong. Last, the cost of ``judge`` per message.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import make_fixtures  # noqa: E402

from helpdesk import demo  # noqa: E402
from helpdesk.config import LimitsConfig  # noqa: E402
from helpdesk.intake.message import parse  # noqa: E402
from helpdesk.intake.question import Signals, decide, judge, read_signals  # noqa: E402
from helpdesk.rules import load_all  # noqa: E402
from tests import mails  # noqa: E402

DEFAULT = "reinicio-claves"
QUESTION, REQUEST = "question", "request"


@dataclass(frozen=True)
class Sample:
    label: str
    procedure: str
    raw: bytes
    where: str  # which set, and a short name


def written(which: str = "") -> list[Sample]:
    """The written set: the messages the rule was chosen on ("") or the
    ones held out until it was fixed ("held-out")."""
    data = tomllib.loads((ROOT / "tests" / "data" / "first_messages.toml").read_text(encoding="utf-8"))
    return [Sample(m["label"], m.get("procedure", DEFAULT), mails.request(subject=m["subject"], body=m["body"]),
                   f"escrito: {m['subject']} | {m['body'][:50]!r}") for m in data["message"] if m.get("set", "") == which]


def stripped(raw: bytes) -> bytes:
    """The same email with its attachments forgotten."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for part in list(msg.iter_attachments()):
        msg.get_payload().remove(part)
    return msg.as_bytes()


def generated() -> list[Sample]:
    whole = [("make_fixtures.request_bytes", make_fixtures.request_bytes(n, small=True)) for n in range(3)]
    whole += [("demo.sample_request", demo.sample_request(mails.SUPPORT))]
    whole += [("mails.request (con adjuntos)", mails.request(attachments=[("formato.pdf", b"%PDF-1.4\n" + b"0" * 5000,
                                                                         "application/pdf")]))]
    samples = [Sample(REQUEST, DEFAULT, raw, f"generado: {name}") for name, raw in whole]
    samples += [Sample(REQUEST, DEFAULT, stripped(raw), f"generado sin adjuntos: {name}") for name, raw in whole]
    # The first messages the suite sends without files and answers with a
    # correction (the builders' defaults and what tests pass them).
    bare = [
        ("mails.request()", mails.request()),
        ("mails.legacy_request()", mails.legacy_request(mails.OUTLOOK_2000, "Sistemas <s@alcaldia-prueba.gov.co>",
                                                        "Solicitud de reinicio de clave")),
        ("demo.latin1_request", demo.latin1_request(mails.SUPPORT)),
        ("test_intake latin-1", mails.request(subject="Reinicio de contraseña de la Alcaldía",
                                              body="Solicitamos el reinicio de la contraseña del señor alcalde.")),
        ("test_staff", mails.request(subject="Clave del alcalde", body="Necesitamos la clave del alcalde hoy mismo.")),
        ("test_e2e", mails.request(body="Buenos días, necesitamos reiniciar la clave.")),
        ("test_retention", mails.request(body="Primera copia.")),
        ("test_intake pedido", mails.request(subject="pedido 1")),
        ("test_handover desbloqueo", mails.request(subject="Cuenta bloqueada",
                                                   body="Buenos días, mi cuenta quedó bloqueada.\nUsuario: jperez\n"
                                                        "Nombres y apellidos: Juan Pérez\n")),
        ("test_handover cambio-correo", mails.request(subject="Cambio de correo",
                                                      body="CURP: BEST710209HDFLNB08\nNombre: B\nCorreo nuevo: b@gmail.com\n")),
    ]
    procedure = {"test_handover desbloqueo": "desbloqueo", "test_handover cambio-correo": "cambio-correo"}
    samples += [Sample(REQUEST, procedure.get(name, DEFAULT), raw, f"generado sin adjuntos: {name}") for name, raw in bare]
    return samples


# Candidate rules over the same signals, from the desk's old behaviour to
# the rule it uses (decide) and the variants it was chosen over.
def _files(s: Signals) -> bool:
    return bool(s.documents or s.forwarded)


def _fields(s: Signals) -> bool:
    return len(s.fields) >= (1 if s.reads_text else 2)


RULES: list[tuple[str, Callable[[Signals], bool]]] = [
    ("todo es solicitud (antes)", lambda s: True),
    ("adjuntos", _files),
    ("adjuntos o campos", lambda s: _files(s) or _fields(s)),
    ("… o dice que adjunta", lambda s: _files(s) or _fields(s) or s.attaching),
    ("… o pide (aunque pregunte)", lambda s: _files(s) or _fields(s) or s.attaching or s.requesting),
    ("… o pide el trámite (aunque pregunte)",
     lambda s: _files(s) or _fields(s) or s.attaching or (s.requesting and s.about)),
    ("… o nombra el trámite sin preguntar",
     lambda s: _files(s) or _fields(s) or s.attaching or (s.about and not s.asking)),
    ("… o pide sin preguntar", lambda s: _files(s) or _fields(s) or s.attaching or (s.requesting and not s.asking)),
    ("decide: … o pide el trámite sin preguntar", lambda s: not decide(s).question),
    ("campos con cualquier línea (también contacto)",
     lambda s: _files(s) or bool(s.fields) or s.attaching or (s.requesting and s.about and not s.asking)),
]


def measure(samples: list[Sample], rules, show: bool) -> None:
    loaded = load_all()
    limits = LimitsConfig()
    signals = []
    for sample in samples:
        intake = parse(sample.raw, limits)
        procedure = loaded.procedures[sample.procedure]
        signals.append(read_signals(intake.subject, intake.body_text, intake.attachments, procedure,
                                    loaded.documents))
    questions = sum(1 for s in samples if s.label == QUESTION)
    requests = len(samples) - questions
    print(f"  {'regla':48} {'pregunta→solicitud':>20} {'solicitud→pregunta':>20}")
    for name, is_request in rules:
        wrong_q = [s for s, sig in zip(samples, signals) if s.label == QUESTION and is_request(sig)]
        wrong_r = [s for s, sig in zip(samples, signals) if s.label == REQUEST and not is_request(sig)]
        print(f"  {name:48} {_rate(len(wrong_q), questions):>20} {_rate(len(wrong_r), requests):>20}")
        if show and name.startswith("decide"):
            for s in wrong_q + wrong_r:
                print(f"      mal: {s.label:8} {s.where}")


def _rate(wrong: int, total: int) -> str:
    return f"{wrong}/{total} ({100 * wrong / total:.0f} %)" if total else "-"


def cost() -> None:
    """judge per message, the message's headers already parsed (as intake has
    them): a question (its body is parsed here) and a 700 KB request (decided
    on the file names, body not parsed)."""
    loaded = load_all()
    procedure = loaded.procedures[DEFAULT]
    limits = LimitsConfig()
    for name, raw in (("pregunta corta", mails.request(subject="Consulta", body="¿Me pueden llamar?")),
                      ("solicitud completa", make_fixtures.request_bytes(1))):
        timings = []
        for _ in range(200):
            intake = parse(raw, limits)  # the body is read lazily: each round reads it again
            started = time.perf_counter()
            judge(intake, procedure, loaded.documents)
            timings.append(time.perf_counter() - started)
        timings.sort()
        print(f"  {name:20} {len(raw) / 1024:7.0f} KB  judge: mediana {timings[100] * 1000:.2f} ms, "
              f"p95 {timings[190] * 1000:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true", help="list what the desk's rule gets wrong")
    args = parser.parse_args()
    sets = {"escritos (con los que se eligió la regla)": written(), "escritos apartados (held-out)": written("held-out"),
            "generados": generated()}
    for name, samples in sets.items():
        q = sum(1 for s in samples if s.label == QUESTION)
        print(f"{name}: {q} preguntas, {len(samples) - q} solicitudes")
        measure(samples, RULES, args.show)
    everything = [s for samples in sets.values() for s in samples]
    print(f"todos: {len(everything)} mensajes")
    measure(everything, RULES, False)
    print("costo de judge:")
    cost()


if __name__ == "__main__":
    main()
