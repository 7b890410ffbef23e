"""Which document is which: signed form, Excel form, acta, or unclassified.

Content decides first, the name second (CONTRACT §6):

1. the real type limits the candidates: a spreadsheet can only be the
   Excel form, and only if it has the form's labels; a PDF or an image can
   be the signed form or the acta;
2. a PDF's text layer (a scan with OCR, or a computer-made PDF), else what
   our OCR read of a scan (CONTRACT §11), is matched against each kind's
   words; OCR's text tolerantly, since it confuses letters;
3. then the file name's words, accents and case folded, only when the
   text is silent: a readable scan named "formato" whose text is some
   other document still fills the form's slot, and the scan checks say
   it is not the form (examination/scan_checks.py).

Two scans that nothing tells apart (``scan001.pdf``, ``IMG_2041.jpg``)
fill the two visual slots when exactly that many are missing: the entity
did what it was asked, so it is not asked again; staff get an
``ambiguous_documents`` warning and look at them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz

from ..rules import DocumentRules, normalise
from . import sniff
from .facts import FileFacts

SIGNED_FORM = "signed_form"
EXCEL_FORM = "excel_form"
ACTA = "acta_posesion"
SPREADSHEETS = (sniff.XLSX, sniff.XLS, sniff.ODS)
VISUAL_TYPES = (sniff.PDF, sniff.JPEG, sniff.PNG)


@dataclass(frozen=True)
class Classified:
    facts: FileFacts
    kind: str | None  # None: unclassified
    how: str  # "contenido", "texto", "nombre", "descarte" or "" (for staff)
    order: int  # position in the ticket's history: newer wins


def classify_one(facts: FileFacts, rules: DocumentRules,
                 kinds: tuple[str, ...] = (SIGNED_FORM, EXCEL_FORM, ACTA)) -> tuple[str | None, str]:
    """(kind, how) for one file, among the procedure's ``kinds``; an
    unreadable file gets the kind it was meant as."""
    if facts.type in SPREADSHEETS:
        if facts.form is not None:
            return EXCEL_FORM, "contenido"
        if not facts.readable:
            return EXCEL_FORM, "nombre"  # meant as the form: report it unreadable, not missing
        return None, ""
    visual = tuple(k for k in kinds if k != EXCEL_FORM)
    candidates = visual if facts.type in VISUAL_TYPES else (*visual, EXCEL_FORM)
    if not candidates:
        return None, ""
    if facts.pdf is not None and facts.pdf.text:
        kind = _best(normalise(facts.pdf.text), candidates, rules, "text_words")
        if kind:
            return kind, "texto"
    elif facts.reading is not None and facts.reading.text:
        kind = _best(_ocr_words(facts.reading.text), candidates, rules, "text_words", _has_phrase_read)
        if kind:
            return kind, "escaneo"
    name = normalise(facts.filename.replace("_", " ").replace("-", " "))
    kind = _best(name, candidates, rules, "filename_words")
    if kind is None and not facts.readable and name.endswith((".xlsx", ".xlsm", ".xls", ".ods")):
        kind = EXCEL_FORM
    return kind, ("nombre" if kind else "")


def _best(text: str, candidates, rules: DocumentRules, attr: str, has=None) -> str | None:
    has = has or _has_word
    scores = {k: sum(1 for w in getattr(rules.kinds[k], attr) if w and has(text, w)) for k in candidates}
    top = max(scores.values(), default=0)
    winners = [k for k, s in scores.items() if s == top]
    return winners[0] if top > 0 and len(winners) == 1 else None


def _has_word(text: str, word: str) -> bool:
    """``word`` at the start of a word: "firmado" has "firma", "confirmacion" has not."""
    return re.search(r"(?<![a-z0-9])" + re.escape(word), text) is not None


# A kind's phrase is in OCR's text when some stretch of it is this similar
# (rapidfuzz partial_ratio, 0-100). Measured on 48 generated scans (forms,
# actas, cédulas, invoices; tests/scans.py): each kind's own phrases read
# at 100; the form's and the acta's phrases on each other's pages at 69 at
# most; one confused letter in "formato de solicitud" is 95. (A form and
# an acta both say "cédula de ciudadanía": a cédula is told from them only
# where the procedure asks for one, as in a text layer.)
PHRASE_SCORE = 90
# Shorter phrases ("acta", "juramento") are matched whole, as in a text layer:
# a one-letter slip in a short word is another word.
FUZZY_MIN_LENGTH = 10


def _ocr_words(text: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", normalise(text)).split())


def _has_phrase_read(text: str, phrase: str) -> bool:
    if len(phrase) < FUZZY_MIN_LENGTH:
        return _has_word(text, phrase)
    return fuzz.partial_ratio(phrase, text, score_cutoff=PHRASE_SCORE) > 0


def classify_all(files: list[FileFacts], rules: DocumentRules,
                 kinds: tuple[str, ...] = (SIGNED_FORM, EXCEL_FORM, ACTA)) -> tuple[list[Classified], list[str]]:
    """Classify a ticket's files (oldest first); return them and staff notes.
    ``kinds``: the procedure's documents; only its visual kinds are
    candidates, and slots a scan may fill by elimination."""
    result = []
    for order, facts in enumerate(files):
        kind, how = classify_one(facts, rules, kinds)
        result.append(Classified(facts, kind, how, order))
    notes = []
    present = {c.kind for c in result if c.kind}
    missing = [k for k in kinds if k != EXCEL_FORM and k not in present]
    # Only scans may fill a slot by elimination: a computer-made PDF with
    # text that matched no kind (an invoice, a cover letter) is not an acta.
    loose = [c for c in result if c.kind is None and c.facts.readable and c.facts.type in VISUAL_TYPES
             and (c.facts.pdf is None or c.facts.pdf.is_scan or not c.facts.pdf.has_text)]
    if missing and len(loose) == len(missing):
        names = ", ".join(f"«{c.facts.filename}»" for c in loose)
        notes.append(f"no se pudo distinguir cuál es el formato firmado y cuál el acta entre {names}; verifíquelos"
                     if len(loose) > 1 else f"{names} se tomó como {rules.kinds[missing[0]].name} por ser el único "
                     "documento escaneado; verifíquelo")
        by_id = {id(c): k for c, k in zip(loose, missing)}
        result = [Classified(c.facts, by_id[id(c)], "descarte", c.order) if id(c) in by_id else c for c in result]
    return result, notes


def newest_by_kind(classified: list[Classified]) -> dict[str, Classified]:
    """The document of each kind that counts: the newest one (corrections win)."""
    chosen: dict[str, Classified] = {}
    for c in sorted(classified, key=lambda c: c.order):
        if c.kind:
            chosen[c.kind] = c
    return chosen
