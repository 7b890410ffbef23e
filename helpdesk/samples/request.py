"""A complete sample request and its flawed variants, as emails to send.

Staff try the desk against their own test mailbox with what an entity
sends: the signed form scanned (an image-only PDF), the Excel form and the
acta de posesión scanned (a JPEG), all filled in for one fictitious
municipality. Each variant changes one thing and is named for what it must
trigger, so that the answer in the mailbox can be checked against it.

They are written as .eml files rather than sent: a staff member opens one
in a mail client and sends it from the mailbox an entity would write from
(no SMTP credentials here, and a message sent from the desk's own address
would be ignored as our own). ``X-Unsent: 1`` makes Outlook open the file
as a message ready to send; Thunderbird's "Edit as new message" does the
same. Each variant's documents are also written beside it, for webmails,
which open no .eml.

Five variants, because each request gets two automatic replies (the ack
and the verdict) and ``[replies] daily_cap_per_sender`` (10 by default)
would silence a sixth from the same sender that day.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from .. import nit
from ..addresses import domain_of
from .capture import Capture
from .documents import Entity, scan
from .excel import XLSX, filled_form

# A fictitious municipality whose papers are all in order.
SAMPLE = Entity(
    name="Alcaldía de San Isidro", nit="890980040-8", department="Antioquia", municipality="San Isidro",
    person="María Fernanda Gómez Ruiz", role="Alcaldesa municipal", doc_number="43123456",
    email="despacho@sanisidro-antioquia.gov.co", phone="6045551234",
    accounts=(("Correo electrónico", "contactenos@sanisidro-antioquia.gov.co"),
              ("Correo electrónico", "tesoreria@sanisidro-antioquia.gov.co")))
# Who the flawed acta names instead of the representative.
OTHER_PERSON = "Pedro Antonio Pérez Castaño"
# One seed for every variant: they share the layout and differ only in their flaw.
SEED = "muestra"
# An office scanner at 200 dpi, grey, without sensor noise. Measured on
# these samples (issue 25): at 150 dpi with noise the values printed inside
# the form's cell borders read as "Alca" or not at all (confidence 0-60);
# at 200 dpi from a clean scanner every value of 1.1 and 1.2 reads at
# confidence 93-97, in about 2 s a page, and the files are 240 KB.
SCANNER = Capture(dpi=200, colour=False, fmt="pdf", quality=85)


def wrong_check_digit(value: str) -> str:
    """``value``'s NIT with a check digit other than the right one."""
    number = value.partition("-")[0]
    return f"{number}-{(nit.check_digit(number) + 1) % 10}"


@dataclass(frozen=True)
class Variant:
    """One sample: its name (the file's), what it has, and what it must trigger."""

    name: str
    title: str  # what it is, for the subject
    kind: str  # the X-Helpdesk-Kind of the verdict it must get: "accepted" or "correction"
    code: str  # the problem (correction) or staff warning (accepted) it must carry; "" for none
    expected: str  # what staff should see, in Spanish
    signature: str = "scribble"  # on the scanned form (samples.documents.draw_form)
    excel: bool = True
    nit: str = ""  # the NIT written on both forms, if not the sample's
    acta_person: str = ""  # who the acta names, if not the representative

    def entity(self) -> Entity:
        return replace(SAMPLE, nit=self.nit) if self.nit else SAMPLE


VARIANTS = (
    Variant("1-completa", "completa", "accepted", "",
            "respuesta «aceptada»: documentos completos; la solicitud queda en la cola del personal"),
    Variant("2-formato-sin-firma", "formato sin firma", "correction", "signed_form_unsigned",
            "corrección: el formato escaneado no tiene firma", signature="none"),
    Variant("3-sin-excel", "sin el formato en Excel", "correction", "missing_excel_form",
            "corrección: falta el formato en Excel", excel=False),
    Variant("4-nit-errado", "NIT con dígito de verificación errado", "correction", "invalid_nit",
            "corrección: el dígito de verificación del NIT no corresponde", nit=wrong_check_digit(SAMPLE.nit)),
    Variant("5-acta-de-otra-persona", "acta de posesión de otra persona", "accepted", "legal_rep_not_in_acta",
            "respuesta «aceptada»; el personal ve la advertencia de que el acta no nombra a la representante legal",
            acta_person=OTHER_PERSON),
)


def attachments(variant: Variant) -> list[tuple[str, bytes, str]]:
    """The variant's documents: (file name, bytes, MIME type)."""
    e = variant.entity()
    form = scan("form", e, SCANNER, SEED, "Formato solicitud firmado", signature=variant.signature)
    acta = scan("acta", e, replace(SCANNER, fmt="jpeg"), SEED, "Acta de posesión", person=variant.acta_person or None)
    files = [form.attachment()]
    if variant.excel:
        files.append(("Formato solicitud diligenciado.xlsx", filled_form(e.form_values(), e.accounts), XLSX))
    files.append(acta.attachment())
    return files


def default_sender() -> str:
    """The systems office of the sample's municipality."""
    return f"sistemas@{domain_of(SAMPLE.email)}"


def message(variant: Variant, to: str, sender: str, files: list[tuple[str, bytes, str]]) -> EmailMessage:
    """The request as the entity's systems office writes it, ``files`` attached."""
    e = variant.entity()
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = f"Solicitud de reinicio de clave ({variant.name}: {variant.title})"
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=domain_of(sender))
    msg["X-Unsent"] = "1"  # Outlook opens it as a message ready to send
    accounts = " y ".join(account for _kind, account in e.accounts)
    names = ", ".join(name for name, _data, _mime in files)
    msg.set_content(
        f"Buenos días:\n\nLa {e.name} solicita el reinicio de la clave de {accounts}. "
        f"Adjuntamos: {names}.\n\nCordialmente,\nOficina de Sistemas\n{e.name}\n\n"
        f"-- \nSolicitud de prueba de «helpdesk sample-request» ({variant.name}). "
        f"Lo que debe recibir: {variant.expected}.\n")
    for filename, data, mime in files:
        maintype, subtype = mime.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


@dataclass(frozen=True)
class Written:
    variant: Variant
    eml: Path
    folder: Path  # the documents, one file each


def write_all(target: Path, to: str, sender: str) -> list[Written]:
    """Every variant into ``target``: NAME.eml, the folder NAME/ with its
    documents, and LEAME.txt saying what each must trigger."""
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for variant in VARIANTS:
        files = attachments(variant)
        eml = target / f"{variant.name}.eml"
        eml.write_bytes(message(variant, to, sender, files).as_bytes())
        folder = target / variant.name
        folder.mkdir(exist_ok=True)
        for filename, data, _mime in files:
            (folder / filename).write_bytes(data)
        written.append(Written(variant, eml, folder))
    (target / "LEAME.txt").write_text(readme(to), encoding="utf-8")
    return written


def readme(to: str) -> str:
    lines = [f"Solicitudes de prueba para {to}, escritas por «helpdesk sample-request».", "",
             "Envíe cada archivo .eml desde su programa de correo (Outlook lo abre listo para enviar; en "
             "Thunderbird: «Editar como nuevo mensaje»), o adjunte a mano los documentos de su carpeta.", "",
             "Lo que cada una debe recibir:"]
    lines += [f"  {v.name}.eml: {v.expected}" + (f" ({v.code})" if v.code else "") for v in VARIANTS]
    return "\n".join(lines) + "\n"
