"""A first message: a question for a person, or a request (intake/question.py).

The rule itself was chosen on labelled mail (bench/questions.py); these
tests pin the facts it stands on, each with a real MIME message read by the
real intake parser.
"""

import tomllib
from email.message import EmailMessage
from pathlib import Path

import pytest

from helpdesk.config import LimitsConfig
from helpdesk.intake.message import parse
from helpdesk.intake.question import LARGE_MESSAGE, Verdict, judge
from helpdesk.rules import load_all

from . import mails

RULES = load_all()
DATA = Path(__file__).parent / "data" / "first_messages.toml"


def verdict(raw: bytes, procedure: str = "reinicio-claves", limits: LimitsConfig | None = None) -> Verdict:
    return judge(parse(raw, limits or LimitsConfig()), RULES.procedures[procedure], RULES.documents)


def test_a_message_that_only_asks_is_a_question():
    found = verdict(mails.request(subject="Consulta", body="¿Me pueden llamar?"))
    assert (found.question, found.why) == (True, "sin adjuntos ni datos del formato, y no pide el trámite")


def test_label_lines_are_a_request_in_a_procedure_that_reads_them_from_the_text():
    """CONTRACT §9: desbloqueo reads "Usuario: jperez"; the reset's form has no such label."""
    raw = mails.request(subject="Cuenta bloqueada", body="¿Me ayudan?\nUsuario: jperez")
    found = verdict(raw, "desbloqueo")
    assert (found.question, found.why) == (False, "trae datos del formato (Usuario o cuenta)")
    assert verdict(raw).question is True


def test_two_fields_of_the_reset_form_make_a_request():
    raw = mails.request(subject="Hola", body="¿Qué falta?\nNombre de la entidad: Alcaldía de Restrepo\nNIT: 890309611-8")
    found = verdict(raw)
    assert (found.question, found.why) == (False, "trae datos del formato (Nombre de la entidad (1.1), NIT (1.1))")


def test_contact_lines_of_a_signature_are_not_the_forms_fields():
    """"Teléfono:" and "Correo electrónico:" are labels of the reset form
    (1.2) and lines of many signatures: they make no request."""
    raw = mails.request(subject="Llamada", body="¿Me pueden llamar?\n\nPedro Gómez\nTeléfono: 3001234567\n"
                                                "Correo electrónico: pedro@guacari-valle.gov.co")
    found = verdict(raw)
    assert found.question is True and found.signals.fields == ()


def test_saying_it_attaches_a_file_is_a_request_that_forgot_it():
    found = verdict(mails.request(subject="Documentos", body="Adjunto el formato."))
    assert (found.question, found.why) == (False, "dice que adjunta documentos, pero no trae ninguno")


def test_asking_for_the_procedure_is_a_request_and_asking_how_is_a_question():
    asks_for = verdict(mails.request(subject="Reinicio de clave", body="Solicito el reinicio de la clave de la alcaldía."))
    asks_how = verdict(mails.request(subject="Información", body="Solicito información sobre cómo se reinicia la clave."))
    assert (asks_for.question, asks_for.why) == (False, "pide el trámite, sin documentos")
    assert asks_how.question is True


def test_a_signature_logo_is_not_a_document_but_a_scan_is():
    def with_image(size: int) -> bytes:
        return mails.request(subject="Consulta", body="¿Me pueden llamar?",
                             attachments=[("image001.png", b"\x89PNG\r\n\x1a\n" + b"\0" * size, "image/png")])

    assert verdict(with_image(4_000)).question is True
    found = verdict(with_image(120_000))
    assert (found.question, found.why) == (False, "trae archivos adjuntos")


def test_a_forwarded_email_is_a_request():
    inner = EmailMessage()
    inner["From"] = "alcalde@guacari-valle.gov.co"
    inner["Subject"] = "Solicitud"
    inner.set_content("Va la solicitud.")
    outer = EmailMessage()
    outer["From"] = mails.ENTITY
    outer["To"] = mails.SUPPORT
    outer["Subject"] = "RV: Solicitud"
    outer.set_content("Les reenvío esto.")
    outer.add_attachment(inner)
    found = verdict(outer.as_bytes())
    assert (found.question, found.signals.forwarded) == (False, True)


def test_a_message_read_for_its_headers_only_is_a_request():
    raw = mails.request(subject="Consulta", body="¿Me pueden llamar?" + " " * 30_000)
    found = verdict(raw, limits=LimitsConfig(max_message_bytes=20_000))
    assert found == Verdict(False, "solo se leyeron los encabezados")


def test_a_large_message_that_names_a_file_is_a_request_without_reading_its_body():
    raw = mails.request(subject="Consulta", body="¿Me pueden llamar?",
                        attachments=[("acta.pdf", b"%PDF-1.4\n" + b"0" * LARGE_MESSAGE, "application/pdf")])
    assert verdict(raw) == Verdict(False, "trae archivos adjuntos")  # no signals: the body was not parsed


@pytest.fixture(scope="module")
def labelled():
    data = tomllib.loads(DATA.read_text(encoding="utf-8"))["message"]
    return [(m["label"], verdict(mails.request(subject=m["subject"], body=m["body"]),
                                 m.get("procedure", "reinicio-claves"))) for m in data]


def test_the_labelled_first_messages_are_told_apart_as_bench_questions_measured(labelled):
    """The figures of README "Questions and incomplete requests" (bench/questions.py):
    at most 1 in 10 wrong either way on the written set."""
    questions = [v for label, v in labelled if label == "question"]
    requests = [v for label, v in labelled if label == "request"]
    assert len(questions) >= 30 and len(requests) >= 30
    assert sum(not v.question for v in questions) <= len(questions) // 10
    assert sum(v.question for v in requests) <= len(requests) // 10
