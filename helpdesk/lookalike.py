"""Domains made to look like an entity's: a near miss is a forgery's mark.

``alcaldia-prueba.gov.co`` is the entity's; ``alcaldla-prueba.gov.co`` (an
edit), ``аlcaldia-prueba.gov.co`` (a Cyrillic а), ``alcaldia-prueba.gov-co.com``
(another registrable domain behind the same labels) are somebody else's.
``near_miss`` says which directory domain a domain imitates, and how, for
the ``lookalike_domain`` warning (examination/checks.py). The same domain,
and its own subdomains, are no miss.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

# Edit distances counted as a near miss: one or two typed characters
# (a letter swapped, doubled or dropped). Three would flag unrelated short
# domains (cali.gov.co and cota.gov.co are two edits apart... and real).
MAX_EDITS = 2
# Domains this short (without the suffix the two share) differ by design:
# two edits of "cali" are another town, not a forgery.
MIN_COMPARED_LENGTH = 6

# Characters a reader takes for others: Cyrillic and Greek letters that
# look Latin, and digits that look like letters. Applied after NFKC and
# casefolding; multi-letter look-alikes (rn, vv, cl) after that.
_CONFUSABLES = str.maketrans({
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s",
    "ԁ": "d", "ӏ": "l", "һ": "h", "ԛ": "q", "ԝ": "w", "к": "k", "м": "m", "т": "t", "в": "b", "н": "h",
    "α": "a", "ο": "o", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ρ": "p", "τ": "t", "υ": "u", "χ": "x",
    "0": "o", "1": "l", "i": "l", "|": "l", "5": "s", "3": "e", "ı": "l",
})
_SEQUENCES = (("rn", "m"), ("vv", "w"), ("cl", "d"))


def skeleton(domain: str) -> str:
    """What a reader sees: look-alike characters folded to one form."""
    text = unicodedata.normalize("NFKC", _unicode(domain)).casefold()
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = text.translate(_CONFUSABLES)
    for many, one in _SEQUENCES:
        text = text.replace(many, one)
    return text


def _unicode(domain: str) -> str:
    """A punycode (xn--) domain as it is displayed."""
    domain = domain.strip().lower().rstrip(".")
    if "xn--" not in domain:
        return domain
    try:
        return domain.encode("ascii").decode("idna")
    except (UnicodeError, ValueError):
        return domain


@dataclass(frozen=True)
class _Index:
    """The directory's domains arranged for near_miss: by skeleton, by
    labels, and in order for the edit distance."""

    known: frozenset[str]
    by_skeleton: dict[str, str]
    by_labels: dict[tuple[str, ...], str]
    ordered: tuple[str, ...]


@functools.lru_cache(maxsize=4)
def _index(known: tuple[str, ...]) -> _Index:
    return _Index(frozenset(known), {skeleton(k): k for k in known}, {tuple(_labels(k)): k for k in known},
                  tuple(known))


def near_miss(domain: str, known: tuple[str, ...]) -> tuple[str, str] | None:
    """(the directory domain ``domain`` imitates, how) or None."""
    domain = domain.strip().lower().rstrip(".")
    index = _index(tuple(known))
    if not domain or domain in index.known:
        return None
    parts = domain.split(".")
    if any(".".join(parts[i:]) in index.known for i in range(1, len(parts))):
        return None  # a subdomain of the entity's own
    real = index.by_skeleton.get(skeleton(domain))
    if real:
        return real, "se ve igual (caracteres parecidos)"
    labels = _labels(domain)
    for cut in range(1, len(labels)):
        real = index.by_labels.get(tuple(labels[:cut]))
        if real:
            return real, "las mismas palabras con otra terminación"
    shown = _unicode(domain)
    # rapidfuzz (C): the nearest directory domain within MAX_EDITS among
    # thousands in well under a millisecond.
    found = process.extractOne(shown, index.ordered, scorer=Levenshtein.distance, score_cutoff=MAX_EDITS)
    if found:
        real, edits = found[0], int(found[1])
        if 0 < edits and len(_own_part(domain, real)) >= MIN_COMPARED_LENGTH:
            return real, f"difiere en {edits} carácter{'es' if edits > 1 else ''}"
    return None


def _labels(domain: str) -> list[str]:
    """'alcaldia-prueba.gov-co.com' -> ['alcaldia', 'prueba', 'gov', 'co', 'com']."""
    return [part for part in re.split(r"[.\-]", _unicode(domain)) if part]


def _own_part(a: str, b: str) -> str:
    """``a`` without the dotted suffix it shares with ``b`` (".gov.co")."""
    a_parts, b_parts = a.split("."), b.split(".")
    while len(a_parts) > 1 and len(b_parts) > 1 and a_parts[-1] == b_parts[-1]:
        a_parts, b_parts = a_parts[:-1], b_parts[:-1]
    return ".".join(a_parts)
