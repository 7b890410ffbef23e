"""Raw 8-bit bytes in headers -> the text the sender's mail client meant.

Outlook 2000, Netscape 4 and Eudora put accented text into headers without
RFC 2047 encoding (``Subject: Solicitud reinicio contraseña`` in
windows-1252 bytes), inside encoded words that declare another charset
(``=?iso-8859-1?Q?contrase<raw UTF-8 bytes>a?=``), or in encoded words whose
declared charset is unknown or wrong (Outlook labelled windows-1252 as
iso-8859-1, so ``=96`` meant "–", not a control). The standard library keeps such
bytes as surrogate escapes and shows them as U+FFFD, so an entity named
"Alcaldía de Tuluá" would reach staff as "Alcald�a de Tul��".

``POLICY`` is ``email.policy.default`` with one change: before a header is
parsed, each run of raw 8-bit bytes is decoded as UTF-8 when it is valid
UTF-8, else as windows-1252 (the superset of latin-1 those clients used).
Windows-1252 Spanish text is almost never valid UTF-8 (an accented letter
followed by ASCII is not), so the choice is made per run: a header pasted
together from two clients decodes right in both halves. An encoded word that needed repair is rewritten as a clean
UTF-8 encoded word, so address headers keep their structure: a decoded
``"`` or ``<`` stays inside the display name. Headers of plain ASCII, and
encoded words that decode with their own charset, are left exactly as the
standard library handles them.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email.policy
import re

# An RFC 2047 encoded word as old clients wrote it: raw 8-bit bytes and
# even spaces can appear in its text, so only "?" and line ends end it.
_ENCODED_WORD = re.compile(rb"=\?([^?\s]*)\?([QqBb])\?([^?\r\n]*)\?=")
_QP_ESCAPE = re.compile(rb"=([0-9A-Fa-f]{2})")
_RAW_RUN = re.compile(rb"[\x80-\xff]+")
_RAW_SPLIT = re.compile(rb"([\x80-\xff]+)")
_SURROGATE = re.compile("[\udc80-\udcff]")
# Bytes that latin-1 maps to invisible C1 controls and windows-1252 to
# characters ("–", "“", "€"): Outlook labelled windows-1252 as iso-8859-1.
_C1 = re.compile(rb"[\x80-\x9f]")
# Labels whose bytes are windows-1252 in practice (as WHATWG decodes them).
_WINDOWS_1252_LABELS = {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "us-ascii", "ascii", "cp819"}
# Labels that say "I do not know" (RFC 1428 and common gateways).
_UNKNOWN_LABELS = {"", "unknown-8bit", "x-unknown", "unknown", "x-user-defined"}


def needs_repair(value: str) -> bool:
    """True when the header has raw 8-bit bytes or an encoded word at all
    (the cheap test; ``repair`` then leaves sound encoded words alone)."""
    return "=?" in value or _SURROGATE.search(value) is not None


def repair(value: str) -> str:
    """A header value as parsed from bytes (8-bit as surrogate escapes) ->
    the same value with every byte decoded as its sender meant it."""
    if not needs_repair(value):
        return value
    try:
        raw = value.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return value  # set by our own code as text, not parsed from bytes
    out: list[str] = []
    position = 0
    for match in _ENCODED_WORD.finditer(raw):
        out.append(_decode_outside(raw[position : match.start()]))
        out.append(_encoded_word(match))
        position = match.end()
    out.append(_decode_outside(raw[position:]))
    return "".join(out)


def decode_8bit(data: bytes) -> str:
    """UTF-8 when valid, else windows-1252; never U+FFFD."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        # 0x81, 0x8D, 0x8F, 0x90 and 0x9D are unassigned in windows-1252;
        # latin-1 maps them to (invisible) controls instead of U+FFFD.
        return "".join(bytes([b]).decode("cp1252", "ignore") or chr(b) for b in data)


def _decode_outside(chunk: bytes) -> str:
    """Text outside encoded words: ASCII stays, 8-bit runs are decoded."""
    return "".join(decode_8bit(piece) if piece[0] >= 0x80 else piece.decode("ascii")
                   for piece in _RAW_SPLIT.split(chunk) if piece)


def _encoded_word(match: re.Match) -> str:
    """One encoded word: left as it is when the standard library reads it
    right; else decoded here and written back as a clean UTF-8 word."""
    word = match.group().decode("ascii", "surrogateescape")
    label = match.group(1).decode("ascii", "replace").partition("*")[0].lower()
    encoding, text = match.group(2).upper(), match.group(3)
    if not _RAW_RUN.search(text) and _sound(encoding, text, label):
        return word  # the standard library decodes it right
    codec = _codec(label)
    try:
        decoded = _decode_word_text(encoding, text, codec)
    except (binascii.Error, ValueError):
        return word  # broken base64: the standard library reports the defect
    return "=?utf-8?b?" + base64.b64encode(decoded.encode("utf-8")).decode("ascii") + "?="


def _sound(encoding: str, text: bytes, label: str) -> bool:
    """Does the declared charset itself (as the standard library applies
    it) give the text the sender meant?"""
    try:
        real = codecs.lookup(label).name
        data = _transfer_decode(encoding, text)
        data.decode(real)
    except (LookupError, UnicodeDecodeError, binascii.Error, ValueError):
        return False
    return not (real == "iso8859-1" and _C1.search(data))


def _decode_word_text(encoding: str, text: bytes, codec: str | None) -> str:
    if encoding == "B":
        # Raw bytes have no place in base64: they are dropped.
        data = _transfer_decode("B", _RAW_RUN.sub(b"", text))
        return _by_codec(data, codec)
    # Q: escaped bytes are in the declared charset; raw 8-bit bytes are in
    # whatever the client typed them in, decided like the rest of the header.
    parts: list[str] = []
    for piece in _RAW_SPLIT.split(text):
        if not piece:
            continue
        if piece[0] >= 0x80:
            parts.append(decode_8bit(piece))
        else:
            parts.append(_by_codec(_transfer_decode("Q", piece), codec))
    return "".join(parts)


def _by_codec(data: bytes, codec: str | None) -> str:
    """Bytes in the word's declared charset; when that is unknown or wrong
    for these bytes, UTF-8 when valid, else windows-1252."""
    if codec is not None:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            pass
    return decode_8bit(data)


def _transfer_decode(encoding: str, text: bytes) -> bytes:
    if encoding == "B":
        text = text.strip()
        return base64.b64decode(text + b"=" * (-len(text) % 4))
    return _QP_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), text.replace(b"_", b" "))


def _codec(label: str) -> str | None:
    if label in _UNKNOWN_LABELS:
        return None
    if label in _WINDOWS_1252_LABELS:
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


class LegacyHeaderPolicy(email.policy.EmailPolicy):
    """``email.policy.default`` that decodes legacy 8-bit header bytes.

    Only ``header_fetch_parse`` changes: the stored (source) value keeps the
    original bytes, so re-serialising a part (a forwarded email kept as an
    attachment) gives back what was received.
    """

    def header_fetch_parse(self, name, value):
        if not hasattr(value, "name") and needs_repair(value):
            value = repair(value)
        return super().header_fetch_parse(name, value)


POLICY = LegacyHeaderPolicy()
