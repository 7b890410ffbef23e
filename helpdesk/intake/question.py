"""A first message: a request (even an incomplete one) or a question for a person?

"¿Me pueden llamar?" with no attachment is not a password reset that lacks
three documents: answering it with a correction is a robot talking past a
person. A message like that opens a ticket that waits for staff (``queue``)
and gets a short ack saying that a person will answer; it is never examined,
so it gets no correction and no reminder. Documents sent later on the same
ticket are examined as usual.

The other error costs too: an incomplete request ("Adjunto el formato" with
the file forgotten) taken for a question waits for a person instead of
getting, at once, the list of what is missing. The signals and the rule
below were chosen by measurement on labelled mail (``bench/questions.py``,
README "Questions and incomplete requests"):

- a message with the procedure's fields is always a request (CONTRACT §9):
  a document attached, a forwarded email, or "Label: value" lines of the
  procedure's form: one for a procedure that reads them from the text
  (desbloqueo's "Usuario: jperez"), two for the others; contact lines
  ("Teléfono:", "Correo electrónico:") do not count, as signatures carry
  them;
- a sender who says they attach something ("adjunto", "anexamos") forgot
  the file: a request;
- a first-person request ("solicito", "necesitamos", "solicitud de") naming
  what the procedure is about (its name's words: reinicio, clave, cuenta,
  desbloqueo...) is a request unless it asks something ("?", "¿", "cómo",
  "quisiera saber"): then a person reads it;
- anything else is a question. When unsure, a person reads it.

``judge`` reads the message's body (intake reads only headers otherwise);
a large message that names files is a request without parsing it (a
question is a few lines, and parsing 700 KB of scans costs 30 ms).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..rules import DocumentRules, Procedure, normalise
from .message import Attachment, Intake

# An image this small, in a message, is a signature's logo or an inline
# picture, not a scanned document: the smallest page image the test suite
# draws (tests/docfiles.scan_png, 100 dpi, three lines of text) is 33 KB, a
# phone photo of a page 200 KB or more, while a signature logo is usually a
# few KB (not measured on real mail: a logo taken for a document only makes
# the message a request, as every message was before).
LOGO_BYTES = 30_000
# Above this size a message that names a file is taken for a request
# without reading its body (a question with a logo is under 100 KB).
LARGE_MESSAGE = 256 * 1024
FILE_MARKER = re.compile(rb"(?i)filename\*?=|content-disposition:\s*attachment")
# The daemon parses a first message's body only when its MIME tree is this
# small: parsing hostile MIME is the document worker's job, in its bounded
# process (a 3,000-deep nest of multiparts overflows the stdlib parser's
# stack). A question is text, or text and HTML, perhaps with a logo or two:
# a few boundaries. More is taken for a request, and the worker reads it.
MAX_BOUNDARIES = 8
BOUNDARY = re.compile(rb"(?i)boundary\s*=")

# "I attach": declarative forms only ("¿debo adjuntar...?" is a question),
# and "I send the form" (not "la solicitud que enviamos la semana pasada").
_ATTACHING = re.compile(r"\b(adjunto|adjunta|adjuntos|adjuntas|adjuntamos|adjuntan|anexo|anexamos|anexan|remito|"
                        r"remitimos|allego|allegamos|(envio|enviamos|van) adjunt\w*|"
                        r"(envio|enviamos|remito|remitimos) (el|la|los|las) (formato|formulario|acta|documento|"
                        r"archivo|anexo|cedula|declaracion|identificacion)\w*)\b")
# A first-person request, or the noun a request's subject starts with.
_REQUESTING = re.compile(r"\b(solicito|solicitamos|solicita|solicitud|requiero|requerimos|requiere|necesito|necesitamos|"
                         r"pido|pedimos|agradezco|agradecemos|agradeceria|agradeceriamos|favor|ruego|rogamos)\b")
# Asking: question marks, or how Spanish questions start without them.
_ASKING = re.compile(r"[?¿]|\b(como|cual|cuales|cuando|donde|cuanto|cuanta|quien|quisiera saber|quisiera consultar|"
                     r"me gustaria saber|queria saber|consulta|consultar|pregunta|duda|dudas|informacion sobre|"
                     r"es posible|se puede|pueden|podrian|podria)\b")
# What every account procedure is about, besides its own name's words:
# the words people use for a password and an account.
_ACCOUNT_WORDS = ("clave", "contrasena", "password", "cuenta", "usuario", "correo", "bloque", "acceso")
_STOPWORDS = frozenset({"de", "del", "la", "las", "los", "el", "y", "e", "o", "u", "en", "para", "por", "con", "a"})
# Contact lines a signature carries, which are also some forms' labels.
_CONTACT = re.compile(r"phone|telefono|celular|email")
_QUOTE = re.compile(r"(?m)^\s*>.*$")


@dataclass(frozen=True)
class Signals:
    """What the message shows, each a fact measured on its own."""

    documents: int  # attachments that can be documents (not forwards, not logos)
    forwarded: bool  # an email attached (message/rfc822)
    fields: tuple[str, ...]  # names of the form fields written as "Label: value" lines, contact lines left out
    reads_text: bool  # the procedure reads its form from such lines (fields_from_text)
    attaching: bool  # says it attaches something
    requesting: bool  # a request verb or the noun "solicitud"
    about: bool  # names what the procedure is about
    asking: bool  # asks something


@dataclass(frozen=True)
class Verdict:
    question: bool
    why: str  # Spanish, for staff (the event of the ticket)
    signals: Signals | None = None  # None: decided without reading the body


def judge(intake: Intake, procedure: Procedure, documents: DocumentRules) -> Verdict:
    """Whether the first message of a ticket is a question for a person."""
    if intake.truncated:
        return Verdict(False, "solo se leyeron los encabezados")
    if len(intake.raw) > LARGE_MESSAGE and FILE_MARKER.search(intake.raw):
        return Verdict(False, "trae archivos adjuntos")
    if len(BOUNDARY.findall(intake.raw, 0, LARGE_MESSAGE)) > MAX_BOUNDARIES:
        return Verdict(False, "su estructura la lee el examen de documentos")
    try:
        body, attachments = intake.body_text, intake.attachments
    except (RecursionError, MemoryError, ValueError, LookupError):  # hostile MIME the bound above let through
        return Verdict(False, "su estructura la lee el examen de documentos")
    return decide(read_signals(intake.subject, body, attachments, procedure, documents))


def decide(signals: Signals) -> Verdict:
    """The rule bench/questions.py measured (see the module's docstring)."""
    if signals.documents or signals.forwarded:
        return Verdict(False, "trae archivos adjuntos", signals)
    if len(signals.fields) >= (1 if signals.reads_text else 2):
        return Verdict(False, f"trae datos del formato ({', '.join(signals.fields)})", signals)
    if signals.attaching:
        return Verdict(False, "dice que adjunta documentos, pero no trae ninguno", signals)
    if signals.requesting and signals.about and not signals.asking:
        return Verdict(False, "pide el trámite, sin documentos", signals)
    return Verdict(True, "sin adjuntos ni datos del formato, y no pide el trámite", signals)


def read_signals(subject: str, body: str, attachments: list[Attachment], procedure: Procedure,
                 documents: DocumentRules) -> Signals:
    text = normalise(f"{subject}\n{_QUOTE.sub('', body)}")
    own = [a for a in attachments if a.content_type != "message/rfc822"]
    return Signals(
        documents=sum(1 for a in own if not _logo(a)),
        forwarded=len(own) < len(attachments),
        fields=tuple(procedure.form.fields[key].name for key in form_fields(body, procedure)
                     if not _is_contact(procedure, key)),
        reads_text=procedure.fields_from_text,
        attaching=bool(_ATTACHING.search(text)),
        requesting=bool(_REQUESTING.search(text)),
        about=bool(re.search(rf"\b({'|'.join(about_stems(procedure, documents))})", text)),
        asking=bool(_ASKING.search(text)),
    )


def form_fields(body: str, procedure: Procedure) -> tuple[str, ...]:
    """The procedure's form fields written as "Label: value" lines (the
    labels of its form.toml, accents, case and colons ignored)."""
    by_label: dict[str, str] = {}
    for rule in procedure.form.fields.values():
        for label in rule.labels:
            by_label.setdefault(label, rule.key)
    found: list[str] = []
    for line in _QUOTE.sub("", body).splitlines()[:400]:
        label, colon, value = line.partition(":")
        if not colon or len(label) > 60 or not value.strip():
            continue
        key = by_label.get(normalise(label.strip(" -*•>\t")))
        if key and key not in found:
            found.append(key)
    return tuple(found)


def about_stems(procedure: Procedure, documents: DocumentRules) -> tuple[str, ...]:
    """Word stems that say what the procedure is about: its name's words,
    its documents' names and the words for a password or an account (five
    letters of each, at the start of a word: "reinicio" finds "reiniciar",
    "claves" finds "clave")."""
    words = normalise(procedure.name).split()
    for kind in procedure.kinds:
        if kind in documents.kinds:
            words += normalise(documents.kinds[kind].name).split()
    stems = {w[:5] for w in words if w not in _STOPWORDS and len(w) >= 4}
    return tuple(re.escape(stem) for stem in sorted(stems | set(_ACCOUNT_WORDS)))


def _logo(attachment: Attachment) -> bool:
    return attachment.content_type.startswith("image/") and len(attachment.data) < LOGO_BYTES


def _is_contact(procedure: Procedure, key: str) -> bool:
    rule = procedure.form.fields[key]
    return rule.type == "email" or bool(_CONTACT.search(key))
