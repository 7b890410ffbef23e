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
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from typing import TYPE_CHECKING

from .. import nit
from ..documents.classify import ACTA, SIGNED_FORM
from ..documents.facts import FileFacts, FormData
from ..documents.reading import ScanReading
from ..rules import Rules, normalise

if TYPE_CHECKING:
    from . import checks
    from .checks import Examination

# checks.py registers these checks and calls acta_text_findings; it is
# imported here only when a finding is made, so that either module may be
# imported first.
PROBLEM = "problem"
WARNING = "warning"


def Finding(severity: str, code: str, detail: str = "", document: str | None = None) -> checks.Finding:  # noqa: N802
    """A checks.Finding (that module is imported at the first finding, not
    before: it imports this one to register the checks)."""
    from .checks import Finding as _Finding

    return _Finding(severity, code, detail, document)

# -- thresholds ----------------------------------------------------------

# A word counts as read with confidence at this Tesseract word confidence.
# On the generated scans (bench/scan_precision.py) the form's printed words
# read at 85-96 and the words Tesseract invents in noise, stamps and
# scribbles at 0-60.
WORD_CONFIDENCE = 70
# A page is read well enough to say what it is NOT when its mean word
# confidence reaches this and it has this many confident words: the worst
# readable generated scans (100 dpi, JPEG 40, blur) read at 62-75 mean with
# 60+ confident words; a scribble-only or noisy page stays under 40.
PAGE_CONFIDENCE = 60
MIN_CONFIDENT_WORDS = 25
# A page the engine read that shows at most this many words of any
# confidence is blank (a blank scan gives 0-2 words of noise).
BLANK_MAX_WORDS = 2
# Characters of a NIT or an account claimed to differ from the Excel form:
# each of their words must read at least this (digits and addresses are
# where OCR confuses most: 0/O, 1/l, rn/m).
FIELD_CONFIDENCE = 85
# The signature area holds a signature when its dark pixels reach this
# (parts per million of the area). An empty printed line measures 0-2,000
# (the line itself, specks), a thin scribble 6,000 and more, a stamp more.
SIGNATURE_INK_PPM = 4_000
# Tolerance of a name's or a role's word to what OCR read, after OCR's usual
# confusions are folded (_fold): edits allowed by word length. Measured on
# the generated actas (bench/scan_precision.py): the right person's words
# are found at 0-1 edits, and no word of another person's name is within
# these of the form's. Short words get none: "acta" is not "acto", "Ruiz"
# not "Ruíz"... which folding already makes equal.
SHORT_WORD = 4
LONG_WORD = 8


def allowed_edits(word: str) -> int:
    return 0 if len(word) <= SHORT_WORD else 1 if len(word) < LONG_WORD else 2


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


@dataclass(frozen=True)
class Match:
    """Something of the form found in a scan: its words as read and how sure."""

    found: bool
    text: str = ""
    confidence: int = 0
    page: int = 0


def tokens_of(reading: ScanReading) -> list[Token]:
    """The words read, as normalised tokens, line by line and left to right.
    Lines are rebuilt from the boxes (a word joins the line whose middle is
    within its height): the form is a label column beside a value column,
    which Tesseract may read as two blocks, one after the other."""
    out: list[Token] = []
    if not reading.words:
        for n, line in enumerate(reading.text.splitlines()):
            for raw in line.split():
                out += [Token(t, raw, reading.confidence, 0, n) for t in _split(raw)]
        return out
    placed = []  # (line, x0, word)
    line_no, page, mid, height = -1, None, 0.0, 0
    for word in sorted(reading.words, key=lambda w: (w.page, (w.box[1] + w.box[3]) / 2)):
        x0, y0, x1, y1 = word.box
        here = (y0 + y1) / 2
        if word.page != page or abs(here - mid) > max(height, y1 - y0, 1) * 0.6:
            line_no, page, mid, height = line_no + 1, word.page, here, y1 - y0
        placed.append((line_no, x0, word))
    for line, _x, word in sorted(placed, key=lambda p: (p[0], p[1])):
        out += [Token(t, word.text, word.confidence, word.page, line) for t in _split(word.text)]
    return out


def _split(raw: str) -> list[str]:
    """'Alcaldía,' -> ['alcaldia']; an address stays whole."""
    text = normalise(raw).strip(".,;:()\"'")
    if "@" in text:
        return [text]
    return [t for t in re.split(r"[^0-9a-z]+", text) if t]


def lines_of(reading: ScanReading) -> list[list[Token]]:
    """Tokens grouped by line, each line left to right."""
    by_line: dict[int, list[Token]] = {}
    for t in tokens_of(reading):
        by_line.setdefault(t.line, []).append(t)
    return [by_line[k] for k in sorted(by_line)]


@dataclass(frozen=True)
class PageState:
    page: int
    state: str  # "read", "blank" or "unread"
    reason: str = ""


READ, BLANK, UNREAD = "read", "blank", "unread"


def page_states(reading: ScanReading) -> list[PageState]:
    """Each page as the checks see it: read with confidence, blank, or not
    read (the engine's reason, or too little confidence)."""
    if not reading.engine:
        reason = next((p.reason for p in reading.pages if p.reason), "no hay motor de OCR con datos de español")
        pages = reading.pages or ()
        return [PageState(p.page, UNREAD, p.reason or reason) for p in pages] or [PageState(0, UNREAD, reason)]
    states = []
    for p in reading.pages:
        words = [w for w in reading.words if w.page == p.page]
        confident = [w for w in words if w.confidence >= WORD_CONFIDENCE]
        if p.read and len(words) <= BLANK_MAX_WORDS:
            states.append(PageState(p.page, BLANK))
        elif not p.read:
            states.append(PageState(p.page, UNREAD, p.reason or "no se pudo leer"))
        elif p.confidence >= PAGE_CONFIDENCE and len(confident) >= MIN_CONFIDENT_WORDS:
            states.append(PageState(p.page, READ))
        else:
            states.append(PageState(p.page, UNREAD, f"se leyó con poca confianza ({p.confidence}/100)"))
    return states


def decidable(reading: ScanReading) -> bool:
    """Read well enough to say what the document is not: every page read
    was read with confidence or is blank, and at least one page was read."""
    states = page_states(reading)
    return bool(states) and all(s.state != UNREAD for s in states)


def is_blank(reading: ScanReading) -> bool:
    states = page_states(reading)
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


def nits_read(reading: ScanReading) -> list[ReadValue]:
    """NITs with a valid check digit, each with its words' lowest confidence."""
    found = []
    for line in lines_of(reading):
        text = " ".join(t.raw for t in line)
        for m in NIT_PATTERN.finditer(text):
            parsed = nit.parse(f"{m.group(1)}-{m.group(2)}")
            if parsed is None or not parsed.valid:
                continue
            digits = set(re.sub(r"\D", "", m.group(0)))
            conf = min((t.confidence for t in line if set(re.sub(r"\D", "", t.raw)) & digits), default=0)
            found.append(ReadValue(str(parsed), conf, line[0].page))
    return found


def emails_read(reading: ScanReading) -> list[ReadValue]:
    found = []
    for t in tokens_of(reading):
        m = EMAIL_PATTERN.search(normalise(t.raw))
        if m:
            found.append(ReadValue(m.group(0).rstrip("."), t.confidence, t.page))
    return found


def value_after(reading: ScanReading, label: str) -> ReadValue | None:
    """What follows a printed label on its line ("Nombre de la entidad
    Alcaldía de Prueba"): the form is a label column and a value column."""
    label_words = [w for w in re.split(r"[^0-9a-z]+", normalise(label)) if w]
    for line in lines_of(reading):
        plain = [t for t in line if re.fullmatch(r"[0-9a-z]+", t.text)]
        if len(plain) <= len(label_words):
            continue
        if all(word_matches(w, t.text) for w, t in zip(label_words, plain)):
            rest = plain[len(label_words):]
            return ReadValue(" ".join(t.raw for t in rest), min(t.confidence for t in rest), rest[0].page)
    return None


def _form_addresses(form: FormData) -> list[str]:
    values = [a.account for a in form.accounts] + list(form.fields.values())
    return [normalise(v) for v in values if v and "@" in v]


def _near(address: str, known: list[str]) -> bool:
    return any(Levenshtein.distance(_fold(address), _fold(k)) <= max(2, len(k) // 8) for k in known)


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


def check_signed_form_reading(exam: Examination, rules: Rules) -> list[checks.Finding]:
    """The signed form as read: the form at all (signed_form_not_the_form),
    signed (signed_form_unsigned), and the same request as the Excel form
    (signed_form_mismatch; the entity's name: signed_form_entity_differs)."""
    got = _reading(exam, SIGNED_FORM)
    if got is None:
        return []
    facts, reading = got
    name = facts.filename
    if not decidable(reading):
        return []  # scans_read says which pages, and why
    if is_blank(reading):
        return [Finding(PROBLEM, "signed_form_not_the_form", "es una página en blanco", name)]
    tokens = tokens_of(reading)
    if not looks_like_the_form(tokens, exam, rules):
        return [Finding(PROBLEM, "signed_form_not_the_form", "no tiene el título ni las secciones del formato", name)]
    findings = _signature(reading, tokens, name)
    if exam.form is not None:
        findings += _mismatch(exam, reading, tokens, name)
    return findings


def _signature(reading: ScanReading, tokens: list[Token], name: str) -> list[checks.Finding]:
    sig = reading.signature
    if sig is None or not sig.found:
        return [Finding(WARNING, "scan_not_read", "no se encontró la línea de firma del formato: verifique la firma "
                                                  "a mano", name)]
    label_words = [t for t in tokens if t.page == sig.page and t.text in set(re.split(r"[^0-9a-z]+", normalise(sig.label)))]
    if not label_words or min(t.confidence for t in label_words[:3]) < WORD_CONFIDENCE:
        return [Finding(WARNING, "scan_not_read", f"la línea de firma se leyó con poca confianza (página "
                                                  f"{sig.page + 1}): verifique la firma a mano", name)]
    if sig.ink_ppm < SIGNATURE_INK_PPM:
        return [Finding(PROBLEM, "signed_form_unsigned",
                        f"sobre «{sig.label}» (página {sig.page + 1}) no hay firma, sello ni marca", name)]
    return []


def _mismatch(exam: Examination, reading: ScanReading, tokens: list[Token], name: str) -> list[checks.Finding]:
    form = exam.form
    findings = []
    ours = nit.parse(form.fields["entity_nit"], form.fields.get("entity_dv")) if form.fields.get("entity_nit") else None
    if ours is not None:
        seen = nits_read(reading)
        if seen and not any(v.value.split("-")[0] == ours.number for v in seen):
            sure = [v for v in seen if v.confidence >= FIELD_CONFIDENCE]
            if sure:
                findings.append(Finding(PROBLEM, "signed_form_mismatch",
                                        f"el formato firmado dice NIT {sure[0].value}; el formato Excel dice "
                                        f"{ours}", name))
    known = _form_addresses(form)
    if known:
        extra = [v for v in emails_read(reading) if v.confidence >= FIELD_CONFIDENCE and not _near(v.value, known)]
        if extra:
            findings.append(Finding(PROBLEM, "signed_form_mismatch",
                                    f"el formato firmado pide la cuenta {extra[0].value}, que el formato Excel no "
                                    "incluye", name))
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


def check_acta_reading(exam: Examination, rules: Rules) -> list[checks.Finding]:
    """A readable scan sent as the acta with none of an acta's words is
    acta_not_an_acta (a blank page too)."""
    got = _reading(exam, ACTA)
    if got is None:
        return []
    facts, reading = got
    if not decidable(reading):
        return []
    if is_blank(reading):
        return [Finding(PROBLEM, "acta_not_an_acta", "es una página en blanco", facts.filename)]
    if not is_an_acta(tokens_of(reading), rules):
        return [Finding(PROBLEM, "acta_not_an_acta", "no dice que alguien tomó posesión de un cargo",
                        facts.filename)]
    return []


def is_an_acta(tokens: list[Token], rules: Rules) -> bool:
    """Any of an acta's words (documents.toml's, and "acta", "posesión",
    "juramento" alone): generous, since saying a page is NOT an acta is the
    claim that must be sure."""
    return find_any(tokens, tuple(rules.documents.kinds[ACTA].text_words) + ACTA_MARKS).found


def acta_text_findings(exam: Examination, rules: Rules, role_words: tuple[str, ...] | None, role_name: str) -> list[checks.Finding]:
    """legal_rep_not_in_acta and legal_rep_role_not_in_acta on a read acta
    (called by checks.py's two checks when the acta is a scan)."""
    got = _reading(exam, ACTA)
    if got is None or exam.form is None:
        return []
    facts, reading = got
    if not decidable(reading) or is_blank(reading):
        return []
    tokens = tokens_of(reading)
    if not is_an_acta(tokens, rules):
        return []  # acta_not_an_acta says so; whose name it lacks is beside the point
    if role_words is None:
        person = exam.form.fields.get("legal_rep_name", "")
        if person and not find_name(tokens, person).found:
            return [Finding(WARNING, "legal_rep_not_in_acta", f"el acta escaneada no menciona a {person}", facts.filename)]
        return []
    if not find_any(tokens, role_words).found:
        return [Finding(WARNING, "legal_rep_role_not_in_acta", f"el acta escaneada no menciona el cargo de {role_name}",
                        facts.filename)]
    return []


def check_scans_read(exam: Examination, rules: Rules) -> list[checks.Finding]:
    """Never silent (CONTRACT §11): every page of a counted scan that was not
    read with confidence is said to staff, with its file and page and why."""
    findings = []
    for kind, chosen in exam.chosen.items():
        facts = chosen.facts
        if kind not in (SIGNED_FORM, ACTA) or not facts.readable or not _is_scan(facts):
            continue
        if facts.reading is None:
            findings.append(Finding(WARNING, "scan_not_read", "no se leyó (OCR desactivado o no disponible): "
                                                              "compárelo a mano", facts.filename))
            continue
        unread = [s for s in page_states(facts.reading) if s.state == UNREAD]
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


def reading_summary(reading: ScanReading) -> dict:
    """The reading as stored with the document and shown (CONTRACT §11's
    ``reading``), with what it shows that the checks compare: the NITs with
    a valid check digit, the addresses, the form's labelled values."""
    summary = {
        "engine": reading.engine,
        "pages_read": reading.pages_read,
        "confidence": reading.confidence,
        "text": reading.text[:TEXT_CHARS],
        "pages": [{"page": s.page + 1, "state": s.state, "reason": s.reason} for s in page_states(reading)],
    }
    if reading.signature is not None:
        summary["signature"] = {"found": reading.signature.found, "ink": round(reading.signature.ink_ppm / 1e6, 4),
                                "label": reading.signature.label, "page": reading.signature.page + 1}
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


def matched(summary: dict, fields: dict, kind: str | None) -> list[tuple[str, str]]:
    """(what, how it compares) lines for staff: the form's NIT, entity, name
    and role against what the stored reading shows."""
    found = summary.get("found", {})
    text = summary.get("text", "")
    tokens = tokens_of(ScanReading(summary.get("engine", ""), 0, summary.get("confidence", 0), text))
    lines = []
    for key, what, field in (("nit", "NIT", "entity_nit"), ("entity", "Entidad", "entity_name"),
                             ("name", "Nombre", "legal_rep_name"), ("role", "Cargo", "legal_rep_position")):
        wanted = fields.get(field) or ""
        if key in found:
            got = found[key]
            lines.append((what, f"«{got['value']}» (confianza {got['confidence']})"))
        elif wanted and kind == ACTA and key in ("name", "role"):
            match = find_name(tokens, wanted) if key == "name" else find_phrase(tokens, wanted)
            lines.append((what, f"«{match.text}» encontrado" if match.found else f"«{wanted}» no encontrado"))
    return lines
