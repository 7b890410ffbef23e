"""Operator logs: one line per event on stderr, for journald.

Two formats: ``text`` for a person reading ``journalctl`` and ``json`` (one
object a line) for a log collector. Both carry the same context fields,
given by the code as ``extra=``:

    log.info("acknowledged", extra={"radicado": r, "message_id": m})

so a line can always be traced to its ticket and message without parsing
the sentence. Staff read tickets in the CLI; the log names tickets and
messages, not people: no sender or recipient addresses, no bodies, and
every secret the process knows (passwords, tokens) is masked as a last
defence, should one ever reach a message through an exception's text.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import sys
import time

FORMATS = ("text", "json")

# Context fields, in the order the text format prints them.
CONTEXT = ("radicado", "message_id", "kind", "event", "attempts", "error")

MASK = "********"

_secrets: set[str] = set()
# Access tokens change every hour: only the last few can still matter.
_tokens: collections.deque[str] = collections.deque(maxlen=8)


def register_secret(value: str, transient: bool = False) -> None:
    """Never let ``value`` reach a log line (short values would mask too much)."""
    if value and len(value) >= 6:
        if transient:
            if value not in _tokens:
                _tokens.append(value)
        else:
            _secrets.add(value)


def _mask(text: str) -> str:
    for secret in (*_secrets, *_tokens):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def _context(record: logging.LogRecord) -> dict:
    return {key: getattr(record, key) for key in CONTEXT if getattr(record, key, None) not in (None, "")}


class TextFormatter(logging.Formatter):
    """``2026-11-23T10:00:00Z INFO acknowledged radicado=GEL-2026-000001 message_id=<...>``.

    Under systemd (``$JOURNAL_STREAM`` set) the time is left out: journald
    stamps every line itself.
    """

    def __init__(self, with_time: bool):
        super().__init__()
        self.with_time = with_time

    def format(self, record: logging.LogRecord) -> str:
        parts = []
        if self.with_time:
            parts.append(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)))
        parts += [record.levelname, f"{record.name}:", record.getMessage()]
        for key, value in _context(record).items():
            value = f"<{value}>" if key == "message_id" else value
            parts.append(f"{key}={value}")
        line = " ".join(str(p) for p in parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return _mask(line)


class JsonFormatter(logging.Formatter):
    """One JSON object a line; the traceback, if any, is a field, never extra lines."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_context(record),
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return _mask(json.dumps(doc, ensure_ascii=False, default=str))


def _is_journal(stream) -> bool:
    """True when ``stream`` is the journald socket systemd gave us ($JOURNAL_STREAM = dev:inode)."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return expected == f"{st.st_dev}:{st.st_ino}"


def setup(level: str = "INFO", fmt: str = "text", stream=None) -> None:
    """Send every ``helpdesk`` log line to stderr in the chosen format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter(with_time=not _is_journal(handler.stream)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    # --log-level applies to our own lines. Libraries stay at WARNING: at
    # DEBUG imapclient dumps the protocol, whole messages included, which
    # is personal data that has no place in the journal.
    root.setLevel(logging.WARNING)
    logging.getLogger("helpdesk").setLevel(level)
    # Neither format shows the caller, the thread or the process: what the
    # logging HOWTO's "Optimization" section says to turn off then (finding
    # the caller walked the stack for every line, two lines a message).
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
