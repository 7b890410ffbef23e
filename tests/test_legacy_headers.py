"""Mail from old clients: raw 8-bit bytes in headers decode as UTF-8 when
valid, else as windows-1252, and never become U+FFFD. Each message is
written byte for byte as Outlook 2000, Netscape 4 or Eudora sent it and
goes through the real intake path (Maildir, pipeline, examination)."""

import json
from email.utils import getaddresses

from helpdesk.config import LimitsConfig
from helpdesk.demo import scan_pdf
from helpdesk.intake.message import parse

from . import forms, mails
from .conftest import run_helpdesk
from .test_e2e_documents import XLSX
from .test_staff import LEGAL_REP

REPLACEMENT = "\ufffd"


def shown(env, radicado: str) -> dict:
    result = run_helpdesk("--config", env.config_path, "show", radicado, "--json", timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_outlook_2000_windows_1252_headers_and_attachment_names(embedded, tmp_path):
    raw = mails.legacy_request(
        mails.OUTLOOK_2000,
        f'"Alcaldía de Tuluá – Sistemas" <{mails.ENTITY}>',
        "Solicitud reinicio contraseña – Alcaldía de Tuluá",
        attachments=[
            ("formato firmado.pdf", scan_pdf(["FORMATO DE SOLICITUD", "Firma"]), "application/pdf"),
            ("Formato solicitud diligenciado.xlsx", forms.filled_template(tmp_path), XLSX),
            ("acta posesión señor alcalde.pdf", scan_pdf(["ACTA DE POSESIÓN"]), "application/pdf"),
        ],
    )
    assert "contraseña".encode("cp1252") in raw and "posesión".encode("cp1252") in raw  # raw 8-bit, no RFC 2047
    embedded.deliver(raw)
    [outcome] = embedded.run_once()
    ticket = shown(embedded, outcome.radicado)
    assert ticket["subject"] == "Solicitud reinicio contraseña – Alcaldía de Tuluá"
    assert "acta posesión señor alcalde.pdf" in [d["filename"] for d in ticket["documents"]]
    assert ticket["state"] == "pending_approval"  # the documents were read and classified
    assert REPLACEMENT not in json.dumps(ticket, ensure_ascii=False)
    [ack] = embedded.acks()
    assert "Solicitud reinicio contraseña – Alcaldía de Tuluá" in ack["Subject"]
    assert parse(raw, LimitsConfig()).header("from") == f"Alcaldía de Tuluá – Sistemas <{mails.ENTITY}>"
    assert ticket["legal_rep_email"] == LEGAL_REP


def test_raw_utf8_headers_decode_as_utf8_not_windows_1252(embedded):
    raw = mails.legacy_request(mails.NETSCAPE_4, f'"Gobernación del Cauca" <{mails.ENTITY}>',
                               "Reinicio de contraseña – Gobernación", charset="utf-8")
    embedded.deliver(raw)
    [outcome] = embedded.run_once()
    ticket = shown(embedded, outcome.radicado)
    assert ticket["subject"] == "Reinicio de contraseña – Gobernación"  # not "contraseÃ±a"
    assert parse(raw, LimitsConfig()).header("from") == f"Gobernación del Cauca <{mails.ENTITY}>"


def test_netscape_4_latin1_subject_and_display_name(embedded):
    raw = mails.legacy_request(mails.NETSCAPE_4, f"Personería de Tuluá <{mails.ENTITY}>",
                               "Solicitud reinicio contraseña", charset="iso-8859-1")
    embedded.deliver(raw)
    [outcome] = embedded.run_once()
    assert shown(embedded, outcome.radicado)["subject"] == "Solicitud reinicio contraseña"
    assert parse(raw, LimitsConfig()).header("from") == f"Personería de Tuluá <{mails.ENTITY}>"
    [ack] = embedded.acks()
    assert ack["To"] == mails.ENTITY


def test_eudora_encoded_words_holding_raw_bytes_or_a_wrong_charset(embedded):
    # Eudora copied typed text into encoded words without escaping it:
    # windows-1252 bytes in a word that says us-ascii, UTF-8 bytes in one
    # that says iso-8859-1, and a word whose charset is unknown.
    subject = (b"=?us-ascii?Q?Solicitud_de_reinicio_contrase\xf1a?= "
               b"=?iso-8859-1?Q?_Alcald\xc3\xada_de_Tulu=E1?= =?x-unknown?Q?_-_Tesorer=EDa?=")
    sender = b'"=?iso-8859-1?Q?Jos\xe9_Pe=F1a?=" <' + mails.ENTITY.encode() + b">"
    raw = mails.legacy_request(mails.EUDORA, sender, subject, charset="iso-8859-1",
                               attachments=[(b'=?iso-8859-1?Q?acta_posesi\xf3n.pdf?=',
                                             scan_pdf(["ACTA DE POSESIÓN"]), "application/pdf")])
    embedded.deliver(raw)
    [outcome] = embedded.run_once()
    ticket = shown(embedded, outcome.radicado)
    assert ticket["subject"] == "Solicitud de reinicio contraseña Alcaldía de Tuluá - Tesorería"
    assert [d["filename"] for d in ticket["documents"]] == ["acta posesión.pdf"]
    assert REPLACEMENT not in json.dumps(ticket, ensure_ascii=False)
    assert parse(raw, LimitsConfig()).header("from") == f"José Peña <{mails.ENTITY}>"
    assert ticket["sender"] == mails.ENTITY


def test_outlook_windows_1252_labelled_iso_8859_1(embedded):
    # Outlook wrote windows-1252 text in words labelled iso-8859-1: =96 is
    # an en dash and =93/=94 quotes there, not invisible C1 controls.
    subject = b"=?iso-8859-1?Q?Reinicio_de_contrase=F1a_=96_=93urgente=94?="
    raw = mails.legacy_request(mails.OUTLOOK_2000, f"<{mails.ENTITY}>", subject)
    embedded.deliver(raw)
    [outcome] = embedded.run_once()
    assert shown(embedded, outcome.radicado)["subject"] == "Reinicio de contraseña – “urgente”"


def test_decoded_quote_in_a_repaired_display_name_cannot_add_an_address():
    # An encoded word that needed repair is rewritten as an encoded word:
    # a '"' or '<' inside it stays text and never becomes a second address.
    sender = b"=?iso-8859-1?Q?Alcald\xeda_=22_=3Cotro@atacante.example=3E?= <" + mails.ENTITY.encode() + b">"
    raw = mails.legacy_request(mails.EUDORA, sender, "Solicitud")
    intake = parse(raw, LimitsConfig())
    assert intake.sender == mails.ENTITY
    assert getaddresses([intake.header("from")]) == [("Alcaldía \" <otro@atacante.example>", mails.ENTITY)]
