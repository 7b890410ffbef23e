"""The emails as an entity reads them: every config key documented, the
footer's phones and menu from seed 000, Spanish articles, one anti-phishing
warning, Reply-To to the inbox, the reset threaded to the entity's own
message, the "too large" advice, and `helpdesk check` rendering every
template."""

import dataclasses
import email
import email.policy
import re
import shutil
import subprocess
import tomllib
import typing
from pathlib import Path

import pytest

from helpdesk import config as config_mod
from helpdesk.config import Config, InboxConfig, SmtpConfig
from helpdesk.errors import ConfigError
from helpdesk.outgoing.articles import with_article
from helpdesk.outgoing.replies import AUTOMATIC_KINDS, KINDS, SMTP_POLICY, Renderer, samples

from . import docfiles, mails
from .conftest import Embedded, embedded_sections, run_helpdesk, write_config
from .test_e2e_documents import documents
from .test_staff import helpdesk, pending

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "config.toml"
# "# key = value  # why" or "key = value  # why": a key line, in use or shown with its default.
KEY_LINE = re.compile(r"^(#\s*)?([a-z_]+)\s*=\s*(.+)$")
ANTI_PHISHING = re.compile(r"nunca le (pediremos|solicitaremos|solicitamos)", re.IGNORECASE)


# -- config.toml: every key, with a comment ---------------------------------


def shipped_sections() -> dict[str, list[tuple[int, str]]]:
    """Section name -> its (line number, line) pairs, "[x]" and "# [x]" alike."""
    sections: dict[str, list[tuple[int, str]]] = {}
    current = None
    for number, line in enumerate(SHIPPED.read_text(encoding="utf-8").splitlines(), start=1):
        header = re.match(r"^#?\s*\[([a-z_.]+)\]", line)
        if header:
            current = sections.setdefault(header.group(1), [])
            continue
        if current is not None:
            current.append((number, line))
    return sections


def documented_keys(lines: list[tuple[int, str]]) -> dict[str, tuple[int, str, bool]]:
    """key -> (line number, "key = value" text, has a comment)."""
    found = {}
    previous = ""
    for number, line in lines:
        match = KEY_LINE.match(line.strip())
        if match:
            text = f"{match.group(2)} = {match.group(3)}"
            # A comment after the value, or prose just above the key.
            inline = "#" in _value_and_comment(text)[1]
            above = previous.startswith("#") and not KEY_LINE.match(previous)
            found.setdefault(match.group(2), (number, text, inline or above))
        previous = line.strip()
    return found


def _value_and_comment(text: str) -> tuple[str, str]:
    """Split "key = value  # comment" after the value (TOML decides where it ends)."""
    for cut in [m.start() for m in re.finditer("#", text)] + [len(text)]:
        try:
            tomllib.loads(text[:cut])
        except tomllib.TOMLDecodeError:
            continue
        return text[:cut], text[cut:]
    return text, ""


def test_every_config_key_is_in_the_shipped_config_with_a_comment():
    sections = shipped_sections()
    hints = typing.get_type_hints(Config)
    missing, silent, wrong = [], [], []
    for section in config_mod.SECTIONS:
        cls = hints[section]
        keys = documented_keys(sections.get(section, []))
        for f in dataclasses.fields(cls):
            dotted = f"{section}.{f.name}"
            if f.name not in keys:
                missing.append(dotted)
                continue
            number, text, commented = keys[f.name]
            if not commented:
                silent.append(f"{dotted} (line {number})")
            value = tomllib.loads(_value_and_comment(text)[0])[f.name]
            # [procedures.ID] addresses is a list, hold_hours a number, in each procedure's table.
            hint = {"procedures.addresses": list[str], "procedures.hold_hours": float}.get(
                dotted, typing.get_type_hints(cls)[f.name])
            try:  # the value shown (default or example) must be one the key accepts
                config_mod._coerce(hint, value, dotted, SHIPPED)
            except ConfigError as exc:
                wrong.append(str(exc))
    assert missing == [], f"keys missing from config.toml: {missing}"
    assert silent == [], f"keys without a comment in config.toml: {silent}"
    assert wrong == []


def test_shipped_config_shows_the_seed_phones_and_menu():
    config = config_mod.load(SHIPPED)
    assert config.replies.support_phone == "+57 601 595 3595"
    text = SHIPPED.read_text(encoding="utf-8")
    assert "support_phone_menu = [\"1 – Servidor público\", \"2 – Solicitud de las aplicaciones de Gobierno en línea\"]" in text
    assert "support_hotline = \"018000 91 0742\"" in text


# -- what every email says ---------------------------------------------------


@pytest.fixture
def renderer():
    return Renderer(Config(smtp=SmtpConfig(from_address="soporteccc@entidad.gov.co",
                                           from_name="Equipo de Gobierno en línea")))


def every_email(renderer: Renderer):
    """(kind, text, html) of every kind with every sample context, as built for sending."""
    for kind in KINDS:
        for context in samples(kind):
            reply = renderer.build(kind, "a@b.gov.co", "GEL-2026-000042", context, answering=["x@b.gov.co"],
                                   automatic=context.get("automatic", kind in AUTOMATIC_KINDS))
            msg = reparse(reply.message)
            yield kind, msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()


def reparse(message) -> email.message.EmailMessage:
    return email.message_from_bytes(message.as_bytes(policy=SMTP_POLICY), policy=email.policy.default)


def test_footer_has_the_bogota_number_that_dials_the_menu_and_the_hotline(renderer):
    for kind, text, html in every_email(renderer):
        one_line = " ".join(text.split())
        assert "en Bogotá al teléfono +57 601 595 3595 o a la línea gratuita nacional 018000 91 0742, marcando " \
               "la opción 1 – Servidor público y luego la opción 2 – Solicitud de las aplicaciones de Gobierno " \
               "en línea." in one_line, kind
        assert '<a href="tel:+576015953595">+57 601 595 3595</a>' in html, kind
        assert '<a href="tel:018000910742">018000 91 0742</a>' in html, kind
        assert "+1 595 35 95" not in text + html


def test_the_ack_reminds_that_the_providers_own_recovery_comes_first(renderer):
    # Seed 000, step 1: the provider's self-service recovery before any request.
    for kind, text, html in every_email(renderer):
        said = "el primer paso es la recuperación que ofrece el proveedor del correo (los pasos publicados por Google)"
        assert (said in " ".join(text.split()) and said in html) is (kind == "ack"), kind


def test_one_anti_phishing_warning_per_email(renderer):
    for kind, text, html in every_email(renderer):
        assert len(ANTI_PHISHING.findall(text)) == 1, (kind, text)
        assert len(ANTI_PHISHING.findall(html)) == 1, (kind, html)


def test_names_take_their_article_and_contractions(renderer):
    for kind, text, html in every_email(renderer):
        one_line = " ".join(text.split())
        assert "comuníquese con el Equipo de Gobierno en línea" in one_line, kind
        for wrong in (" de el ", " a el ", "con Equipo", "de Alcaldía"):
            assert wrong not in one_line and wrong not in html, (kind, wrong)
    reset = [text for kind, text, _html in every_email(renderer) if kind == "reset"]
    assert any("radicado GEL-2026-000042 de la Alcaldía de Tuluá, reiniciamos" in t for t in reset)


@pytest.mark.parametrize("name, preposition, expected", [
    ("Alcaldía de Tuluá", "de", "de la Alcaldía de Tuluá"),
    ("CONCEJO MUNICIPAL DE BUGA", "de", "del CONCEJO MUNICIPAL DE BUGA"),
    ("Área Metropolitana del Valle de Aburrá", "de", "del Área Metropolitana del Valle de Aburrá"),
    ("Empresas Públicas de Medellín", "de", "de las Empresas Públicas de Medellín"),
    ("Municipio de Tuluá", "a", "al Municipio de Tuluá"),
    ("Equipo de Gobierno en línea", "con", "con el Equipo de Gobierno en línea"),
    ("Mesa de ayuda", "con", "con la Mesa de ayuda"),
    ("Tuluá", "de", "de Tuluá"),  # a bare place name takes no article
    ("El Carmen de Viboral", "de", "de El Carmen de Viboral"),  # its own article, not contracted
])
def test_with_article(name, preposition, expected):
    assert with_article(name, preposition) == expected


# -- Reply-To: answers go where the daemon reads --------------------------------


def reply_to_of(config: Config) -> str | None:
    renderer = Renderer(config)
    reply = renderer.build("ack", "a@b.gov.co", "GEL-2026-000001", {"original_subject": "x"}, answering=[])
    return reparse(reply.message)["Reply-To"]


def test_reply_to_carries_the_inbox_address_when_it_differs_from_from():
    smtp = SmtpConfig(from_address="soporteccc@entidad.gov.co", from_name="Mesa de ayuda")
    imap = InboxConfig(source="imap", username="soporte@entidad.gov.co")
    assert reply_to_of(Config(smtp=smtp, inbox=imap)) == "Mesa de ayuda <soporte@entidad.gov.co>"
    same = InboxConfig(source="imap", username="SoporteCCC@entidad.gov.co")
    assert reply_to_of(Config(smtp=smtp, inbox=same)) is None
    # An IMAP login that is not an address says nothing about where mail arrives.
    assert reply_to_of(Config(smtp=smtp, inbox=InboxConfig(source="imap", username="soporte"))) is None
    explicit = InboxConfig(source="imap", username="soporte", address="mesa@entidad.gov.co")
    assert reply_to_of(Config(smtp=smtp, inbox=explicit)) == "Mesa de ayuda <mesa@entidad.gov.co>"
    assert reply_to_of(Config(smtp=smtp)) is None  # a Maildir with no [inbox] address


def test_reply_to_from_inbox_address_on_a_maildir_end_to_end(tmp_path):
    env = Embedded(tmp_path, inbox={"address": "soporte@entidad.gov.co"})
    try:
        env.deliver(mails.request())
        env.run_once()
        raw = env.acks_raw()[0]
        ack = email.message_from_bytes(raw, policy=email.policy.default)
        assert ack["Reply-To"] == "Equipo de Gobierno en línea <soporte@entidad.gov.co>"
        assert ack["From"].addresses[0].addr_spec == mails.SUPPORT
        body = ack.get_body(("plain",)).get_content()
        assert "a través del correo electrónico soporte@entidad.gov.co" in " ".join(body.split())
    finally:
        env.daemon.close()
        env.store.close()


def test_inbox_address_must_be_an_address(tmp_path):
    path = write_config(tmp_path / "config.toml", embedded_sections(inbox={"address": "Mesa <a@b.gov.co>"}))
    with pytest.raises(ConfigError, match="inbox.address"):
        config_mod.load(path)


# -- the reset threads to the entity's own message, never a robot's -------------


def test_reset_answers_the_entitys_request_not_an_auto_reply_or_bounce(embedded, tmp_path):
    radicado = pending(embedded, tmp_path)
    request_id = embedded.store.one("SELECT message_id FROM messages WHERE direction = 'in'")[0]
    ack_raw, accepted_raw = embedded.sent_raw()
    out_of_office = mails.reply_to(accepted_raw)
    out_of_office = out_of_office.replace(b"Subject:", b"Auto-Submitted: auto-replied\r\nSubject:", 1)
    embedded.deliver(out_of_office)
    embedded.deliver(mails.bounce_of(ack_raw))
    embedded.run_once()
    robots = [r["message_id"] for r in embedded.store.query(
        "SELECT message_id FROM messages WHERE direction = 'in' AND kind != 'request' AND ticket_id IS NOT NULL")]
    assert len(robots) == 2  # both linked to the ticket, as staff should see them
    result = helpdesk(embedded, "approve", radicado, "--by", "Ana Pérez", "--yes")
    assert result.returncode == 0, result.stderr
    [reset] = [m for m in embedded.sent() if m["X-Helpdesk-Kind"] == "reset"]
    assert reset["In-Reply-To"] == f"<{request_id}>"
    assert all(robot not in reset["References"] for robot in robots)


# -- "too large": scan at a lower resolution -----------------------------------


def test_too_large_scan_is_told_to_scan_at_a_lower_resolution(embedded, tmp_path):
    files = documents(tmp_path, with_acta=False)
    files.append(("acta_posesion.png", docfiles.huge_image_png(30000, 30000), "image/png"))
    embedded.deliver(mails.request(attachments=files))
    embedded.run_once()
    [correction] = [m for m in embedded.sent() if m["X-Helpdesk-Kind"] == "correction"]
    text = " ".join(correction.get_body(("plain",)).get_content().split())
    assert "No pudimos leer el archivo «acta_posesion.png»: la imagen es demasiado grande; escanee el documento " \
           "de nuevo a menor resolución" in text
    assert "formato indicado" not in text


# -- helpdesk check renders every template ------------------------------------


def check_with_templates(tmp_path, edit) -> subprocess.CompletedProcess:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    edit(templates)
    env = Embedded(tmp_path / "h", replies={"templates": str(templates)})
    env.daemon.close()
    env.store.close()
    result = run_helpdesk("--config", env.config_path, "check", timeout=60)
    assert "Traceback" not in result.stdout + result.stderr
    return result


def test_check_renders_the_shipped_templates(tmp_path):
    result = check_with_templates(tmp_path, lambda templates: None)
    assert result.returncode == 0, result.stdout
    assert "generan cada correo con datos de ejemplo" in result.stdout


def test_check_names_a_template_that_fails_only_when_rendered(tmp_path):
    footer_lines = len((ROOT / "templates" / "_footer.txt.j2").read_text(encoding="utf-8").splitlines())

    def undefined_in_footer(templates):
        footer = templates / "_footer.txt.j2"
        footer.write_text(footer.read_text(encoding="utf-8") + "Fax: {{ support_fax }}\n", encoding="utf-8")

    result = check_with_templates(tmp_path / "a", undefined_in_footer)
    assert result.returncode == 1
    line = next(line for line in result.stdout.splitlines() if "FALLA plantillas" in line)
    # The included footer is named, at its own line, not the email that includes it.
    assert f"_footer.txt.j2:{footer_lines + 1}" in line and "support_fax" in line and "«ack»" in line

    def filter_error_in_reset(templates):
        # Compiles, and only the reset email (credentials) trips on it.
        (templates / "reset.html.j2").write_text("{{ credentials|sum(attribute='account') }}\n", encoding="utf-8")

    result = check_with_templates(tmp_path / "b", filter_error_in_reset)
    assert result.returncode == 1
    line = next(line for line in result.stdout.splitlines() if "FALLA plantillas" in line)
    assert "reset.html.j2:1" in line and "«reset»" in line and "TypeError" in line
