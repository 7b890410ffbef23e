"""CURP (Clave Única de Registro de Población, Mexico): 18 characters.

Four letters (surnames and name), the birth date YYMMDD, the sex (H, M,
or X since 2022), the state of birth (two letters: one of the 32 states,
or NE born abroad), three internal consonants, a character that tells
apart equal keys (a digit for births up to 1999, a letter from 2000) and a
check digit: RENAPO's modulus 10 over the first 17 characters, each
valued by its place in 0-9, A-N, Ñ, O-Z and weighted 18 down to 2.
"""

from __future__ import annotations

import re
from datetime import date

from . import Checked

ALPHABET = "0123456789ABCDEFGHIJKLMNÑOPQRSTUVWXYZ"
STATES = frozenset(
    "AS BC BS CC CL CM CS CH DF DG GT GR HG JC MC MN MS NT NL OC PL QT QR SP SL SR TC TS TL VZ YN ZS NE".split())
SHAPE = re.compile(r"^[A-ZÑ][AEIOUX][A-ZÑ]{2}\d{6}[HMX][A-Z]{2}[B-DF-HJ-NP-TV-ZÑ]{3}[0-9A-Z]\d$")


def check_digit(first17: str) -> str:
    total = sum(ALPHABET.index(c) * (18 - i) for i, c in enumerate(first17))
    return str((10 - total % 10) % 10)


def check(text: str) -> Checked:
    value = "".join(text.split()).upper()
    if len(value) != 18:
        return Checked("", f"la CURP tiene 18 caracteres y «{value[:30]}» tiene {len(value)}")
    if not SHAPE.match(value):
        return Checked("", f"«{value}» no tiene la forma de una CURP (4 letras, fecha, sexo, estado, 3 consonantes, "
                           "2 caracteres)")
    if value[11:13] not in STATES:
        return Checked("", f"«{value}»: {value[11:13]} no es una entidad federativa")
    century = 1900 if value[16].isdigit() else 2000
    try:
        date(century + int(value[4:6]), int(value[6:8]), int(value[8:10]))
    except ValueError:
        return Checked("", f"«{value}»: {value[4:10]} no es una fecha de nacimiento válida")
    expected = check_digit(value[:17])
    if value[17] != expected:
        return Checked("", f"«{value}»: el dígito verificador debe ser {expected}, no {value[17]}")
    return Checked(value)
