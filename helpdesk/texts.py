"""What a person wrote, as plain text for staff screens, and the one way
text reaches a staff member's terminal (``safe_text``, ``safe_json``).

Intake reads only the headers of a new request (its body is parsed later,
by the examination), so the text is taken from the raw store when staff ask
for it: ``show``, ``queue``. It is bounded, and every control character
but newline and tab is replaced visibly, because a message's text is
written by anyone and a terminal obeys escape sequences.
"""

from __future__ import annotations

import json
import unicodedata

from .config import LimitsConfig
from .intake.message import parse
from .store import Store

# Enough for a letter; the rest is in the original (show --save-attachments).
MAX_CHARS = 4000
EXCERPT_CHARS = 300
PURGED = "(texto eliminado por la política de retención)"
MISSING = "(el correo original no está disponible)"
HEADERS_ONLY = "(mensaje demasiado grande: solo se leyeron sus encabezados)"


def message_text(store: Store, sha256: str | None, purged_at: str | None,
                 limits: LimitsConfig | None = None, limit: int = MAX_CHARS) -> str:
    """The plain text of one stored inbound message, bounded and made safe."""
    if purged_at:
        return PURGED
    if not sha256:
        return MISSING
    try:
        raw = store.load_raw(sha256)
    except OSError:
        return MISSING
    intake = parse(raw, limits or LimitsConfig())
    if intake.truncated:
        return HEADERS_ONLY
    return bounded(safe_text(intake.body_text).strip(), limit)


def safe_text(text: str) -> str:
    """Text with every Unicode control or format character (category C)
    except newline and tab shown as U+FFFD: nothing reaches the terminal as
    an instruction (escape sequences, bidirectional overrides)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c if c in "\n\t" or unicodedata.category(c)[0] != "C" else "\ufffd" for c in text)


def safe_json(data) -> str:
    """JSON for a terminal: every category-C character that JSON leaves raw
    (C1 controls such as U+009B CSI, bidirectional overrides) is written as
    a \\uXXXX escape, so the data is intact and the terminal obeys nothing."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    return "".join(c if c == "\n" or unicodedata.category(c)[0] != "C" else f"\\u{ord(c):04x}" for c in text)


def bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rstrip() + " […]"


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """One line for a listing."""
    return bounded(" ".join(text.split()), limit)
