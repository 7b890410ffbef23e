"""A ticket's files, taken out of its stored messages inside the worker.

Parsing the MIME of a stored message is the costliest step of an
examination (about 20 ms for a request of 685 KB, most of it the stdlib's
feed parser) and the riskiest (3,000 nested parts raise RecursionError).
So the daemon does not do it: it hands the worker the paths of the
ticket's raw messages, and the worker parses them, picks the files to
examine and examines them (worker.py ``serve``). The daemon sees only the
plan and each file's facts, as JSON.

Which files are examined: each content once (by SHA-256, its newest copy),
the newest ``MAX_FILES`` of them; the newest of each kind wins anyway.
Only the files still in that window are held in memory, so a ticket of
many messages costs the worker one message plus twenty files at most.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..config import LimitsConfig

# Files examined per ticket: enough for the three documents and several
# corrections; 30 hostile PDFs in one mail once held intake for minutes.
MAX_FILES = 20

FORWARDED = "message/rfc822"
# The text of a message read for a procedure's "Label: value" lines.
MAX_TEXT_CHARS = 64 * 1024


@dataclass(frozen=True)
class PlannedFile:
    message: int  # position of its message among those sent, oldest first
    part: int  # position among that message's attachments
    filename: str
    content_type: str
    size: int
    chosen: bool  # examined; False for a repeated content or one over MAX_FILES


@dataclass(frozen=True)
class Plan:
    files: list[PlannedFile]  # every attachment, oldest first; forwarded emails have content_type FORWARDED
    texts: list[str]  # each message's text, oldest first, when asked for; else empty

    def chosen_keys(self) -> list[tuple[int, int]]:
        """(message, part) of the files examined, in the order the worker reads them."""
        return [(f.message, f.part) for f in self.files if f.chosen]

    def file(self, key: tuple[int, int]) -> PlannedFile:
        return next(f for f in self.files if (f.message, f.part) == key)


def plan(paths: list[str], limits: LimitsConfig, want_texts: bool) -> tuple[Plan, dict[tuple[int, int], bytes]]:
    """The plan of a ticket's messages (their raw files, oldest first) and
    the bytes of its chosen files."""
    from ..intake.message import contents

    files: list[PlannedFile] = []
    texts: list[str] = []
    window: dict[str, tuple[int, int]] = {}  # sha256 -> newest (message, part), oldest first
    held: dict[tuple[int, int], bytes] = {}
    for message, path in enumerate(paths):
        attachments, text = contents(_read(Path(path), limits), limits)
        if want_texts:
            texts.append(text[:MAX_TEXT_CHARS])
        for part, attachment in enumerate(attachments):
            files.append(PlannedFile(message, part, attachment.filename, attachment.content_type,
                                     len(attachment.data), False))
            if attachment.content_type == FORWARDED:
                continue
            digest = hashlib.sha256(attachment.data).hexdigest()
            older = window.pop(digest, None)  # the newest copy of the same bytes stands
            if older is not None:
                held.pop(older)
            window[digest] = (message, part)
            held[(message, part)] = attachment.data
            while len(window) > MAX_FILES:
                held.pop(window.pop(next(iter(window))))
        del attachments
    chosen = set(held)
    files = [PlannedFile(f.message, f.part, f.filename, f.content_type, f.size, (f.message, f.part) in chosen)
             for f in files]
    return Plan(files, texts), held


def _read(path: Path, limits: LimitsConfig) -> bytes:
    """A stored message, read no further than intake would have kept it."""
    with open(path, "rb") as fh:
        return fh.read(limits.max_message_bytes + 1)
