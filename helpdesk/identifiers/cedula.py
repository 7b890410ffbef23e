"""Colombian cédula de ciudadanía: digits only, 3 to 10 of them (the
Registraduría's numbers have no check digit, so the shape is all there is
to check; dots and spaces as people write them are ignored)."""

from __future__ import annotations

from . import Checked


def check(text: str) -> Checked:
    value = "".join(c for c in text if c not in " .,-")
    if not value.isdigit() or not value.isascii():
        return Checked("", f"«{text.strip()[:30]}» no es un número de cédula: solo dígitos")
    if not 3 <= len(value) <= 10 or value.startswith("0"):
        return Checked("", f"«{value}» no es un número de cédula: de 3 a 10 dígitos, sin ceros al principio")
    return Checked(value)
