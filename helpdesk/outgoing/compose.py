"""The bytes of our own emails: a text and an HTML alternative, and files.

Every email helpdesk sends has one shape: a few headers whose values it
wrote itself (cleaned of line breaks), ``multipart/alternative`` with a
text and an HTML part, and, rarely, files of its own making (the blank
form) in ``multipart/mixed``. ``email.message.EmailMessage`` parsed each of
those headers into a token tree and folded it again on output: 3 ms per
email, more than the rest of an acknowledgement's intake together. For
this one shape the standard library's encoders do the work directly:
``email.header.Header`` for RFC 2047 words, ``email.utils.formataddr`` for
display names, ``base64`` for files, ``email.utils.encode_rfc2231`` for a
file name. 0.3 ms per email.

The output is what the ``EmailMessage`` version wrote, up to equivalent
encodings: 7bit or 8bit UTF-8 text parts with CRLF line ends (base64 when
a line would pass the 998-byte limit of RFC 5322), MIME boundaries from
``secrets`` (the default ones come from ``random``, whose state leaks).
"""

from __future__ import annotations

import base64
import secrets
from email.header import Header
from email.utils import encode_rfc2231, formataddr

CRLF = b"\r\n"
LINESEP = "\r\n"
MAX_LINE = 998  # RFC 5322 section 2.1.1, without the CRLF


# Written as address() made them: their encoded words sit outside the quotes.
ADDRESS_HEADERS = ("From", "To", "Cc", "Reply-To")


class UnsafeHeader(ValueError):
    """A header value with a line break: it would start a header of its own."""


def header(name: str, value: str) -> bytes:
    """One header line, folded when long; each run of words that is not
    plain ASCII becomes RFC 2047 encoded words, the rest stays readable
    (``[Radicado GEL-2026-000001] Solicitud de =?utf-8?q?contrase=C3=B1a?=``)."""
    if "\r" in value or "\n" in value:
        raise UnsafeHeader(name)
    if name in ADDRESS_HEADERS:
        if not value.isascii():
            raise UnsafeHeader(f"{name}: use address()")
        return f"{name}: {_fold(value, len(name) + 2)}\r\n".encode("ascii")
    pieces: list[str] = []
    run: list[str] = []  # consecutive words to encode together: the spaces between them are text
    for word in value.split(" "):
        if word.isascii() and "=?" not in word:
            if run:
                pieces.append(_encoded_words(" ".join(run)))
                run = []
            pieces.append(word)
        else:
            run.append(word)
    if run:
        pieces.append(_encoded_words(" ".join(run)))
    return f"{name}: {_fold(' '.join(pieces), len(name) + 2)}\r\n".encode("ascii")


def _encoded_words(text: str) -> str:
    """``text`` as encoded words of at most 75 characters, space-separated
    (a reader drops the space between two encoded words)."""
    return Header(text, "utf-8", maxlinelen=76).encode(linesep=LINESEP).replace(LINESEP + " ", " ")


def address(display_name: str, addr: str) -> str:
    """``Name <addr>``, the name quoted or RFC 2047-encoded as needed; the
    address itself must be ASCII (the desk never sends SMTPUTF8)."""
    if not addr.isascii():
        raise UnsafeHeader(f"dirección no ASCII: {addr!r}")
    return formataddr((display_name, addr), "utf-8") if display_name else addr


def message(headers: list[tuple[str, str]], text: str, html: str,
            attachments: list[tuple[str, str, bytes]] = ()) -> bytes:
    """The whole email: ``headers`` in order, then MIME-Version and the body."""
    body = _multipart("alternative", [_text_part(text, "plain"), _text_part(html, "html")])
    if attachments:
        body = _multipart("mixed", [body, *(_file_part(*attachment) for attachment in attachments)])
    return b"".join(header(name, value) for name, value in headers) + b"MIME-Version: 1.0\r\n" + body


def _fold(value: str, used: int) -> str:
    """Break an ASCII value at spaces so no line passes MAX_LINE."""
    if used + len(value) <= MAX_LINE:
        return value
    lines, line = [], ""
    for word in value.split(" "):
        if line and used + len(line) + 1 + len(word) > MAX_LINE:
            lines.append(line)
            line, used = word, 1
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\r\n ".join(lines)


def _multipart(subtype: str, parts: list[bytes]) -> bytes:
    boundary = f"=_{secrets.token_hex(20)}".encode()
    out = [f'Content-Type: multipart/{subtype}; boundary="'.encode(), boundary, b'"\r\n\r\n']
    for part in parts:
        out += [b"--", boundary, CRLF, part, CRLF]
    out += [b"--", boundary, b"--", CRLF]
    return b"".join(out)


def _text_part(text: str, subtype: str) -> bytes:
    lines = text.encode("utf-8").splitlines()
    if any(len(line) > MAX_LINE for line in lines):
        encoding, body = "base64", _base64(CRLF.join(lines) + CRLF)
    else:
        encoding = "7bit" if text.isascii() else "8bit"
        body = CRLF.join(lines) + CRLF
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            f"Content-Transfer-Encoding: {encoding}\r\n\r\n").encode("ascii") + body


def _file_part(filename: str, mime: str, data: bytes) -> bytes:
    if filename.isascii() and '"' not in filename and "\\" not in filename:
        name = f'filename="{filename}"'
    else:
        name = f"filename*={encode_rfc2231(filename, 'utf-8')}"
    if "\r" in name or "\n" in name or "\r" in mime or "\n" in mime:
        raise UnsafeHeader("Content-Disposition")
    return (f"Content-Type: {mime}\r\nContent-Transfer-Encoding: base64\r\n"
            f"Content-Disposition: attachment; {name}\r\n\r\n").encode("ascii") + _base64(data)


def _base64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", CRLF)
