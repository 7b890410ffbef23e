"""Jinja2 templates -> ``EmailMessage`` ready for the outbox.

Each email kind has three templates in ``templates/``: ``KIND.subject.j2``,
``KIND.txt.j2`` and ``KIND.html.j2``. The environment is sandboxed (an edited
template cannot reach Python internals), undefined variables are errors,
and only the HTML part is autoescaped.

Header values are built from plain ``str`` with every control character
removed: copying a parsed header object into a reply can smuggle a ``Bcc:``
line into it on this Python (CVE-2024-6923).
"""

from __future__ import annotations

import email.policy
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from jinja2 import FileSystemLoader, StrictUndefined, TemplateSyntaxError, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from .config import Config
from .errors import ConfigError
from .message import address_header, clean_text, domain_of

# Every email kind (CONTRACT §5); each needs its three templates.
KINDS = ("ack", "correction", "accepted", "reset", "rejected")

# Kinds sent without a person deciding: RFC 3834 asks them to say so.
AUTOMATIC_KINDS = ("ack", "correction", "accepted")

# Outgoing policy: CRLF line ends, as SMTP wants, and a refusal to fold a
# header that carries a newline.
SMTP_POLICY = email.policy.SMTP.clone(max_line_length=998)


@dataclass(frozen=True)
class Reply:
    """One rendered email, before it is written to the outbox."""

    kind: str
    to: str
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return self.message["Message-ID"].strip("<>")


class Renderer:
    def __init__(self, config: Config):
        self.config = config
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader(str(config.templates_dir)),
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
        self._compile_all()

    def _compile_all(self) -> None:
        """Compile every template now, so a missing, unreadable or broken
        one stops the start or the reload instead of a message later."""
        folder = self.config.templates_dir
        present = set(self.env.list_templates(extensions=["j2"]))
        for kind in KINDS:
            for part in ("subject", "txt", "html"):
                if f"{kind}.{part}.j2" not in present:
                    raise ConfigError(f"{folder / f'{kind}.{part}.j2'}: falta la plantilla")
        for name in sorted(present):
            try:
                self.env.get_template(name)
            except TemplateSyntaxError as exc:
                raise ConfigError(f"{exc.filename or name}:{exc.lineno}: plantilla inválida: {exc.message}") from None
            except UnicodeDecodeError:
                raise ConfigError(f"{folder / name}: no está en UTF-8; guárdela con codificación UTF-8") from None
            except OSError as exc:
                raise ConfigError(f"{folder / name}: no se puede leer: {exc.strerror}") from None

    def render(self, kind: str, context: dict) -> tuple[str, str, str]:
        """(subject, text, html) of one kind."""
        context = {**self.common_context(), **context}
        subject = self.env.get_template(f"{kind}.subject.j2").render(context)
        text = self.env.get_template(f"{kind}.txt.j2").render(context)
        html = self.env.get_template(f"{kind}.html.j2").render(context)
        return clean_text(subject), text, html

    def common_context(self) -> dict:
        smtp = self.config.smtp
        return {
            "support_address": smtp.from_address,
            "support_name": smtp.from_name,
            "support_phone": self.config.replies.support_phone,
            "support_hotline": self.config.replies.support_hotline,
        }

    def build(self, kind: str, to: str, radicado: str, context: dict, answering: list[str],
              attachments: list[tuple[str, str, bytes]] = (), automatic: bool | None = None) -> Reply:
        """Render ``kind`` for ``to``; ``answering`` are the Message-IDs it replies to.

        ``attachments`` are (filename, MIME type, bytes) of our own making.
        ``automatic`` defaults by kind; a correction asked for by a staff
        member is not automatic (RFC 3834 marks only what no person wrote).
        """
        automatic = kind in AUTOMATIC_KINDS if automatic is None else automatic
        subject, text, html = self.render(kind, {"radicado": radicado, "automatic": automatic, **context})
        smtp = self.config.smtp
        msg = EmailMessage(policy=SMTP_POLICY)
        msg["From"] = address_header(smtp.from_name, smtp.from_address)
        msg["To"] = to
        tag = f"[Radicado {radicado}]"
        msg["Subject"] = subject if tag in subject else f"{tag} {subject}"
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(idstring=radicado, domain=domain_of(smtp.from_address))
        ids = [clean_text(i, 250) for i in answering if i]
        if ids:
            msg["In-Reply-To"] = f"<{ids[-1]}>"
            msg["References"] = " ".join(f"<{i}>" for i in ids[-10:])
        if automatic:
            msg["Auto-Submitted"] = "auto-replied"
            # Exchange and others honour this: no out-of-office back to us.
            msg["X-Auto-Response-Suppress"] = "All"
        msg["X-Loop"] = smtp.from_address
        msg["X-Helpdesk-Kind"] = kind
        msg["X-Helpdesk-Radicado"] = radicado
        msg.set_content(text)
        msg.add_alternative(html, subtype="html")
        for filename, mime, data in attachments:
            maintype, _sep, subtype = mime.partition("/")
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
        return Reply(kind=kind, to=to, message=msg)
