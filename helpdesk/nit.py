"""NIT check digit (dígito de verificación) by DIAN's modulus 11.

The digits of the NIT, read from the right, are multiplied by the weights
3, 7, 13, 17, 19, 23, 29, 37, 41, 43, 47, 53, 59, 67, 71; the sum modulo 11
gives the check digit: 0 or 1 stay as they are, anything else is 11 minus it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WEIGHTS = (3, 7, 13, 17, 19, 23, 29, 37, 41, 43, 47, 53, 59, 67, 71)


def check_digit(number: str) -> int:
    digits = [int(d) for d in reversed(number)]
    if not digits or len(digits) > len(WEIGHTS):
        raise ValueError(f"NIT de longitud inválida: {number!r}")
    remainder = sum(d * w for d, w in zip(digits, WEIGHTS)) % 11
    return remainder if remainder < 2 else 11 - remainder


@dataclass(frozen=True)
class Nit:
    number: str  # digits only, no check digit
    dv: int | None  # the check digit written by the entity, if any

    @property
    def expected_dv(self) -> int:
        return check_digit(self.number)

    @property
    def valid(self) -> bool:
        return self.dv is None or self.dv == self.expected_dv

    def __str__(self) -> str:
        return f"{self.number}-{self.dv if self.dv is not None else self.expected_dv}"


def parse(text: object, separate_dv: object = None) -> Nit | None:
    """Read ``890.905.211-1``, ``8909052111`` with a separate DV, or a number.

    Returns None when no NIT can be read at all. A NIT typed in Excel as a
    number arrives as an int or a float (``890905211.0``).
    """
    if isinstance(text, float) and text.is_integer():
        text = int(text)
    raw = str(text or "").strip()
    match = re.fullmatch(r"(?i)(?:nit\.?\s*:?\s*)?([\d.\s]{6,20}?)\s*(?:[-–—]\s*(\d))?", raw)
    if not match:
        return None
    number = re.sub(r"[.\s]", "", match.group(1))
    if not number.isdigit() or not 6 <= len(number) <= 15:
        return None
    # Leading zeros change neither the NIT nor its check digit, but a
    # "0890905211" must not pass for another entity than 890905211.
    number = number.lstrip("0") or "0"
    dv = match.group(2)
    if dv is None and separate_dv not in (None, ""):
        sep = separate_dv
        if isinstance(sep, float) and sep.is_integer():
            sep = int(sep)
        sep = str(sep).strip()
        if not re.fullmatch(r"\d", sep):
            return None
        dv = sep
    return Nit(number=number, dv=int(dv) if dv is not None else None)
