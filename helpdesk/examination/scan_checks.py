"""The scan checks: what OCR read from the signed form and the acta, judged
as a careful clerk would (CONTRACT §11).

The readers (documents/ocr/) leave a ``ScanReading`` on each scan: words
with their confidences and boxes, each page read or not (and why), and the
ink under the signature label. Here those facts are judged, and only what
was read with confidence decides anything: a false problem sends a correct
request back to a municipality, so every claim that something is *absent*
(not the form, no acta words, no signature ink, the name not in the acta)
needs a page read well, and every claim that something *else* is there (a
NIT or an account the Excel form does not have) needs those characters read
well. Below that, a scan gets only ``scan_not_read``, naming file and page.

Each threshold is a named constant with the measurement that chose it
(bench/scan_precision.py measures them on tests/scans.py's generated scans).
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rapidfuzz.distance import Levenshtein

from .. import nit
from ..documents.classify import ACTA, SIGNED_FORM
from ..documents.facts import FileFacts, FormData
from ..documents.reading import ScanReading, Word
from ..findings import PROBLEM, WARNING, Finding
from ..rules import Rules, normalise

if TYPE_CHECKING:
    # checks.py imports this module to register its checks.
    from .checks import Examination

# -- thresholds ----------------------------------------------------------

# A word counts as read with confidence at this Tesseract word confidence.
# On the generated scans (bench/scan_precision.py) the form's printed words
# read at 85-96 and the words Tesseract invents in noise, stamps and
# scribbles at 0-60.
WORD_CONFIDENCE = 70
# A page is read when its mean word confidence reaches this (the engine
# keeps none under 55): the worst readable generated scans read at 62-75, a
# scribble-only or noisy page under 40 (bench/scan_precision.py).
PAGE_CONFIDENCE = 60
# What a document is NOT is said only from this many confident words: the
# generated forms read 40-70 of them, actas 120-150; a page read at 92 with
# a dozen words is a page read in part (a crop that cut it), not a page
# that is surely something else. Fewer: scan_not_read, naming the page.
MIN_CONFIDENT_WORDS = 25
# A page the engine read that shows at most this many words of any
# confidence (a blank scan gives 0-2 words of noise) is blank only when
# the page's ink, measured apart from OCR (an image's FileFacts.image_ink_ppm,
# a page's PageReading.ink_ppm; documents/image_quality.py), is under
# BLANK_INK_PPM: no words alone is
# no proof: a readable, shaded and noisy acta read as 0 words on the
# generated scans. Measured there (JPEG and PNG): blank pages 0 ppm, even
# shaded and noisy; an acta 13,000-31,000; any phone photo 200,000 and more
# (its table), so a photographed page is never taken for blank.
BLANK_MAX_WORDS = 2
BLANK_INK_PPM = 300
# An account claimed to differ from the Excel form: its word must read at
# least this (addresses are where OCR confuses most: 0/O, 1/l, rn/m, and
# "@", which Tesseract's Spanish model reads at 0-60 whatever the scan).
FIELD_CONFIDENCE = 85
# A NIT claimed to differ: its words at WORD_CONFIDENCE suffice, since its
# check digit must also hold, and DIAN's weights catch every one-digit
# misreading (bench/scan_precision.py: the form's own NIT read at 76-97
# when read at all; no misread NIT passed its check digit).
NIT_CONFIDENCE = WORD_CONFIDENCE
# The signature area holds a signature when its dark pixels reach this
# (parts per million of the area, documents/ocr/ink.py). Measured on 100
# generated forms (bench/scan_precision.py): an empty line 0-1,600 (median
# 290; the printed line is not counted), the thinnest scribble 5,900
# (median 21,000), a stamp 16,600 and more. Halfway, on the side of signed.
# On 1,000 signed forms (seeds 1000-1999) the thinnest scribble was 4,683
# and the thinnest stamp 3,356-3,366, still signed but a thinner margin.
SIGNATURE_INK_PPM = 3_000
# Tolerance of a name's or a role's word to what OCR read, after OCR's usual
# confusions are folded (_fold): edits allowed by word length. Measured on
# 60 generated actas (30 right, 30 naming another person; 150-200 dpi,
# varied): every word of the right person's name was read at 0 edits (120
# words); the nearest word read to the form's name in another person's acta
# was 3+ edits away for words of 8+ letters, 2+ for 5-7 letters (one at 1:
# a name needs two words, so one slip does not make it), 2+ for 4 or fewer.
# Short words get none: "acta" is not "acto"; accents are folded anyway.
SHORT_WORD = 4
LONG_WORD = 8


def allowed_edits(word: str) -> int:
    return 0 if len(word) <= SHORT_WORD else 1 if len(word) < LONG_WORD else 2


# A cell's printed border comes out as short words ("o", "|", "E") read
# at 0-40: dropped from the end of a value shown to staff.
JUNK_CONFIDENCE = 50
# Entity names compared: the share of the form's entity words found on the
# signed scan below which staff are warned (a warning, never a problem).
ENTITY_WORDS_SHARE = 0.5

FORM_FALLBACK_MARKS = ("formato de solicitud", "datos de la entidad", "datos del representante legal",
                       "cuentas a las que se solicita")
ACTA_MARKS = ("acta", "posesion", "posesiono", "posesionado", "posesionar", "juramento", "jurar")

# What OCR confuses in printed text, folded before comparing words.
_CONFUSIONS = str.maketrans({"0": "o", "1": "l", "|": "l", "!": "l", "5": "s", "8": "b", "€": "e"})


def _fold(word: str) -> str:
    return word.translate(_CONFUSIONS).replace("rn", "m").replace("vv", "w").replace("i", "l")


# -- what was read, as tokens -----------------------------------------------


@dataclass(frozen=True)
class Token:
    text: str  # normalised (accents and case folded), letters and digits
    raw: str  # as read
    confidence: int
    page: int
    line: int  # index of the line on the page
    word: int = 0  # index of the word it was read in (a word may give several tokens)


@dataclass(frozen=True)
class Match:
    """Something of the form found in a scan: its words as read and how sure."""

    found: bool
    text: str = ""
    confidence: int = 0
    page: int = 0


# The last readings' tokens and lines, by identity: every check and the
# stored summary ask again for the same reading (hashing a reading of 3,000
# words, as an lru_cache would at each call, costs more than the tokens).
_SEEN: list[tuple[ScanReading, tuple, tuple | None]] = []
_SEEN_SIZE = 4


def tokens_of(reading: ScanReading) -> tuple[Token, ...]:
    for seen, tokens, _lines in _SEEN:
        if seen is reading:
            return tokens
    tokens = _tokens_of(reading)
    _SEEN.insert(0, (reading, tokens, None))
    del _SEEN[_SEEN_SIZE:]
    return tokens


def _tokens_of(reading: ScanReading) -> tuple[Token, ...]:
    """The words read, as normalised tokens, line by line and left to right.
    Lines are rebuilt from the boxes (a word joins the line whose middle is
    within its height): the form is a label column beside a value column,
    which Tesseract may read as two blocks, one after the other."""
    out: list[Token] = []
    if not reading.words:
        n_word = 0
        for n, line in enumerate(reading.text.splitlines()):
            for raw in line.split():
                out += [Token(t, raw, reading.confidence, 0, n, n_word) for t in _split(raw)]
                n_word += 1
        return tuple(out)
    placed = []  # (line, x0, word)
    line_no, page, mid, height = -1, None, 0.0, 0
    slopes = {n: _slope([w for w in reading.words if w.page == n]) for n in {w.page for w in reading.words}}

    def level(w: Word) -> float:  # the word's middle, as if the page were not askew
        return (w.box[1] + w.box[3]) / 2 - slopes[w.page] * (w.box[0] + w.box[2]) / 2

    for word in sorted(reading.words, key=lambda w: (w.page, level(w))):
        x0, y0, x1, y1 = word.box
        here = level(word)
        if word.page != page or abs(here - mid) > max(height, y1 - y0, 1) * 0.6:
            line_no, page, mid, height = line_no + 1, word.page, here, y1 - y0
        placed.append((line_no, x0, word))
    for n_word, (line, _x, word) in enumerate(sorted(placed, key=lambda p: (p[0], p[1]))):
        out += [Token(t, word.text, word.confidence, word.page, line, n_word) for t in _split(word.text)]
    return tuple(out)


def _slope(words: list[Word]) -> float:
    """How askew a page's lines run (dy/dx), from the words as Tesseract
    read them, line by line: the median slope between neighbours on a line.
    Pages under 2 degrees are not straightened (ocr/clean.py), yet across
    1,000 px a 1.7 degree skew moves a line 30 px, more than the space
    between two lines: sorted by height alone, the title's words fell among
    the next lines' and the form was "not the form" (bench/scan_precision.py,
    seed 6522)."""
    found = []
    for a, b in zip(words, words[1:]):
        height = max(a.box[3] - a.box[1], b.box[3] - b.box[1], 1)
        dx = (b.box[0] + b.box[2]) / 2 - (a.box[0] + a.box[2]) / 2
        dy = (b.box[1] + b.box[3]) / 2 - (a.box[1] + a.box[3]) / 2
        if height < dx < 8 * height and abs(dy) < height:
            found.append(dy / dx)
    return statistics.median(found) if len(found) >= 5 else 0.0


def _split(raw: str) -> list[str]:
    """'Alcaldía,' -> ['alcaldia']; an address stays whole."""
    text = normalise(raw).strip(".,;:()\"'")
    if "@" in text:
        return [text]
    return [t for t in re.split(r"[^0-9a-z]+", text) if t]


def lines_of(reading: ScanReading) -> tuple[tuple[Token, ...], ...]:
    """Tokens grouped by line, each line left to right."""
    tokens = tokens_of(reading)
    for seen, _tokens, lines in _SEEN:
        if seen is reading and lines is not None:
            return lines
    by_line: dict[int, list[Token]] = {}
    for t in tokens:
        by_line.setdefault(t.line, []).append(t)
    lines = tuple(tuple(by_line[k]) for k in sorted(by_line))
    for n, (seen, _tokens, _lines) in enumerate(_SEEN):
        if seen is reading:
            _SEEN[n] = (seen, tokens, lines)
    return lines


@dataclass(frozen=True)
class PageState:
    page: int
    state: str  # "read", "blank" or "unread"
    reason: str = ""


READ, BLANK, UNREAD = "read", "blank", "unread"


def page_states(reading: ScanReading, ink_ppm: int | None = None) -> list[PageState]:
    """Each page as the checks see it: read with confidence, blank, or not
    read (the engine's reason, or too little confidence). A page's ink is
    its own (PageReading.ink_ppm, a PDF's pages), else ``ink_ppm``, the ink
    of a one-page image (FileFacts.image_ink_ppm); None: not measured, and
    then the page is not taken for blank."""
    if not reading.engine:
        reason = next((p.reason for p in reading.pages if p.reason), "no hay motor de OCR con datos de español")
        pages = reading.pages or ()
        return [PageState(p.page, UNREAD, p.reason or reason) for p in pages] or [PageState(0, UNREAD, reason)]
    states = []
    for p in reading.pages:
        words = [w for w in reading.words if w.page == p.page]
        if p.read and len(words) <= BLANK_MAX_WORDS:
            ink = p.ink_ppm if p.ink_ppm is not None else ink_ppm if len(reading.pages) == 1 else None
            if ink is not None and ink < BLANK_INK_PPM:
                states.append(PageState(p.page, BLANK))
            elif ink is None:
                states.append(PageState(p.page, UNREAD, "no se leyó ninguna palabra (puede estar en blanco)"))
            else:
                states.append(PageState(p.page, UNREAD, "no se leyó ninguna palabra, aunque la página tiene tinta"))
        elif not p.read:
            states.append(PageState(p.page, UNREAD, p.reason or "no se pudo leer"))
        elif p.confidence >= PAGE_CONFIDENCE:
            states.append(PageState(p.page, READ))
        else:
            states.append(PageState(p.page, UNREAD, f"se leyó con poca confianza ({p.confidence}/100)"))
    return states


def decidable(reading: ScanReading, ink_ppm: int | None) -> bool:
    """Read well enough to say what the document is not: every page read
    was read with confidence or is blank, and at least one page was read."""
    states = page_states(reading, ink_ppm)
    return bool(states) and all(s.state != UNREAD for s in states)


def is_blank(reading: ScanReading, ink_ppm: int | None) -> bool:
    states = page_states(reading, ink_ppm)
    return bool(states) and all(s.state == BLANK for s in states)


# -- tolerant matching ------------------------------------------------------


def word_matches(expected: str, read: str) -> bool:
    """One word of the form against one word read: equal after folding OCR's
    confusions, or within allowed_edits (never a substring: "ana" is not in
    "mañana", "luis" is not "luisa" unless one edit away and long enough)."""
    a, b = _fold(expected), _fold(read)
    if a == b:
        return True
    budget = allowed_edits(a)
    return budget > 0 and Levenshtein.distance(a, b, score_cutoff=budget) <= budget


def find_phrase(tokens: list[Token], phrase: str) -> Match:
    """The words of ``phrase`` in a row among ``tokens``, each tolerantly."""
    words = [w for w in re.split(r"[^0-9a-z]+", normalise(phrase)) if w]
    if not words:
        return Match(False)
    plain = [t for t in tokens if re.fullmatch(r"[0-9a-z]+", t.text)]
    for i in range(len(plain) - len(words) + 1):
        window = plain[i:i + len(words)]
        if all(word_matches(w, t.text) for w, t in zip(words, window)):
            return Match(True, " ".join(t.raw for t in window), min(t.confidence for t in window), window[0].page)
    return Match(False)


# Particles and titles that say nothing about who a person is.
NAME_PARTICLES = frozenset(("del", "las", "los", "san", "don", "dona", "sr", "sra"))
# The name's words found must lie this close in the text (words apart): the
# same person, not a first name in one paragraph and a surname in another.
NAME_WINDOW = 8


def name_tokens(name: str) -> list[str]:
    words = re.sub(r"[^\w]+", " ", normalise(name)).split()
    return [w for w in words if len(w) > 2 and w not in NAME_PARTICLES]


def find_name(tokens: list[Token], name: str) -> Match:
    """A person's name among the words read: at least two of its words
    (all when it has fewer), whole and tolerantly, within NAME_WINDOW words."""
    wanted = name_tokens(name)
    if not wanted:
        return Match(False)
    need = min(2, len(wanted))
    plain = [t for t in tokens if re.fullmatch(r"[0-9a-z]+", t.text)]
    hits = [(i, w) for i, t in enumerate(plain) for w in wanted if word_matches(w, t.text)]
    for start, _ in hits:
        near = {w: i for i, w in hits if start <= i < start + NAME_WINDOW}
        if len(near) >= need:
            found = sorted(near.values())
            return Match(True, " ".join(plain[i].raw for i in found), min(plain[i].confidence for i in found),
                         plain[found[0]].page)
    return Match(False)


def find_any(tokens: list[Token], phrases) -> Match:
    for phrase in phrases:
        match = find_phrase(tokens, phrase)
        if match.found:
            return match
    return Match(False)


# -- what the signed form shows ---------------------------------------------

NIT_PATTERN = re.compile(r"(?<!\d)(\d{3}[.\s]?\d{3}[.\s]?\d{3})\s?[-–—]\s?(\d)(?!\d)")
EMAIL_PATTERN = re.compile(r"[a-z0-9][a-z0-9._%+-]*@[a-z0-9-]+(?:\.[a-z0-9-]+)+")


@dataclass(frozen=True)
class ReadValue:
    value: str
    confidence: int
    page: int


def _words(line: list[Token]) -> list[tuple[str, int]]:
    """A line's words as read (a word split into tokens counts once)."""
    seen: dict[int, tuple[str, int]] = {}
    for t in line:
        seen.setdefault(t.word, (t.raw, t.confidence))
    return list(seen.values())


def nits_read(reading: ScanReading) -> list[ReadValue]:
    """NITs with a valid check digit ("890.905.211-1", or the number on the
    NIT line and its digit on the DV line), each with the lowest confidence
    of the words it was read from."""
    found = []
    for line in lines_of(reading):
        words = _words(line)
        text = " ".join(w for w, _c in words)
        for m in NIT_PATTERN.finditer(text):
            parsed = nit.parse(f"{m.group(1)}-{m.group(2)}")
            if parsed is None or not parsed.valid:
                continue
            start, end, at, confs = m.start(), m.end(), 0, []
            for w, c in words:  # the words the match spans
                if at < end and at + len(w) > start:
                    confs.append(c)
                at += len(w) + 1
            found.append(ReadValue(str(parsed), min(confs, default=0), line[0].page))
    number, dv = value_after(reading, "NIT"), value_after(reading, "DV")
    if not found and number and dv and re.fullmatch(r"\d{9}", number.value.replace(".", "")) \
            and re.fullmatch(r"\d", dv.value):
        parsed = nit.parse(number.value, dv.value)
        if parsed is not None and parsed.valid:
            found.append(ReadValue(str(parsed), min(number.confidence, dv.confidence), number.page))
    return found


def emails_read(reading: ScanReading, domains: tuple[str, ...] = ()) -> list[ReadValue]:
    """The addresses read, each with its word's confidence. Tesseract's
    Spanish model hardly ever reads "@" (it gives "(O", "Q", "f" or
    nothing, at confidences of 0-60 for the whole word): a word that ends
    with one of ``domains`` after one or two such characters is that
    address too, with the word's (low) confidence, so that it can be
    shown to staff though never decide a problem."""
    found, seen = [], set()
    for t in tokens_of(reading):
        if t.word in seen:
            continue
        seen.add(t.word)
        word = normalise(t.raw).strip(".,;:")
        m = EMAIL_PATTERN.search(word)
        if m:
            found.append(ReadValue(m.group(0).rstrip("."), t.confidence, t.page))
            continue
        for domain in domains:
            local = word[: -len(domain)] if word.endswith(domain) and len(word) > len(domain) + 2 else ""
            local = re.sub(r"[^a-z0-9._-]+[a-z]?$", "", local) if re.search(r"[^a-z0-9._-]", local) else local[:-1]
            if re.fullmatch(r"[a-z0-9][a-z0-9._-]*", local or "-"):
                found.append(ReadValue(f"{local}@{domain}", t.confidence, t.page))
                break
    return found


def value_after(reading: ScanReading, label: str) -> ReadValue | None:
    """What follows a printed label on its line ("Nombre de la entidad
    Alcaldía de Prueba"): the form is a label column and a value column."""
    label_words = [w for w in re.split(r"[^0-9a-z]+", normalise(label)) if w]
    for line in lines_of(reading):
        words = _words(line)
        if len(words) <= len(label_words):
            continue
        if all(word_matches(w, normalise(raw).strip(".,;:|[]()")) for w, (raw, _c) in zip(label_words, words)):
            rest = [(raw.strip("|[](){}"), c) for raw, c in words[len(label_words):]]
            rest = [(raw, c) for raw, c in rest if re.search(r"\w", raw)]
            # The cell's border read as letters: short words read at near nothing, at the end.
            while rest and len(rest[-1][0]) <= 2 and rest[-1][1] < JUNK_CONFIDENCE:
                rest.pop()
            if rest:
                return ReadValue(" ".join(raw for raw, _c in rest), min(c for _r, c in rest), line[0].page)
    return None


def _form_addresses(form: FormData) -> list[str]:
    values = [a.account for a in form.accounts] + list(form.fields.values())
    return [normalise(v) for v in values if v and "@" in v]


def _listed(address: str, known: list[str]) -> bool:
    """An address read is one the form lists when it is within OCR's slips
    of it (two edits, or one in eight characters), the glyph read for "@"
    and a character beside it forgiven."""
    local, _, domain = address.rpartition("@")
    for k in known:
        k_local, _, k_domain = k.rpartition("@")
        budget = max(2, len(k) // 8)
        if Levenshtein.distance(_fold(address), _fold(k)) <= budget:
            return True
        if domain == k_domain and min(Levenshtein.distance(_fold(v), _fold(k_local))
                                      for v in (local, local[:-1], local + "o")) <= max(1, len(k_local) // 8):
            return True
    return False


def form_marks(exam: Examination, rules: Rules) -> tuple[str, ...]:
    """The printed words that make a page the request form on their own:
    its title, its sections' titles (documents.toml's text words for the
    rules folder's form)."""
    labels = exam.labels(rules)
    marks = [labels.title] if labels.title else []
    marks += [t for titles in labels.sections.values() for t in titles]
    marks += list(rules.documents.kinds[SIGNED_FORM].text_words) if labels is rules.form else []
    return tuple(m for m in marks if len(m) >= 8) or FORM_FALLBACK_MARKS


# The form's field labels of two words or more ("Nombres y apellidos",
# "Número de documento"): a page showing this many of them is the form even
# when its title and its section bands (white on dark blue, which Tesseract
# often skips) were not read. One-word labels ("Municipio") are in any acta.
MIN_FORM_LABELS = 2


def form_labels(exam: Examination, rules: Rules) -> tuple[str, ...]:
    labels = exam.labels(rules)
    found = {label for f in labels.fields.values() for label in f.labels if len(label.split()) >= 2}
    return tuple(sorted(found))


def looks_like_the_form(tokens: list[Token], exam: Examination, rules: Rules) -> bool:
    if find_any(tokens, form_marks(exam, rules)).found:
        return True
    return sum(find_phrase(tokens, label).found for label in form_labels(exam, rules)) >= MIN_FORM_LABELS


# -- the checks -------------------------------------------------------------


def _reading(exam: Examination, kind: str) -> tuple[FileFacts, ScanReading] | None:
    chosen = exam.chosen.get(kind)
    if chosen is None or not chosen.facts.readable or chosen.facts.reading is None:
        return None
    return chosen.facts, chosen.facts.reading


def check_signed_form_reading(exam: Examination, rules: Rules) -> list[Finding]:
    """The signed form as read: the form at all (signed_form_not_the_form),
    signed (signed_form_unsigned), and the same request as the Excel form
    (signed_form_mismatch; the entity's name: signed_form_entity_differs)."""
    got = _reading(exam, SIGNED_FORM)
    if got is None:
        return []
    facts, reading = got
    name = facts.filename
    if not decidable(reading, facts.image_ink_ppm):
        return []  # scans_read says which pages, and why
    if is_blank(reading, facts.image_ink_ppm):
        return [Finding(PROBLEM, "signed_form_not_the_form", "es una página en blanco", name)]
    tokens = tokens_of(reading)
    if not looks_like_the_form(tokens, exam, rules):
        if too_few_words(reading):
            return [too_few_words(reading, name)]
        return [Finding(PROBLEM, "signed_form_not_the_form", "no tiene el título ni las secciones del formato", name)]
    findings = _signature(reading, tokens, name)
    if exam.form is not None:
        findings += _mismatch(exam, reading, tokens, name)
    return findings


def _signature(reading: ScanReading, tokens: list[Token], name: str) -> list[Finding]:
    sig = reading.signature
    if sig is None or not sig.found:
        return [Finding(WARNING, "scan_not_read", "no se encontró la línea de firma del formato: verifique la firma "
                                                  "a mano", name)]
    label_words = [t for t in tokens if t.page == sig.page and t.text in set(re.split(r"[^0-9a-z]+", normalise(sig.label)))]
    if not label_words or min(t.confidence for t in label_words[:3]) < WORD_CONFIDENCE:
        return [Finding(WARNING, "scan_not_read", f"la línea de firma se leyó con poca confianza (página "
                                                  f"{sig.page + 1}): verifique la firma a mano", name)]
    if _says_where_to_sign(sig.label) and sig.ink_ppm >= SIGNATURE_INK_PPM:
        return []  # ink where the form says to sign: signed, however little else was read
    if not _says_where_to_sign(sig.label) or too_few_words(reading):
        # A bare "Firma" may sit above, below or beside where people sign,
        # and a page read in part may have lost the real signature label:
        # the lack of ink measured beside it proves nothing either way.
        return [Finding(WARNING, "scan_not_read", f"la firma no se pudo ubicar con certeza (página {sig.page + 1}, "
                                                  f"«{sig.label}»): verifíquela a mano", name)]
    return [Finding(PROBLEM, "signed_form_unsigned",
                    f"sobre «{sig.label}» (página {sig.page + 1}) no hay firma, sello ni marca", name)]


def _says_where_to_sign(label: str) -> bool:
    """A label that places the signature: words after "Firma" ("Firma del
    representante legal", "Firma y sello"), or "FIRMA:" followed by the line."""
    words = label.split()
    return len(words) >= 2 or label.rstrip().endswith(":")


def _mismatch(exam: Examination, reading: ScanReading, tokens: list[Token], name: str) -> list[Finding]:
    form = exam.form
    findings = []
    ours = nit.parse(form.fields["entity_nit"], form.fields.get("entity_dv")) if form.fields.get("entity_nit") else None
    if ours is not None:
        seen = nits_read(reading)
        if seen and not any(v.value.split("-")[0] == ours.number for v in seen):
            sure = [v for v in seen if v.confidence >= NIT_CONFIDENCE]
            if sure:
                findings.append(Finding(PROBLEM, "signed_form_mismatch",
                                        f"en el escaneo el NIT es {sure[0].value}; en el formato Excel, {ours}",
                                        name))
    known = _form_addresses(form)
    if known:
        domains = tuple(sorted({k.rpartition("@")[2] for k in known}, key=len, reverse=True))
        extra = [v for v in emails_read(reading, domains) if not _listed(v.value, known)]
        sure = [v for v in extra if v.confidence >= FIELD_CONFIDENCE]
        if sure:
            findings.append(Finding(PROBLEM, "signed_form_mismatch",
                                    f"en el escaneo se pide la cuenta {sure[0].value}, que el formato Excel no "
                                    "incluye", name))
        elif extra:
            findings.append(Finding(WARNING, "scan_not_read",
                                    f"página {extra[0].page + 1}: el formato firmado parece pedir la cuenta "
                                    f"{extra[0].value}, que el formato Excel no incluye, pero se leyó con poca "
                                    f"confianza ({extra[0].confidence}/100): compárelo a mano", name))
    entity = (form.fields.get("entity_name") or "").strip()
    if entity:
        read = value_after(reading, "Nombre de la entidad")
        if read is not None and read.confidence >= FIELD_CONFIDENCE and not _entity_same(entity, read.value):
            findings.append(Finding(WARNING, "signed_form_entity_differs",
                                    f"el formato firmado dice «{read.value}»; el formato Excel, «{entity}»", name))
    return findings


def _entity_same(written: str, read: str) -> bool:
    wanted = [w for w in re.split(r"[^0-9a-z]+", normalise(written)) if len(w) > 2 and w not in ("del", "las", "los")]
    got = [w for w in re.split(r"[^0-9a-z]+", normalise(read)) if w]
    if not wanted:
        return True
    hits = sum(any(word_matches(w, g) for g in got) for w in wanted)
    return hits / len(wanted) >= ENTITY_WORDS_SHARE


def check_acta_reading(exam: Examination, rules: Rules) -> list[Finding]:
    """A readable scan sent as the acta with none of an acta's words is
    acta_not_an_acta (a blank page too)."""
    got = _reading(exam, ACTA)
    if got is None:
        return []
    facts, reading = got
    if not decidable(reading, facts.image_ink_ppm):
        return []
    if is_blank(reading, facts.image_ink_ppm):
        return [Finding(PROBLEM, "acta_not_an_acta", "es una página en blanco", facts.filename)]
    if not is_an_acta(tokens_of(reading), rules):
        if too_few_words(reading):
            return [too_few_words(reading, facts.filename)]
        return [Finding(PROBLEM, "acta_not_an_acta", "no dice que alguien tomó posesión de un cargo",
                        facts.filename)]
    if too_few_words(reading) and exam.form is not None:
        # An acta read in part: whom it names is not known (acta_text_findings says nothing).
        return [Finding(WARNING, "scan_not_read", f"se leyeron solo {_confident_count(reading)} palabras con "
                                                  "confianza: compare a mano el nombre y el cargo del acta",
                        facts.filename)]
    return []


def too_few_words(reading: ScanReading, document: str | None = None):
    """Whether too few words were read surely to say what the document is
    not (with ``document``: the scan_not_read finding that says so)."""
    count = _confident_count(reading)
    if count >= MIN_CONFIDENT_WORDS:
        return None
    if document is None:
        return True
    return Finding(WARNING, "scan_not_read", f"se leyeron solo {count} palabras con confianza: no bastan para saber "
                                             "qué documento es; compárelo a mano", document)


def _confident_count(reading: ScanReading) -> int:
    return sum(w.confidence >= WORD_CONFIDENCE for w in reading.words)


def is_an_acta(tokens: list[Token], rules: Rules) -> bool:
    """Any of an acta's words (documents.toml's, and "acta", "posesión",
    "juramento" alone): generous, since saying a page is NOT an acta is the
    claim that must be sure."""
    return find_any(tokens, tuple(rules.documents.kinds[ACTA].text_words) + ACTA_MARKS).found


def acta_text_findings(exam: Examination, rules: Rules, role_words: tuple[str, ...] | None, role_name: str) -> list[Finding]:
    """legal_rep_not_in_acta and legal_rep_role_not_in_acta on a read acta
    (called by checks.py's two checks when the acta is a scan)."""
    got = _reading(exam, ACTA)
    if got is None or exam.form is None:
        return []
    facts, reading = got
    if not decidable(reading, facts.image_ink_ppm) or is_blank(reading, facts.image_ink_ppm):
        return []
    tokens = tokens_of(reading)
    if not is_an_acta(tokens, rules) or too_few_words(reading):
        return []  # acta_reading says it is no acta, or that it was read in part
    if role_words is None:
        person = exam.form.fields.get("legal_rep_name", "")
        if person and not find_name(tokens, person).found:
            return [Finding(WARNING, "legal_rep_not_in_acta", f"el acta escaneada no menciona a {person}", facts.filename)]
        return []
    if not find_any(tokens, role_words).found:
        return [Finding(WARNING, "legal_rep_role_not_in_acta", f"el acta escaneada no menciona el cargo de {role_name}",
                        facts.filename)]
    return []


def check_scans_read(exam: Examination, rules: Rules) -> list[Finding]:
    """Never silent (CONTRACT §11): every page of a counted scan that was not
    read with confidence is said to staff, with its file and page and why.
    The identity document is left to check_identity_document, which says
    the same of it in the procedures that ask for one."""
    findings = []
    for kind, chosen in exam.chosen.items():
        facts = chosen.facts
        if kind in ("excel_form", "identity_document") or not facts.readable or not _is_scan(facts):
            continue
        if facts.reading is None:
            findings.append(Finding(WARNING, "scan_not_read", "no se leyó (OCR desactivado o no disponible): "
                                                              "compárelo a mano", facts.filename))
            continue
        unread = [s for s in page_states(facts.reading, facts.image_ink_ppm) if s.state == UNREAD]
        for s in unread[:5]:
            findings.append(Finding(WARNING, "scan_not_read", f"página {s.page + 1}: {s.reason}; compárela a mano",
                                    facts.filename))
    return findings


def _is_scan(facts: FileFacts) -> bool:
    if facts.reading is not None or facts.image_size is not None:
        return True
    return facts.pdf is not None and facts.pdf.is_scan and not facts.pdf.has_text


# -- what staff see -----------------------------------------------------------

TEXT_CHARS = 2000


def reading_summary(reading: ScanReading, ink_ppm: int | None = None) -> dict:
    """The reading as stored with the document (documents.facts_json) and
    shown (CONTRACT §11's ``reading``), with what the checks compare: the
    lines read with their lowest word confidence (for matching the form's
    person and role when staff look), the NITs with a valid check digit,
    the addresses and the form's labelled values, as read."""
    summary = {
        "engine": reading.engine,
        "pages_read": reading.pages_read,
        "confidence": reading.confidence,
        "text": reading.text[:TEXT_CHARS],
        "pages": [{"page": s.page + 1, "state": s.state, "reason": s.reason} for s in page_states(reading, ink_ppm)],
    }
    if reading.signature is not None:
        summary["signature"] = {"found": reading.signature.found, "ink": round(reading.signature.ink_ppm / 1e6, 4),
                                "label": reading.signature.label, "page": reading.signature.page + 1}
    lines, size = [], 0
    for line in lines_of(reading):
        text = " ".join(raw for raw, _c in _words(line))
        size += len(text) + 1
        if size > TEXT_CHARS:
            break
        lines.append([text, min(t.confidence for t in line)])
    summary["lines"] = lines
    found: dict = {}
    for key, label in (("entity", "Nombre de la entidad"), ("name", "Nombres y apellidos"), ("role", "Cargo")):
        value = value_after(reading, label)
        if value is not None:
            found[key] = {"value": value.value, "confidence": value.confidence}
    nits = nits_read(reading)
    if nits:
        found["nit"] = {"value": nits[0].value, "confidence": nits[0].confidence}
    emails = emails_read(reading)
    if emails:
        found["addresses"] = [{"value": e.value, "confidence": e.confidence} for e in emails[:20]]
    summary["found"] = found
    return summary


def reading_view(summary: dict, kind: str | None, fields: dict) -> dict:
    """``reading`` of ``show --json`` (CONTRACT §11) from the stored summary:
    engine, pages_read, confidence, text, the signed form's signature
    {found, ink}, and ``matched``: the form's NIT, entity, name and role as
    the scan shows them, with their confidence and whether they agree."""
    view = {key: summary.get(key) for key in ("engine", "pages_read", "confidence", "text")}
    view["pages"] = summary.get("pages", [])
    if kind == SIGNED_FORM and "signature" in summary:
        view["signature"] = {"found": summary["signature"]["found"], "ink": summary["signature"]["ink"],
                             "label": summary["signature"]["label"]}
    view["matched"] = _matched(summary, kind, fields)
    return view


def _matched(summary: dict, kind: str | None, fields: dict) -> list[dict]:
    found = summary.get("found", {})
    tokens = [Token(t, raw, conf, 0, n) for n, (text, conf) in enumerate(summary.get("lines", []))
              for raw in text.split() for t in _split(raw)]
    out = []
    for key, what, field in (("nit", "NIT", "entity_nit"), ("entity", "Entidad", "entity_name"),
                             ("name", "Representante legal", "legal_rep_name"),
                             ("role", "Cargo", "legal_rep_position")):
        wanted = (fields.get(field) or "").strip()
        if kind == SIGNED_FORM and key in found:
            got = found[key]
            out.append({"field": what, "form": wanted, "read": got["value"], "confidence": got["confidence"],
                        "agrees": _agrees(key, wanted, got["value"]) if wanted else None})
        elif kind == ACTA and key in ("name", "role") and wanted:
            match = find_name(tokens, wanted) if key == "name" else find_phrase(tokens, wanted.split("(")[0])
            out.append({"field": what, "form": wanted, "read": match.text,
                        "confidence": match.confidence if match.found else 0, "agrees": match.found})
    return out


def _agrees(key: str, wanted: str, read: str) -> bool:
    if key == "nit":
        ours, theirs = nit.parse(wanted), nit.parse(read)
        return bool(ours and theirs and ours.number == theirs.number)
    if key == "name":
        return find_name([Token(t, t, 100, 0, 0) for raw in read.split() for t in _split(raw)], wanted).found
    return _entity_same(wanted, read)
