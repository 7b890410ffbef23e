"""The identity document of a procedure that hands over an account, read
(CONTRACT §13): its text (a PDF's text layer, or what OCR read from a scan)
must hold the form's identifier or document number and the person's name.

A mismatch warning is high risk (``approve`` needs
``--acknowledge-warnings``), so on a scan it is claimed only from what was
read with confidence, as the other scan checks do (scan_checks.py): both
found is nothing; neither found on pages read well, with another document
number read surely or enough words read to know the page, is
``identity_document_mismatch``; anything in between is ``scan_not_read``,
naming file and page, for staff to compare by hand.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rapidfuzz.distance import Levenshtein

from ..documents import image_quality
from ..documents.facts import FileFacts
from ..documents.reading import ScanReading
from ..findings import PROBLEM, WARNING, Finding
from ..rules import Rules, normalise
from .scan_checks import (
    MIN_CONFIDENT_WORDS,
    READ,
    UNREAD,
    WORD_CONFIDENCE,
    find_name,
    is_blank,
    name_tokens,
    page_states,
    tokens_of,
)

if TYPE_CHECKING:
    # checks.py imports this module to register its check.
    from .checks import Examination


# The form fields that may hold a person's document number or identifier,
# which the identity document's text must show.
DOCUMENT_NUMBER_FIELDS = ("identifier", "doc_number", "official_doc_number")
IDENTITY_DOCUMENT = "identity_document"

# What OCR confuses in a document number, folded alike on both sides
# before comparing: a letter O for a zero, I or l for a one, and the like
# (a CURP mixes letters and digits, so both are folded the same way).
_NUMBER_CONFUSIONS = str.maketrans({"o": "0", "q": "0", "i": "1", "l": "1", "|": "1", "!": "1", "s": "5",
                                    "b": "8", "z": "2"})
# A number this long is found one edit away (a digit misread or dropped):
# another person's number one digit from ours is far less likely than a
# slip, and tolerance here only ever spares a warning.
NUMBER_EDIT_LENGTH = 8
# A word read with confidence that is a document number (a cédula's 6-10
# digits, in groups with dots or spaces, or a CURP) is the evidence that
# the document shows another number than the form's.
_NUMBER_WORD = re.compile(r"\d[\d.,' ]{4,}\d")
_CURP = re.compile(r"[a-z]{4}\d{6}[a-z0-9]{8}")
MIN_NUMBER_DIGITS = 6


def check_identity_document(exam: Examination, rules: Rules) -> list[Finding]:
    """An image too small or blank is a problem; a PDF's text layer, or a
    scan's OCR reading, must hold the form's number and the person's name;
    a scan nothing read (OCR off) is said to staff, never passed over."""
    doc = exam.chosen.get(IDENTITY_DOCUMENT)
    if not exam.hands_over or doc is None or not doc.facts.readable:
        return []
    facts, name = doc.facts, doc.facts.filename
    if facts.image_size is not None:
        why = image_quality.judge(*facts.image_size, facts.image_ink_ppm)
        if why:
            return [Finding(PROBLEM, "identity_document_unreadable", why, name)]
        if facts.reading is None:
            return [Finding(WARNING, "scan_not_read", "imagen sin leer: compare el documento con el formato a mano",
                            name)]
        return _reading_matches(exam, facts, facts.reading)
    if facts.pdf is None:
        return []
    if facts.pdf.has_text:
        return _text_matches(exam, facts.pdf.text, name)
    if not facts.pdf.is_scan:
        # Neither text nor a scanned page (a tiny image in a PDF wrapper):
        # nothing in it can show a document.
        return [Finding(PROBLEM, "identity_document_unreadable",
                        "el PDF no tiene texto ni una página escaneada que se pueda leer", name)]
    if facts.reading is None:
        return [Finding(WARNING, "scan_not_read", "PDF escaneado sin texto: compare el documento con el formato a mano",
                        name)]
    return _reading_matches(exam, facts, facts.reading)


def _wanted(exam: Examination) -> tuple[list[str], str]:
    """The form's document numbers and the person's name ([], "" when absent)."""
    form = exam.form
    numbers = [form.fields[key] for key in DOCUMENT_NUMBER_FIELDS if form.fields.get(key)]
    return numbers, (form.fields.get(exam.person_field) or "").strip()


def _text_matches(exam: Examination, text: str, document: str) -> list[Finding]:
    """A text layer is the document's own text: anything missing is said."""
    if exam.form is None:
        return []
    numbers, person = _wanted(exam)
    compact = re.sub(r"[^0-9a-z]", "", normalise(text))
    words = set(re.sub(r"[^\w]+", " ", normalise(text)).split())
    missing = []
    if numbers and not any(re.sub(r"[^0-9a-z]", "", normalise(v)) in compact for v in numbers):
        missing.append(f"el número {numbers[0]}")
    tokens = name_tokens(person)
    if tokens and sum(t in words for t in tokens) < min(2, len(tokens)):
        missing.append(f"el nombre {person}")
    if not missing:
        return []
    return [Finding(WARNING, "identity_document_mismatch",
                    f"el texto del documento de identidad no contiene {' ni '.join(missing)} del formato", document)]


def _reading_matches(exam: Examination, facts: FileFacts, reading: ScanReading) -> list[Finding]:
    document = facts.filename
    if exam.form is None:
        return []
    numbers, person = _wanted(exam)
    if not numbers and not name_tokens(person):
        return []  # nothing of the form's to look for
    states = page_states(reading, facts.image_ink_ppm)
    if is_blank(reading, facts.image_ink_ppm):
        return [Finding(PROBLEM, "identity_document_unreadable", "la imagen está en blanco", document)]
    unread = [s for s in states if s.state == UNREAD]
    number_found = not numbers or any(number_in(reading.text, n) for n in numbers)
    name_found = not name_tokens(person) or find_name(list(tokens_of(reading)), person).found
    if number_found and name_found:
        return []
    missing = " ni ".join(what for what, found in ((f"el número {numbers[0]}" if numbers else "", number_found),
                                                    (f"el nombre {person}", name_found)) if not found)
    if unread:
        return [Finding(WARNING, "scan_not_read", f"página {s.page + 1}: {s.reason}; no se encontró {missing} del "
                                                  "formato: compárela a mano", document) for s in unread[:5]]
    page = next((s.page for s in states if s.state == READ), 0)
    others = [n for n in other_numbers(reading) if not any(_same_number(n, mine) for mine in numbers)]
    confident = sum(w.confidence >= WORD_CONFIDENCE for w in reading.words)
    if not number_found and not name_found and (others or confident >= MIN_CONFIDENT_WORDS):
        shows = f" (se lee el número {others[0]})" if others else ""
        return [Finding(WARNING, "identity_document_mismatch",
                        f"página {page + 1}: el documento de identidad leído no contiene {missing} del formato"
                        f"{shows}", document)]
    return [Finding(WARNING, "scan_not_read", f"página {page + 1}: no se encontró {missing} del formato (se leyeron "
                                              f"{confident} palabras con confianza): compárela a mano", document)]


# -- document numbers, tolerant of OCR's slips -------------------------------


def _fold_number(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", normalise(text)).translate(_NUMBER_CONFUSIONS)


def _same_number(read: str, wanted: str) -> bool:
    a, b = _fold_number(read), _fold_number(wanted)
    if not b:
        return False
    if a == b:
        return True
    return len(b) >= NUMBER_EDIT_LENGTH and Levenshtein.distance(a, b, score_cutoff=1) <= 1


def number_in(text: str, wanted: str) -> bool:
    """The form's number among what was read: each word, and runs of up to
    four words on a line (a cédula's "18.123.456" may come as "18. 123 456"),
    compared with OCR's confusions folded and, when long, one slip allowed."""
    for line in text.splitlines():
        words = line.split()
        for start in range(len(words)):
            for end in range(start + 1, min(start + 4, len(words)) + 1):
                if _same_number("".join(words[start:end]), wanted):
                    return True
    return False


def other_numbers(reading: ScanReading) -> list[str]:
    """Document numbers read with confidence (every word of them at
    WORD_CONFIDENCE): a cédula's digits or a CURP."""
    found = []
    for line in _confident_lines(reading):
        text = normalise(line)
        for m in _NUMBER_WORD.finditer(text):
            if len(re.sub(r"\D", "", m.group())) >= MIN_NUMBER_DIGITS:
                found.append(m.group().strip())
        found += _CURP.findall(text)
    return found


def _confident_lines(reading: ScanReading) -> list[str]:
    """The lines read, each holding only its words read with confidence (a
    doubtful word breaks the line, so no number is pieced across it)."""
    lines: dict[tuple[int, int], dict[int, str]] = {}
    for t in tokens_of(reading):
        # A word split into several tokens repeats its raw text: kept once.
        lines.setdefault((t.page, t.line), {})[t.word] = t.raw if t.confidence >= WORD_CONFIDENCE else "\n"
    out = []
    for words in lines.values():
        out += " ".join(words.values()).split("\n")
    return out
