"""Domains made to look like an entity's: a near miss is a forgery's mark.

``alcaldia-prueba.gov.co`` is the entity's; ``alcaldla-prueba.gov.co`` (an
edit), ``аlcaldia-prueba.gov.co`` (a Cyrillic а), ``alcaldia-prueba.gov-co.com``
(another registrable domain behind the same labels) are somebody else's.
``near_miss`` says which directory domain a domain imitates, and how, for
the ``lookalike_domain`` warning (examination/checks.py). The same domain,
and its own subdomains, are no miss.
"""

from __future__ import annotations

import re
import unicodedata

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


def near_miss(domain: str, known: list[str] | tuple[str, ...]) -> tuple[str, str] | None:
    """(the directory domain ``domain`` imitates, how) or None."""
    domain = domain.strip().lower().rstrip(".")
    if not domain or domain in known or any(domain.endswith("." + k) for k in known):
        return None
    shown, labels = skeleton(domain), _labels(domain)
    for real in known:
        if skeleton(real) == shown:
            return real, "se ve igual (caracteres parecidos)"
        real_labels = _labels(real)
        if len(labels) > len(real_labels) and labels[: len(real_labels)] == real_labels:
            return real, "las mismas palabras con otra terminación"
        edits = _distance(_unicode(domain), real, MAX_EDITS)
        if 0 < edits <= MAX_EDITS and len(_own_part(domain, real)) >= MIN_COMPARED_LENGTH:
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


def _distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance of ``a`` and ``b``, computed only in the band
    ``limit`` wide around the diagonal; ``limit + 1`` means "more"."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    far = limit + 1
    previous = [j if j <= limit else far for j in range(len(b) + 1)]
    for i in range(1, len(a) + 1):
        current = [i if i <= limit else far] + [far] * len(b)
        for j in range(max(1, i - limit), min(len(b), i + limit) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost, far)
        if min(current) > limit:
            return far
        previous = current
    return min(previous[len(b)], far)
