"""Raw bytes -> ``Intake``: the facts of one inbound message, as plain strings.

We parse with the standard library's ``email.policy.default`` rather than
mail-parser (see README, "Dependencies"): it decodes RFC 2047 and RFC 2231
names (Spanish accents) correctly, reports defects, and keeps a forwarded
``message/rfc822`` as one part instead of flattening its attachments into
the sender's own. Its one change (``header_bytes.POLICY``): raw 8-bit
header bytes from old mail clients are decoded as UTF-8 or windows-1252
instead of becoming U+FFFD.

Size and shape are bounded *before* parsing: a message over
``limits.max_message_bytes`` or with more than ``limits.max_parts`` MIME
parts is read for its headers only, and the ticket says why.
"""

from __future__ import annotations

import collections
import email
import functools
import re
import unicodedata
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from ..addresses import valid_address
from ..config import LimitsConfig
from . import mime_split
from .header_bytes import POLICY, repair

# Prepended by the IMAP source when it fetched only an oversized message's headers.
TRUNCATED_HEADER = b"X-Helpdesk-Truncated:"
# C0 and C1 controls (ESC, CSI U+009B, OSC U+009D...), line separators and
# the bidirectional overrides that can make a name read backwards.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]+")
_MSGID = re.compile(r"<([^<>\s]+)>")
@dataclass(frozen=True)
class Attachment:
    filename: str  # NFC-normalised display name; never used as a path
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Intake:
    """What the pipeline needs to know about one inbound message."""

    message_id: str  # without angle brackets; "" when absent
    sender: str  # From address, lower-cased; "" when unusable
    reply_to: str  # Reply-To address when present and valid
    subject: str  # one line, controls removed
    in_reply_to: list[str]
    references: list[str]
    return_path: str | None  # None when the header is absent
    headers: dict[str, list[str]]  # lower-cased names of READ_HEADERS -> clean values
    content_type: str
    truncated: str = ""  # why the body is not read, when it is not
    # Authentication-Results values as received, top first: unfolded but
    # neither RFC 2047-decoded nor cut short (authresults.py parses them;
    # a decoded word in the sender's address could write a ";dmarc=pass").
    authentication_results: tuple[str, ...] = ()
    # How many Received headers sit above each of them: our server's own
    # block ends at one (authresults.read).
    authentication_received: tuple[int, ...] = ()
    # The envelope recipient our own mail server recorded: the value of the
    # topmost Delivered-To or X-Original-To (the one added last), "" when
    # the message carries neither (CONTRACT §9 routes by it).
    envelope_to: str = ""
    # The whole message, parsed only if a body fact is asked for: intake of
    # a new request needs its headers alone (0.7 ms instead of 30 ms for a
    # message with 700 KB of attachments); the documents are read later.
    raw: bytes = field(default=b"", repr=False, compare=False)

    @functools.cached_property
    def _body(self) -> tuple[list[Attachment], str, list[str]]:
        if self.truncated or not self.raw:
            return [], "", []
        return _read_body(self.raw)

    @property
    def attachments(self) -> list[Attachment]:
        return self._body[0]

    @property
    def body_text(self) -> str:
        return self._body[1]

    @property
    def reported_ids(self) -> list[str]:
        """Message-IDs found inside a delivery report (the email that bounced)."""
        return self._body[2]

    @property
    def requester(self) -> str:
        """Where automatic replies go: Reply-To when present, else From."""
        return self.reply_to or self.sender

    def header(self, name: str) -> str:
        values = self.headers.get(name.lower())
        return values[0] if values else ""


def clean_text(value: object, limit: int = 998) -> str:
    """A header-safe single line: no CR, LF or other control characters."""
    text = _CONTROL.sub(" ", str(value or ""))
    return " ".join(text.split())[:limit]


def parse(raw: bytes, limits: LimitsConfig) -> Intake:
    """The headers now; the body, within the configured bounds, when asked for."""
    # headersonly: parsed in full, a multipart's empty body still cost the
    # feed parser a regular expression compiled for its boundary (0.5 ms).
    msg = BytesParser(policy=POLICY).parsebytes(_header_block(raw), headersonly=True)
    return _intake(msg, _too_big(raw, limits), raw)


def contents(raw: bytes, limits: LimitsConfig) -> tuple[list[Attachment], str]:
    """The attachments and the text of a message, without reading its
    headers (the examination's worker needs no more); none when intake
    would read its headers only."""
    if _too_big(raw, limits):
        return [], ""
    attachments, text, _reported = _read_body(raw)
    return attachments, text


def _read_body(raw: bytes) -> tuple[list[Attachment], str, list[str]]:
    # The feed parser only where the fast split declines (mime_split.py).
    return _walk(mime_split.parse(raw, POLICY) or email.message_from_bytes(raw, policy=POLICY))


_EMPTY_LINE = re.compile(rb"\r\n\r\n|\n\n")


def _header_block(raw: bytes) -> bytes:
    """The header section, up to the first empty line (at most 256 KB)."""
    # Searched within the first 256 KB only: a message with LF line ends
    # has no CRLF CRLF, and a search of the whole of it cost 0.4 ms per 700 KB.
    # One search for either end: two finds scanned 256 KB for the one absent.
    limit = min(len(raw), 256 * 1024)
    found = _EMPTY_LINE.search(raw, 0, limit)
    end = found.start() if found else limit
    return raw[:end] + b"\r\n\r\n"


def _too_big(raw: bytes, limits: LimitsConfig) -> str:
    if raw.startswith(TRUNCATED_HEADER):
        # The IMAP source fetched only the headers of an oversized message.
        size = raw[len(TRUNCATED_HEADER) : raw.find(b"\r\n")].strip().split(b" ")[0].decode("ascii", "replace")
        return f"mensaje de {size} bytes, el límite es {limits.max_message_bytes}"
    if len(raw) > limits.max_message_bytes:
        return f"mensaje de {len(raw)} bytes, el límite es {limits.max_message_bytes}"
    parts = count_parts(raw, limits.max_parts)
    if parts > limits.max_parts:
        return f"mensaje con {parts} partes MIME, el límite es {limits.max_parts}"
    return ""


# The keyword in any case; the value as written: the parser matches a
# boundary case-sensitively, so the delimiters are counted in the raw bytes.
_BOUNDARY = re.compile(rb'(?i:boundary)\s*=\s*"?([^";\r\n]{1,200})')


def count_parts(raw: bytes, limit: int) -> int:
    """A cheap upper bound on the MIME parts (and so on the nesting depth),
    counted before any parsing.

    Two counts, the larger wins: ``Content-Type`` headers, and the boundary
    delimiter lines of every declared boundary (a part needs no header of
    its own: 5.9 million empty parts once slipped past the first count).
    A bare CR counts as a line end, as the parser takes it. Past ``limit``
    declared boundaries the count stops: that is already too many parts.
    (bytes.count is 8x faster than a multiline regex on 700 KB.) Header
    names are found in the message lowered a window at a time, never copied
    whole (a 40 MB message cost 40 MB more here); delimiters are counted in
    the raw bytes, as the parser matches them (a second lowered pass cost
    half of the 2.2 ms this takes on a 700 KB request)."""
    headers = 0
    boundaries: set[bytes] = set()
    for start, window, own in _lowered_windows(raw):
        headers += _count(window, own, b"\ncontent-type:") + _count(window, own, b"\rcontent-type:")
        # bytes.find, then the pattern where it stands: 2x faster than finditer's scan.
        at = window.find(b"boundary", 0, own + len(b"boundary") - 1)
        while at >= 0:
            match = _BOUNDARY.match(raw, start + at)
            if match:
                boundaries.add(match.group(1).strip())
                if len(boundaries) > limit:
                    return len(boundaries)
            at = window.find(b"boundary", at + 1, own + len(b"boundary") - 1)
    headers += raw[:13].lower() == b"content-type:"
    boundaries.discard(b"")
    if not boundaries:
        return headers
    # Every delimiter line opens a part; each multipart has one closing line.
    delimiters = sum(raw.count(b"--" + b) for b in boundaries) - len(boundaries)
    return max(headers, delimiters)


# 256 KiB: a lowered window this size stays in cache for its three scans
# (1 MiB windows cost 50% more on a 700 KB message).
_WINDOW = 256 << 10
_OVERLAP = 512  # longer than any pattern counted or boundary match


def _lowered_windows(raw: bytes):
    """(start, window, own): the message lowered _WINDOW bytes at a time
    from ``start``; each window runs _OVERLAP bytes into the next, and a
    match counts in the window where it starts (before ``own``), so one
    across a seam counts once."""
    view = memoryview(raw)
    for start in range(0, len(raw), _WINDOW):
        yield start, bytes(view[start : start + _WINDOW + _OVERLAP]).lower(), min(_WINDOW, len(raw) - start)


def _count(window: bytes, own: int, pattern: bytes) -> int:
    """Occurrences of ``pattern`` that start in the window's own part."""
    return window.count(pattern, 0, own + len(pattern) - 1)


def _intake(msg: EmailMessage, truncated: str, raw: bytes) -> Intake:
    headers: dict[str, list[str]] = {}
    for name, value in _decoded_items(msg):
        headers.setdefault(name.lower(), []).append(clean_text(value, 4000))
    # Addresses come from the raw header: the policy's parser "repairs"
    # ambiguous forms (it reads "a@x)<b@y>" as a@x), hiding the ambiguity.
    raw_values = {name.lower(): clean_text(repair(value)) for name, value in reversed(list(msg.raw_items()))
                  if name.lower() in ("from", "reply-to")}
    # RFC 5322 allows one From and one Reply-To. With two, staff would see
    # one address and the answer might go to the other: neither is used (no
    # From: nobody to answer, the message is listed for staff; no Reply-To:
    # answers go to the From address).
    fields = collections.Counter(name.lower() for name in msg.keys())
    sender = _first_address([raw_values.get("from", "")]) if fields["from"] == 1 else ""
    reply_to = _first_address([raw_values.get("reply-to", "")]) if fields["reply-to"] == 1 else ""
    return_path = None
    if "return-path" in headers:
        return_path = parseaddr(headers["return-path"][0])[1].lower()
    message_ids = _ids(headers.get("message-id", []))
    auth_items, received, envelope_to = [], 0, ""
    for name, value in msg.raw_items():
        if name.lower() == "received":
            received += 1
        elif name.lower() == "authentication-results":
            auth_items.append((received, value))
        elif name.lower() in ("delivered-to", "x-original-to") and not envelope_to:
            envelope_to = clean_text(repair(str(value)), 400) or " "  # a blank one still counts as recorded
    return Intake(
        message_id=message_ids[0] if message_ids else "",
        sender=sender,
        reply_to=reply_to if reply_to != sender else "",
        subject=clean_text(headers.get("subject", [""])[0]),
        in_reply_to=_ids(headers.get("in-reply-to", [])),
        references=_ids(headers.get("references", [])),
        return_path=return_path,
        headers=headers,
        content_type=msg.get_content_type(),
        truncated=truncated,
        authentication_results=tuple(clean_text(value, 64_000) for _, value in auth_items),
        authentication_received=tuple(received for received, _ in auth_items),
        envelope_to=envelope_to,
        raw=raw,
    )


# The headers the desk reads (routing, threading, robots, staff listings);
# the rest (Received, DKIM-Signature, ARC-*, ...) are not decoded: each
# cost 0.1 ms through the policy's parser, a dozen of them per real email.
READ_HEADERS = frozenset({
    "from", "reply-to", "to", "cc", "delivered-to", "x-original-to", "subject", "date", "message-id",
    "in-reply-to", "references", "return-path", "x-loop", "auto-submitted", "x-autoreply", "x-autorespond",
    "x-auto-response-suppress", "precedence", "x-helpdesk-kind", "list-id", "list-unsubscribe",
})


def _decoded_items(msg: EmailMessage):
    """(name, text) pairs of the READ_HEADERS, RFC 2047 words decoded.

    A header the policy cannot parse at all is kept in its raw form rather
    than stopping intake.
    """
    for name, raw in msg.raw_items():
        if name.lower() not in READ_HEADERS:
            continue
        try:
            value = str(msg.policy.header_fetch_parse(name, raw))
        except Exception:  # defective encodings must never stop intake
            value = repair(str(raw))
        yield name, value


def _first_address(values: list[str]) -> str:
    # Python 3.11 getaddresses accepts forms like "a@x)<b@y>" and splits
    # them into several addresses (CVE-2023-27043): demand exactly one.
    found = [addr.strip().lower() for _name, addr in getaddresses(values[:1]) if addr]
    if len(found) == 1 and valid_address(found[0]):
        return found[0]
    return ""


def _ids(values: list[str]) -> list[str]:
    found: list[str] = []
    for value in values:
        for mid in _MSGID.findall(value) or ([value.strip()] if value.strip() and " " not in value.strip() else []):
            if mid not in found:
                found.append(mid)
    return found


def _walk(msg: EmailMessage) -> tuple[list[Attachment], str, list[str]]:
    attachments: list[Attachment] = []
    body = ""
    html = ""
    reported: list[str] = []
    for part in _own_parts(msg):
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            reported.extend(_reported_ids(part))
            if ctype == "message/rfc822" and msg.get_content_type() != "multipart/report":
                # A forwarded email counts as one attachment of its own, so
                # staff can see it; its documents are not the sender's.
                attachments.append(Attachment(_filename(part) or "mensaje-reenviado.eml", ctype, part.as_bytes()))
            continue
        filename = _filename(part)
        disposition = part.get_content_disposition()
        if filename or disposition == "attachment" or not ctype.startswith(("text/", "multipart/")):
            data = _payload(part)
            attachments.append(Attachment(filename or f"adjunto-{len(attachments) + 1}", ctype, data))
        elif ctype == "text/plain" and not body:
            body = _text(part)
        elif ctype == "text/html" and not html:
            html = _text(part)
    # Staff read what the person wrote: the plain part, else the HTML one as text.
    return attachments, body or html_to_text(html), reported


class _TextOfHtml(HTMLParser):
    """Collects an HTML body's text: blocks become lines; scripts and styles are dropped."""

    _BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "blockquote", "table"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "head", "title"):
            self._hidden += 1
        elif tag in self._BLOCKS:
            self.chunks.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "head", "title"):
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCKS:
            self.chunks.append("\n")

    def handle_data(self, data):
        if not self._hidden:
            self.chunks.append(data)


def html_to_text(html: str) -> str:
    """Plain text of an HTML body, for staff to read (never rendered as HTML)."""
    if not html:
        return ""
    parser = _TextOfHtml()
    try:
        parser.feed(html[:2_000_000])
        parser.close()
    except Exception:  # malformed markup: show what was gathered
        pass
    lines = (" ".join(line.split()) for line in "".join(parser.chunks).splitlines())
    return "\n".join(re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip().splitlines())


def _own_parts(msg: EmailMessage):
    """Leaf parts of the message, not descending into attached emails."""
    if msg.is_multipart():
        for sub in msg.get_payload():
            if sub.get_content_type() in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
                yield sub
            elif sub.is_multipart():
                yield from _own_parts(sub)
            else:
                yield sub
    else:
        yield msg


def _filename(part) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:  # malformed RFC 2231 parameters
        name = ""
    name = unicodedata.normalize("NFC", clean_text(name, 255))
    # Only the last path component is ever shown; it is never used as a path.
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def _payload(part) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if data is None:
        raw = part.get_payload()
        data = raw.encode("utf-8", "replace") if isinstance(raw, str) else b""
    return data


def _text(part) -> str:
    try:
        return part.get_content()
    except (LookupError, UnicodeError, AssertionError):
        data = _payload(part)
        return data.decode("latin-1")


def _reported_ids(part) -> list[str]:
    """Message-IDs of the original email inside a bounce or forward."""
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if inner is not None and hasattr(inner, "get_all"):
        return _ids([clean_text(v) for v in inner.get_all("message-id", [])])
    text = payload if isinstance(payload, str) else _payload(part).decode("utf-8", "replace")
    found = re.findall(r"(?im)^message-id:\s*(<[^>]+>)", text)
    return _ids(found)
