"""Every email of every procedure names only what that procedure asks for.

Issue 25 item 9: desbloqueo and cambio-correo tickets got the reset's ack,
which talks about the signed form, the acta de posesión and field 1.2. Here
every kind a procedure's tickets may receive is rendered with that
procedure's templates and every sample context, and checked against the
documents and form sections of the OTHER procedures, all derived from the
rules folder: a new procedure, document kind or template is covered
without touching this file.
"""

import re

import pytest

from helpdesk.config import Config, SmtpConfig
from helpdesk.findings import PROBLEM, Finding, problem_line
from helpdesk.intake.message import html_to_text
from helpdesk.outgoing.replies import (
    ACTION_KINDS,
    AUTOMATIC_KINDS,
    KINDS,
    PROCEDURELESS_KINDS,
    TICKET_KINDS,
    Renderer,
    samples,
)
from helpdesk.rules import ACTIONS, Procedure, load_all, normalise, strip_numbering

RULES = load_all()


def head(name: str) -> str:
    """How an email names a document: Spanish says «X de Y» and qualifies
    it after (formato de solicitud firmado y escaneado, acta de posesión del
    representante legal): the first three words of its name."""
    return " ".join(normalise(name).split()[:3])


def own_titles(procedure: Procedure) -> set[str]:
    return {title for titles in procedure.form.sections.values() for title in titles}


def forbidden(procedure: Procedure) -> dict[str, str]:
    """Phrase (normalised) -> why an email of ``procedure`` must not say it:
    the documents it does not ask for, and the sections (with their x.y
    numbers, as "campo 1.2") of forms that are not its own."""
    asked = {head(RULES.documents.kinds[k].name) for k in procedure.kinds}
    phrases = {head(kind.name): f"documento «{kind.name}», que el trámite no pide"
               for key, kind in RULES.documents.kinds.items() if head(kind.name) not in asked}
    mine = own_titles(procedure)
    for form in [RULES.form, *(p.form for p in RULES.procedures.values())]:
        for _key, written in form.section_titles:
            title = strip_numbering(normalise(written))
            if title in mine or len(title.split()) < 3:  # "Solicitud" names no one form
                continue
            phrases[title] = f"sección «{written}» de otro formato"
            number = re.match(r"\d+\.\d+", written.strip())
            if number:
                phrases[number.group()] = f"número de la sección «{written}» de otro formato"
    return phrases


def kinds_of(procedure: Procedure) -> tuple[str, ...]:
    return (*TICKET_KINDS, *ACTION_KINDS[procedure.action])


def own_problems(procedure: Procedure) -> list[str]:
    """The correction's lines for what this procedure asks, in its own wording."""
    findings = [Finding(PROBLEM, f"missing_{k}", RULES.documents.kinds[k].name) for k in procedure.kinds]
    findings += [Finding(PROBLEM, "missing_field", field.name) for field in procedure.form.fields.values()
                 if field.required]
    return [problem_line(f, procedure.problems) for f in findings]


@pytest.fixture(scope="module")
def renderer():
    return Renderer(Config(smtp=SmtpConfig(from_address="soporteccc@entidad.gov.co",
                                           from_name="Equipo de Gobierno en línea")))


def rendered(renderer: Renderer, procedure: Procedure):
    """(kind, part, text) of every email a ticket of ``procedure`` may receive."""
    for kind in kinds_of(procedure):
        for context in samples(kind):
            if "problems" in context:
                context = {**context, "problems": own_problems(procedure)}
            reply = renderer.build(kind, "a@b.gov.co", "GEL-2026-000042", context, answering=["x@b.gov.co"],
                                   automatic=context.get("automatic", kind in AUTOMATIC_KINDS),
                                   procedure=procedure.id)
            msg = reply.message
            yield kind, "asunto", msg["Subject"]
            yield kind, "texto", msg.get_body(("plain",)).get_content()
            yield kind, "html", html_to_text(msg.get_body(("html",)).get_content())


def said(phrase: str, text: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(phrase)}(?![\w]|\.\d)", normalise(text)) is not None


@pytest.mark.parametrize("procedure_id", sorted(RULES.procedures))
def test_no_email_of_a_procedure_names_a_document_or_form_section_it_does_not_ask_for(renderer, procedure_id):
    procedure = RULES.procedures[procedure_id]
    phrases = forbidden(procedure)
    wrong = [f"{kind} ({part}): «{phrase}», {why}"
             for kind, part, text in rendered(renderer, procedure)
             for phrase, why in phrases.items() if said(phrase, text)]
    assert wrong == []


def test_the_forbidden_words_come_from_the_rules_and_catch_the_reset_procedures_words():
    """The derivation above is not empty: what issue 25 saw in desbloqueo's
    ack (the signed form, the acta de posesión, field 1.2) is caught."""
    caught = forbidden(RULES.procedures["desbloqueo"])
    assert {"formato de solicitud", "acta de posesion", "1.2", "datos del representante legal"} <= set(caught)
    assert "documento de identidad" not in caught and "declaracion de responsabilidad" not in caught
    reset = forbidden(RULES.procedures["reinicio-claves"])
    assert {"documento de identidad", "declaracion de responsabilidad"} <= set(reset)
    assert "1.2" not in reset and "acta de posesion" not in reset


def test_every_email_kind_belongs_to_the_tickets_an_action_or_no_procedure():
    """A new kind must say whose it is, so the test above renders it."""
    assert set(ACTION_KINDS) == set(ACTIONS)
    classified = [*TICKET_KINDS, *(k for kinds in ACTION_KINDS.values() for k in kinds), *PROCEDURELESS_KINDS]
    assert sorted(classified) == sorted(KINDS)
