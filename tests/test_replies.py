"""Rendering: sandboxed Jinja2, strict variables, escaping in HTML only,
headers that cannot carry a line break."""

import email
import email.policy

import pytest
from jinja2 import UndefinedError
from jinja2.exceptions import SecurityError

from helpdesk.config import Config, SmtpConfig
from helpdesk.outgoing.replies import SMTP_POLICY, Renderer


@pytest.fixture
def renderer():
    return Renderer(Config(smtp=SmtpConfig(from_address="soporteccc@entidad.gov.co", from_name="Mesa de ayuda")))


def reparse(reply):
    return email.message_from_bytes(reply.message.as_bytes(policy=SMTP_POLICY), policy=email.policy.default)


def test_ack_escapes_html_but_not_text(renderer):
    reply = renderer.build("ack", "a@b.gov.co", "GEL-2026-000001",
                           {"original_subject": "<b>Tom & Jerry</b>"}, answering=[])
    msg = reparse(reply)
    assert "<b>Tom & Jerry</b>" in msg["Subject"]
    assert msg.get_body(("plain",)).get_content().count("GEL-2026-000001") >= 1
    escaped = renderer.env.get_template("_footer.html.j2").render(
        {**renderer.common_context(), "support_name": "<script>", "radicado": "R"})
    assert "&lt;script&gt;" in escaped and "<script>" not in escaped
    unescaped = renderer.env.get_template("_footer.txt.j2").render(
        {**renderer.common_context(), "support_name": "<script>", "radicado": "R"})
    assert "<script>" in unescaped


def test_undefined_variable_is_an_error(renderer):
    with pytest.raises(UndefinedError):
        renderer.env.from_string("{{ nada }}").render()


def test_sandbox_refuses_python_internals(renderer):
    with pytest.raises(SecurityError):
        renderer.env.from_string("{{ ''.__class__.__mro__[1].__subclasses__() }}").render()


def test_reply_headers(renderer):
    reply = renderer.build("ack", "a@b.gov.co", "GEL-2026-000007", {"original_subject": "x"},
                           answering=["pedido@b.gov.co"])
    msg = reparse(reply)
    assert msg["Subject"].startswith("[Radicado GEL-2026-000007]")
    assert msg["In-Reply-To"] == "<pedido@b.gov.co>"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Loop"] == "soporteccc@entidad.gov.co"
    assert msg["Message-ID"].endswith("@entidad.gov.co>")
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg.get_body(("plain",)).get_content_charset() == "utf-8"
    other = renderer.build("ack", "a@b.gov.co", "GEL-2026-000007", {"original_subject": "x"}, answering=[])
    assert other.message_id != reply.message_id


def test_line_breaks_in_ids_never_reach_headers(renderer):
    reply = renderer.build("ack", "a@b.gov.co", "GEL-2026-000001", {"original_subject": "x\r\nBcc: v@x.org"},
                           answering=["id@x\r\nBcc: v@x.org"])
    raw = reply.message.as_bytes(policy=SMTP_POLICY)
    assert b"\nBcc:" not in raw


def test_message_ids_and_mime_boundaries_are_not_drawn_from_random(renderer):
    # make_msgid and the generator's boundaries use `random` (Mersenne
    # Twister): its state leaks through the emails an attacker receives and
    # lets them predict the Message-ID of someone else's ack (issue 10).
    import random
    import re

    def build():
        random.seed(1234)
        reply = renderer.build("correction", "a@b.gov.co", "GEL-2026-000001",
                               {"problems": ["Falta el acta."], "no_attachments_reminder": False,
                                "legal_rep_email": ""},
                               answering=[], attachments=[("formato.xlsx", "application/octet-stream", b"PK")])
        raw = reply.message.as_bytes(policy=SMTP_POLICY)
        return reply.message_id, re.findall(rb'boundary="([^"]+)"', raw)

    (first_id, first_boundaries), (second_id, second_boundaries) = build(), build()
    assert first_id != second_id and first_id.endswith(".GEL-2026-000001@entidad.gov.co")
    assert len(first_boundaries) == 2 and not set(first_boundaries) & set(second_boundaries)
