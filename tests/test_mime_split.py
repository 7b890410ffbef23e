"""mime_split builds the feed parser's tree for plainly shaped messages, and
declines (None) every shape where the two could differ."""

from __future__ import annotations

import email

import pytest

from helpdesk.intake import message, mime_split
from helpdesk.intake.header_bytes import POLICY

from . import mails
from .test_e2e_documents import documents


def shape(msg):
    """Everything of a parsed tree the examination can read: each part's
    headers as received, its type, its payload string or its subparts."""
    node = (msg.get_content_type(), [(name, str(value)) for name, value in msg.raw_items()])
    if msg.is_multipart():
        return (*node, [shape(part) for part in msg.get_payload()])
    return (*node, msg.get_payload())


def both(raw: bytes):
    return mime_split.parse(raw, POLICY), email.message_from_bytes(raw, policy=POLICY)


def assert_same(raw: bytes) -> None:
    fast, slow = both(raw)
    assert fast is not None, "a plainly shaped message must take the fast path"
    assert shape(fast) == shape(slow)
    assert message._walk(fast) == message._walk(slow)


HEAD = b"From: a@alcaldia-prueba.gov.co\r\nTo: soporteccc@entidad.gov.co\r\nSubject: x\r\nMIME-Version: 1.0\r\n"


def multipart(body: bytes, boundary: bytes = b"zz", head: bytes = HEAD, line_end: bytes = b"\r\n") -> bytes:
    raw = head + b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n' + body
    return raw.replace(b"\r\n", line_end)


def test_the_messages_mail_clients_write_take_the_fast_path_and_give_the_same_tree(tmp_path):
    files = documents(tmp_path)
    request = mails.request(attachments=files)
    corpus = [
        request,
        request.replace(b"\r\n", b"\n"),  # stored with LF line ends (Maildir)
        mails.request(body="Cordial saludo,\n\nAdjunto el formulario.\n", charset="iso-8859-1"),
        mails.request(body="Sólo texto, sin adjuntos: contraseña ñandú."),
        mails.reply_to(request, attachments=files[:1], html="<p>Adjunto el <b>acta</b> corregida</p>"),
        mails.reply_to(request, html="<p>Sin adjuntos</p>"),
        mails.legacy_request(mails.OUTLOOK_2000, f'"Alcaldía de Tuluá – Sistemas" <{mails.ENTITY}>',
                             "Solicitud reinicio contraseña – Alcaldía de Tuluá",
                             attachments=[("Formulario contraseña.pdf", files[0][1], "application/pdf")]),
    ]
    for raw in corpus:
        assert_same(raw)


@pytest.mark.parametrize("body", [
    # preamble and epilogue
    b"Esto es un mensaje MIME.\r\n--zz\r\nContent-Type: text/plain\r\n\r\nhola\r\n--zz--\r\nepilogo\r\n",
    # a part without headers, a part with an empty body
    b"--zz\r\n\r\nsin cabeceras\r\n--zz\r\nContent-Type: text/plain\r\n\r\n\r\n--zz--\r\n",
    # headers straight into the next delimiter, no empty line
    b"--zz\r\nContent-Type: text/plain\r\n--zz\r\nContent-Type: text/plain\r\n\r\nb\r\n--zz--",
    # blanks after delimiters; a line that only starts like one; a longer boundary
    b"--zz \t\r\nContent-Type: text/plain\r\n\r\n--zzz\r\n--zz-x\r\n--zz --\r\n--zz-- \r\n",
    # nested alternative, and an attachment with 8-bit bytes in its name and body
    b"--zz\r\nContent-Type: multipart/alternative; boundary=\"yy\"\r\n\r\n--yy\r\nContent-Type: text/plain\r\n\r\n"
    b"texto\r\n--yy\r\nContent-Type: text/html\r\n\r\n<p>texto</p>\r\n--yy--\r\n--zz\r\n"
    b"Content-Type: application/pdf; name=\"acta \xf1.pdf\"\r\nContent-Disposition: attachment;\r\n"
    b" filename=\"acta \xf1.pdf\"\r\n\r\n%PDF-1.4 \xe9\xff\r\n--zz--\r\n",
    # mixed line ends: an LF line and a CRLF empty line
    b"--zz\nContent-Type: text/plain\n\r\nmixto\r\n--zz--\n",
])
def test_edge_shapes_give_the_same_tree(body):
    assert_same(multipart(body))
    if b"\n\r\n" not in body:
        assert_same(multipart(body, line_end=b"\n"))


@pytest.mark.parametrize("raw", [
    multipart(b"--zz\r\nContent-Type: text/plain\r\n\r\nsin cierre\r\n"),  # never closed
    multipart(b"sin delimitadores\r\n"),  # no first delimiter
    multipart(b"--zz--\r\n--zz\r\n\r\nx\r\n--zz--\r\n"),  # closed before any part
    multipart(b"--zz\r\nContent-Type: text/plain\r\n\r\nretorno\rsuelto\r\n--zz--\r\n"),  # a bare CR
    multipart(b"--zz\r\nContent-Type: text/plain\r\nesto no es una cabecera\r\n\r\nx\r\n--zz--\r\n"),
    multipart(b"--zz\r\nContent-Type: message/rfc822\r\n\r\nSubject: reenviado\r\n\r\nx\r\n--zz--\r\n"),
    HEAD + b"Content-Type: multipart/mixed\r\n\r\n--zz\r\n\r\nx\r\n--zz--\r\n",  # no boundary
    b"From alguien@x Mon Mar  2 08:00:00 2026\r\n" + multipart(b"--zz\r\n\r\nx\r\n--zz--\r\n"),
    b" X-Primera: continuacion\r\n" + HEAD + b"Content-Type: text/plain\r\n\r\nx\r\n",  # first line a continuation
    # two delimiters in a row: the feed parser skips the second, even a closing one
    multipart(b"--zz\r\n--zz\r\nContent-Type: text/plain\r\n\r\nx\r\n--zz--\r\n"),
    multipart(b"--zz\r\nContent-Type: text/plain\r\n\r\nx\r\n--zz\r\n--zz--\r\n"),
])
def test_shapes_where_the_parsers_could_differ_are_declined(raw):
    fast, slow = both(raw)
    assert fast is None
    message._walk(slow)  # the caller's fallback still reads it


def test_a_request_is_read_through_the_fast_path(tmp_path, monkeypatch):
    # The examination's reading of a request's files does not touch the
    # feed parser: the 12 ms this module exists to save.
    raw = mails.request(attachments=documents(tmp_path))
    intake = message.parse(raw, message.LimitsConfig())  # its headers: the feed parser, on the header block
    monkeypatch.setattr(email, "message_from_bytes", lambda *a, **k: pytest.fail("feed parser used"))
    assert [a.filename for a in intake.attachments] and intake.body_text


def test_mutated_messages_that_take_the_fast_path_give_the_same_tree():
    # A seeded fuzz: delimiter lines, line ends, header-like and "From "
    # lines inserted and bytes cut at random. Whatever the fast path
    # accepts must come out as the feed parser reads it. (40,000 such
    # messages, 0 differences, when this was written.)
    import random

    base = [
        multipart(b"preambulo\r\n--zz\r\nContent-Type: multipart/alternative; boundary=\"yy\"\r\n\r\n--yy\r\n"
                  b"Content-Type: text/plain\r\n\r\ntexto\r\n--yy\r\nContent-Type: text/html\r\n\r\n<p>t</p>\r\n"
                  b"--yy--\r\nfin\r\n--zz\r\nContent-Type: application/pdf; name=a.pdf\r\n"
                  b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--zz--\r\nepilogo\r\n"),
        mails.request(attachments=[("a.pdf", b"%PDF-1.4 xx", "application/pdf"),
                                   ("b.txt", b"hola\r\n--zz\r\n", "text/plain")]),
    ]
    tokens = [b"\r\n", b"\n", b"\r", b"--zz", b"--zz--", b"--yy", b"--yy--", b" ", b"\t", b"X: y", b"\r\n\r\n",
              b"Content-Type: text/plain", b"--", b"From ", b":"]
    rng = random.Random(15)
    taken = 0
    for _ in range(3000):
        raw = bytearray(rng.choice(base))
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(raw))
            if rng.random() < 0.3:
                del raw[at : at + rng.randint(1, 6)]
            else:
                raw[at:at] = rng.choice(tokens)
        fast, slow = both(bytes(raw))
        if fast is not None:
            taken += 1
            assert shape(fast) == shape(slow), bytes(raw)
            assert message._walk(fast) == message._walk(slow), bytes(raw)
    assert taken > 1000  # the fuzz reaches the fast path, or it proves nothing
