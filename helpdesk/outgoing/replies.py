"""Jinja2 templates -> the bytes of an email, ready for the outbox (compose.py).

Each email kind has three templates in ``templates/``: ``KIND.subject.j2``,
``KIND.txt.j2`` and ``KIND.html.j2``; a procedure's folder
(``templates/PROCEDURE/``) overrides any of them for its tickets, as every
procedure but the default does for its ``ack`` and ``accepted``, which say
what it asks for (tests/test_procedure_emails.py renders every kind of every
procedure against the documents it does not ask for). The environment is sandboxed (an edited
template cannot reach Python internals), undefined variables are errors,
and only the HTML part is autoescaped.

Header values are built from plain ``str`` with every control character
removed (copying a parsed header object into a reply could smuggle a
``Bcc:`` line into it on this Python, CVE-2024-6923), and compose.py
refuses a value with a line break.

When entities write to an address other than ``smtp.from_address`` (the
inbox is ``soporte@`` and mail leaves as ``soporteccc@``), every email
carries ``Reply-To`` with the inbox address, so an answer lands where the
daemon reads.

``SAMPLES`` holds, for each kind, the contexts its callers pass;
``Renderer.render_samples`` (run by ``helpdesk check``) renders every
template with them, so a template that fails only when rendered (an
undefined variable, a filter error) is named before a request meets it.
"""

from __future__ import annotations

import email.policy
import re
import secrets
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from jinja2 import (
    ChoiceLoader,
    FileSystemLoader,
    StrictUndefined,
    TemplateSyntaxError,
    UndefinedError,
    select_autoescape,
)
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from ..addresses import domain_of
from ..config import Config
from ..errors import ConfigError
from ..intake.message import clean_text
from . import compose
from .articles import with_article
from .template_cache import user_cache

# Every email kind (CONTRACT §5); each needs its three templates (PARTS).
# ``account_created`` and ``account_notice`` answer an account request
# (seed 002): the account with its temporary password to the official, and
# a notice without it to the office (and to the official of a modification
# or deletion).
# ``reset_link`` carries one single-use link per account instead of
# passwords ([reset] delivery = "link"); ``selfservice_link`` is the link a
# person asked for on the self-service page (no ticket, no radicado).
# ``account_unlocked``, ``email_change_confirm`` and ``email_changed_notice``
# answer those who cannot self-serve (procedures desbloqueo, cambio-correo).
KINDS = ("ack", "correction", "accepted", "reset", "rejected", "reply", "account_created", "account_notice",
         "reset_link", "selfservice_link", "account_unlocked", "email_change_confirm", "email_changed_notice",
         "email_change_pending", "password_changed", "correction_reminder", "withdrawn", "term_extended",
         "terms_digest")

# Kinds sent without a person deciding: RFC 3834 asks them to say so.
AUTOMATIC_KINDS = ("ack", "correction", "accepted")

# Which kinds a ticket of a procedure may receive: those of every ticket,
# and those of its action (rules.ACTIONS). The rest belong to no procedure
# (a self-service link, a password-change notice from the web page, the
# staff's digest) and are never rendered with a procedure's templates.
# ``ack`` with ``question`` set is the ack of a first message that is a
# question (intake/question.py): a person will answer it.
TICKET_KINDS = ("ack", "correction", "accepted", "rejected", "reply", "correction_reminder", "withdrawn",
                "term_extended")
ACTION_KINDS = {
    "reset": ("reset", "reset_link"),
    "account": ("account_created", "account_notice"),
    "unlock": ("account_unlocked",),
    "change_email": ("email_change_confirm", "email_change_pending", "email_changed_notice"),
}
PROCEDURELESS_KINDS = ("selfservice_link", "password_changed", "terms_digest")

# Outgoing emails parsed back (Reply.message, the outbox's readers): CRLF
# line ends, as SMTP wants, and lines up to RFC 5322's 998 bytes.
SMTP_POLICY = email.policy.SMTP.clone(max_line_length=998)

SAMPLE_RADICADO = "GEL-2026-000042"
_CORRECTION = {"problems": ["Falta la copia del acta de posesión del representante legal (PDF o imagen)."],
               "no_attachments_reminder": False, "legal_rep_email": ""}
# The contexts each kind's callers pass (pipeline, examination, staff),
# with the optional values both filled and empty.
SAMPLES: dict[str, list[dict]] = {
    "ack": [{"original_subject": "Solicitud de reinicio de claves", "due_date": "28 de diciembre de 2026",
             "deadline_days": 15, "question": False},
            {"original_subject": "", "due_date": "", "deadline_days": 15, "question": False},
            # a first message that is a question (intake/question.py)
            {"original_subject": "¿Me pueden llamar?", "due_date": "28 de diciembre de 2026", "deadline_days": 15,
             "question": True},
            {"original_subject": "", "due_date": "", "deadline_days": 15, "question": True}],
    "correction": [
        {**_CORRECTION, "automatic": True},
        {**_CORRECTION, "automatic": True, "no_attachments_reminder": True},
        # helpdesk correct: a person's reason, not automatic.
        {**_CORRECTION, "automatic": False, "reason": "El acta no corresponde al alcalde actual."},
    ],
    "accepted": [{"problems": [], "no_attachments_reminder": False, "legal_rep_email": "despacho@tulua.gov.co"},
                 {"problems": [], "no_attachments_reminder": False, "legal_rep_email": ""}],
    "reset": [
        {"legal_rep_name": "María Pérez", "entity_name": "Alcaldía de Tuluá", "automatic": False,
         "credentials": [{"type": "Correo electrónico", "account": "contactenos@tulua.gov.co",
                          "password": "Abcd-Efgh-Jkmn-Pqrs"},
                         {"type": "Usuario de página web", "account": "admin.web",
                          "password": "Tuvw-Xyz2-3456-789a"}]},
        {"legal_rep_name": "", "entity_name": "", "automatic": False,
         "credentials": [{"type": "Correo electrónico", "account": "a@b.gov.co", "password": "Abcd-Efgh-Jkmn-Pqrs"}]},
    ],
    "rejected": [{"reason": "La solicitud no corresponde a una entidad pública.", "problems": [],
                  "no_attachments_reminder": False, "legal_rep_email": "", "automatic": False}],
    # helpdesk reply: a staff member's own words, several lines.
    "reply": [{"message": "Recibimos su mensaje.\nLa solicitud sigue en revisión.", "automatic": False}],
    "account_created": [{"official_name": "Juan Pérez", "office_name": "Secretaría de Hacienda",
                         "account": "jperez@putumayo.gov.co", "password": "Abcd-Efgh-Jkmn-Pqrs", "automatic": False},
                        {"official_name": "", "office_name": "", "account": "a@b.gov.co",
                         "password": "Abcd-Efgh-Jkmn-Pqrs", "automatic": False}],
    "account_notice": [{"official_name": "Juan Pérez", "office_name": "Secretaría de Hacienda",
                        "account": "jperez@putumayo.gov.co", "action": action, "changes": changes,
                        "for_office": for_office, "automatic": False}
                       for action in ("create", "modify", "delete", "disable")
                       for changes in ("Cambio de cargo", "") for for_office in (True, False)],
    "reset_link": [{"legal_rep_name": "María Pérez", "entity_name": "Alcaldía de Tuluá", "automatic": False, "hours": 2,
                    "links": [{"type": "Correo electrónico", "account": "contactenos@tulua.gov.co",
                               "url": "https://claves.entidad.gov.co/r/EJEMPLO"}]},
                   {"legal_rep_name": "", "entity_name": "", "automatic": False, "hours": 1.5, "links": []}],
    "selfservice_link": [{"account": "jperez", "url": "https://claves.entidad.gov.co/r/EJEMPLO", "hours": 2,
                          "automatic": True}],
    "account_unlocked": [{"person_name": "Juan Pérez", "account": "jperez", "automatic": False,
                          "recovery_url": "https://claves.entidad.gov.co/recuperar"},
                         {"person_name": "", "account": "jperez", "automatic": False, "recovery_url": ""}],
    "email_change_confirm": [{"person_name": "Juan Pérez", "account": "jperez", "automatic": False, "hours": 2,
                              "url": "https://claves.entidad.gov.co/r/EJEMPLO", "apply_at": "08/12/2026 14:05"},
                             {"person_name": "", "account": "jperez", "automatic": False, "hours": 1.5,
                              "url": "https://claves.entidad.gov.co/r/EJEMPLO", "apply_at": ""}],
    # The old address of a change of registered email (CONTRACT §13): the
    # new one masked, when it may apply, the cancel link.
    # A password set through a link or self-service, told to the registered
    # address (CONTRACT 13, web/notice.py); a ticket's link has its radicado.
    "password_changed": [{"account": "jperez@entidad.gov.co", "when": "07/12/2026 14:05", "automatic": True,
                          "recovery_url": "https://claves.entidad.gov.co/recuperar"},
                         {"account": "jperez", "when": "07/12/2026 14:05", "automatic": True, "recovery_url": ""}],
    "email_change_pending": [{"person_name": "Juan Pérez", "account": "jperez", "automatic": False,
                              "new_email_masked": "j*****@gmail.com", "apply_at": "08/12/2026 14:05",
                              "url": "https://claves.entidad.gov.co/cancelar/EJEMPLO"},
                             {"person_name": "", "account": "jperez", "automatic": False,
                              "new_email_masked": "j*****@gmail.com", "apply_at": "",
                              "url": "https://claves.entidad.gov.co/cancelar/EJEMPLO"}],
    "email_changed_notice": [{"account": "jperez", "automatic": False}],
    # The legal terms (CONTRACT 12, helpdesk/terms/): the reminder before
    # the correction month ends, the tacit withdrawal after it, an
    # extension (helpdesk extend) and the staff's daily digest (no radicado).
    "correction_reminder": [{"asked_on": "4 de diciembre de 2026", "limit": "4 de enero de 2027",
                             "withdrawal_months": 1, "automatic": False}],
    "withdrawn": [{"asked_on": "4 de diciembre de 2026", "limit": "4 de enero de 2027", "withdrawal_months": 1,
                   "automatic": False}],
    "term_extended": [{"previous_due": "28 de diciembre de 2026", "new_due": "19 de enero de 2027", "days": 15,
                       "reason": "La cuenta depende de un proveedor externo que responde en enero.",
                       "automatic": False},
                      # the requester's extra month to correct (art. 17), helpdesk extend --correction-month
                      {"previous_due": "4 de enero de 2027", "new_due": "4 de febrero de 2027", "days": 0,
                       "reason": "La entidad pidió más tiempo para conseguir el acta.", "correction": True,
                       "automatic": False}],
    "terms_digest": [{"day": "lunes 28 de diciembre de 2026", "warn_days": 3, "overdue": 1, "automatic": False,
                      "tickets": [{"radicado": "GEL-2026-000042", "state": "pendiente de aprobación",
                                   "procedure": "reinicio-claves", "entity": "Alcaldía de Tuluá",
                                   "due": "23 de diciembre de 2026", "left": -2, "overdue": True,
                                   "standing": "vencida hace 2 días hábiles (venció el 23 de diciembre de 2026)"}]},
                     {"day": "lunes 28 de diciembre de 2026", "warn_days": 3, "overdue": 0, "automatic": False,
                      "tickets": []}],
}


@dataclass(frozen=True)
class Reply:
    """One rendered email, before it is written to the outbox."""

    kind: str
    to: str
    subject: str
    message_id: str  # without angle brackets
    raw: bytes  # CRLF line ends, as it goes to the SMTP server

    @property
    def message(self) -> EmailMessage:
        """The email parsed back, for whoever reads its parts."""
        return email.message_from_bytes(self.raw, policy=SMTP_POLICY)


PARTS = ("subject", "txt", "html")


def _template_names(folder: Path) -> set[str]:
    try:
        return {p.name for p in folder.iterdir() if p.name.endswith(".j2")}
    except OSError:
        return set()


class Renderer:
    def __init__(self, config: Config):
        self.config = config
        folder = config.templates_dir
        shipped = config.shipped_templates_dir
        # A custom folder ([replies] templates) made before an upgrade lacks
        # the kinds added since (``reply``): those come from the package, all
        # three parts, instead of the service refusing to start. A kind the
        # folder has only some parts of is a mistake, refused below.
        present = _template_names(folder)
        self.shipped_kinds = () if folder == shipped else tuple(
            kind for kind in KINDS if not any(f"{kind}.{part}.j2" in present for part in PARTS))
        loaders = [FileSystemLoader(str(folder))]
        if self.shipped_kinds:
            loaders.append(FileSystemLoader(str(shipped)))
        self.env = SandboxedEnvironment(
            loader=ChoiceLoader(loaders),
            undefined=StrictUndefined,
            # "html.j2" must be listed: select_autoescape(["html"]) does not
            # match "x.html.j2" (LIBRARY_NOTES).
            autoescape=select_autoescape(["html", "html.j2"], default_for_string=False, default=False),
            keep_trailing_newline=True,
            # Templates change only when the daemon is told (SIGHUP), never
            # half-way through an edit: all are compiled here, once.
            auto_reload=False,
            cache_size=-1,
        )
        self.env.filters["with_article"] = with_article
        self.env.filters["tel"] = tel_uri
        self.env.bytecode_cache = user_cache(self.env)
        self._compile_all()

    def _compile_all(self) -> None:
        """Compile every template now, so a missing, unreadable or broken
        one stops the start or the reload instead of a message later."""
        folder = self.config.templates_dir
        present = set(self.env.list_templates(extensions=["j2"]))
        own = _template_names(folder)
        for kind in KINDS:
            for part in PARTS:
                name = f"{kind}.{part}.j2"
                if name not in (present if kind in self.shipped_kinds else own):
                    raise ConfigError(f"{folder / name}: falta la plantilla")
        for name in sorted(present):
            try:
                self.env.get_template(name)
            except TemplateSyntaxError as exc:
                raise ConfigError(f"{exc.filename or name}:{exc.lineno}: plantilla inválida: {exc.message}") from None
            except UnicodeDecodeError:
                raise ConfigError(f"{folder / name}: no está en UTF-8; guárdela con codificación UTF-8") from None
            except OSError as exc:
                raise ConfigError(f"{folder / name}: no se puede leer: {exc.strerror}") from None

    def render(self, kind: str, context: dict, procedure: str = "") -> tuple[str, str, str]:
        """(subject, text, html) of one kind; each part from the procedure's
        own folder (``templates/PROCEDURE/``) when it overrides that part."""
        context = {**self.common_context(), **context}
        subject, text, html = (self.template(kind, part, procedure).render(context) for part in PARTS)
        return clean_text(subject), text, html

    def template(self, kind: str, part: str, procedure: str = ""):
        names = [f"{procedure}/{kind}.{part}.j2"] if procedure else []
        return self.env.select_template([*names, f"{kind}.{part}.j2"])

    def render_samples(self) -> None:
        """Render every kind's templates with ``SAMPLES``; raise ConfigError
        naming the template (and its line) that fails."""
        overridden = {name for name in self.env.list_templates(extensions=["j2"]) if "/" in name}
        for kind in KINDS:
            for context in samples(kind):
                for part in PARTS:
                    values = {**self.common_context(), "radicado": SAMPLE_RADICADO,
                              "automatic": kind in AUTOMATIC_KINDS, **context}
                    base = f"{kind}.{part}.j2"
                    for name in [base, *sorted(n for n in overridden if n.endswith("/" + base))]:
                        try:
                            self.env.get_template(name).render(values)
                        except Exception as exc:  # whatever a template raises, name it
                            raise ConfigError(f"{_failing_template(exc, self.config.templates_dir / name)}: "
                                              f"la plantilla falla al generar el correo «{kind}» con datos de "
                                              f"ejemplo: {_why(exc)}") from None

    def common_context(self) -> dict:
        smtp, replies = self.config.smtp, self.config.replies
        return {
            # Where entities write: the inbox when it is known, else From.
            "support_address": self.config.inbox_address or smtp.from_address,
            "support_name": smtp.from_name,
            "support_phone": replies.support_phone,
            "support_phone_city": replies.support_phone_city,
            "support_hotline": replies.support_hotline,
            "support_phone_menu": list(replies.support_phone_menu),
        }

    def build(self, kind: str, to: str, radicado: str, context: dict, answering: list[str],
              attachments: list[tuple[str, str, bytes]] = (), automatic: bool | None = None,
              procedure: str = "") -> Reply:
        """Render ``kind`` for ``to``; ``answering`` are the Message-IDs it replies to.
        ``procedure``: the ticket's, whose templates/PROCEDURE/ may override.

        ``attachments`` are (filename, MIME type, bytes) of our own making.
        ``automatic`` defaults by kind; a correction asked for by a staff
        member is not automatic (RFC 3834 marks only what no person wrote).
        """
        automatic = kind in AUTOMATIC_KINDS if automatic is None else automatic
        subject, text, html = self.render(kind, {"radicado": radicado, "automatic": automatic, **context}, procedure)
        smtp = self.config.smtp
        from_name = clean_text(smtp.from_name, 200)
        headers = [("From", compose.address(from_name, smtp.from_address)), ("To", compose.address("", to))]
        inbox = self.config.inbox_address
        if inbox and inbox.lower() != smtp.from_address.lower():
            headers.append(("Reply-To", compose.address(from_name, inbox)))
        # A self-service email belongs to no ticket: no radicado to tag.
        tag = f"[Radicado {radicado}]" if radicado else ""
        subject = subject if tag in subject else f"{tag} {subject}"
        mid = message_id(radicado, domain_of(smtp.from_address))
        headers += [("Subject", subject), ("Date", formatdate(localtime=False)), ("Message-ID", mid)]
        ids = [clean_text(i, 250) for i in answering if i]
        if ids:
            headers.append(("In-Reply-To", f"<{ids[-1]}>"))
            headers.append(("References", " ".join(f"<{i}>" for i in ids[-10:])))
        if automatic:
            headers.append(("Auto-Submitted", "auto-replied"))
            # Exchange and others honour this: no out-of-office back to us.
            headers.append(("X-Auto-Response-Suppress", "All"))
        headers += [("X-Loop", smtp.from_address), ("X-Helpdesk-Kind", kind)]
        if radicado:
            headers.append(("X-Helpdesk-Radicado", radicado))
        raw = compose.message(headers, text, html, attachments)
        return Reply(kind=kind, to=to, subject=subject, message_id=mid.strip("<>"), raw=raw)


# What an email may repeat of what an entity wrote (a subject, a cell, a
# file name): a short excerpt without links. Anyone can write to the desk
# with a victim's address as Reply-To; quoting their text in full would
# relay a phishing message signed by the helpdesk.
ECHO_CHARS = 60
_LINK = re.compile(r"(?i)\b(?:[a-z][a-z0-9+.-]*://|www\.)\S*|\S+\.[a-z]{2,}/\S*")


def entity_excerpt(text: str, limit: int = ECHO_CHARS) -> str:
    """A short, link-free, one-line excerpt of entity-written text for an email."""
    line = clean_text(_LINK.sub("[enlace omitido]", str(text or "")))
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def message_id(radicado: str, domain: str) -> str:
    """A Message-ID nobody can predict. ``email.utils.make_msgid`` draws from
    ``random`` (Mersenne Twister), whose state leaks through the IDs and
    MIME boundaries of the emails an attacker receives: predicted IDs let a
    stranger's reply thread into someone else's ticket."""
    return f"<{secrets.token_urlsafe(24)}{'.' + radicado if radicado else ''}@{domain}>"


def samples(kind: str) -> list[dict]:
    """Sample contexts of ``kind``; a kind with none of its own (added with
    its templates but not here yet) gets every variable the others use."""
    if kind in SAMPLES:
        return SAMPLES[kind]
    merged: dict = {}
    for contexts in SAMPLES.values():
        for context in contexts:
            merged.update(context)
    return [merged]


def tel_uri(number: object) -> str:
    """``tel:`` link of a phone number as written: "+57 601 595 3595" ->
    "tel:+576015953595" (RFC 3966 keeps only digits and a leading "+")."""
    text = str(number or "").strip()
    return "tel:" + ("+" if text.startswith("+") else "") + re.sub(r"\D", "", text)


def _failing_template(exc: BaseException, default) -> str:
    """"path:line" of the innermost template frame in the traceback (an
    included footer, say), else the template that was rendered."""
    where = str(default)
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            where = f"{filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


def _why(exc: BaseException) -> str:
    if isinstance(exc, UndefinedError):
        return f"variable no definida ({exc})"
    if isinstance(exc, SecurityError):
        return f"operación no permitida ({exc})"
    return f"{type(exc).__name__}: {exc}"
