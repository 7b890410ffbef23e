"""RFC of a persona moral (Registro Federal de Contribuyentes, Mexico):
12 characters: three letters of the company's name (A-Z, Ñ, &), the date
of incorporation YYMMDD, two characters of homoclave and a check digit:
SAT's modulus 11 over the first 11 characters padded to 12 with a space
in front, each valued by its place in 0-9, A-N, &, O-Z, space, Ñ and
weighted 13 down to 2; the digit is 11 minus the remainder (0 for 11, A
for 10).
"""

from __future__ import annotations

import re
from datetime import date

from . import Checked

ALPHABET = "0123456789ABCDEFGHIJKLMN&OPQRSTUVWXYZ Ñ"
SHAPE = re.compile(r"^[A-ZÑ&]{3}\d{6}[1-9A-V][1-9A-Z][0-9A]$")


def check_digit(first11: str) -> str:
    padded = (" " + first11)[-12:]
    total = sum(ALPHABET.index(c) * (13 - i) for i, c in enumerate(padded))
    return ALPHABET[(11 - total % 11) % 11]


def check(text: str) -> Checked:
    value = "".join(c for c in text.upper() if c not in " -_.")
    if len(value) != 12:
        return Checked("", f"el RFC de una persona moral tiene 12 caracteres y «{value[:30]}» tiene {len(value)}")
    if not SHAPE.match(value):
        return Checked("", f"«{value}» no tiene la forma de un RFC de persona moral (3 letras, fecha, homoclave)")
    try:
        date(2000 + int(value[3:5]), int(value[5:7]), int(value[7:9]))
    except ValueError:
        return Checked("", f"«{value}»: {value[3:9]} no es una fecha de constitución válida")
    expected = check_digit(value[:11])
    if value[11] != expected:
        return Checked("", f"«{value}»: el dígito verificador debe ser {expected}, no {value[11]}")
    return Checked(value)
