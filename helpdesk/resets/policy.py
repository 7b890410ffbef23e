"""The password policy a person's new password must meet (seed 003).

At least ``min_length`` characters (8 by the seed; configurable upwards),
an upper-case letter, a lower-case letter and a digit; never the account's
own name, nor one of the common passwords shipped in
rules/common_passwords.txt (what attackers try first: "Colombia2024",
"Password1"...). Each refusal says why, in Spanish, so the person can fix
it on the same page.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path

MIN_LENGTH = 8  # seed 003: "una longitud mínima de 8 caracteres"


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).casefold()


@lru_cache(maxsize=4)
def common_passwords(path: Path) -> frozenset[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return frozenset()
    return frozenset(_fold(line.strip()) for line in lines if line.strip() and not line.startswith("#"))


def refusal(password: str, confirm: str, account: str, min_length: int, common: frozenset[str]) -> str:
    """Why ``password`` is refused, in Spanish; "" when it is accepted."""
    if password != confirm:
        return "Las dos contraseñas no coinciden. Escríbala de nuevo en ambos campos."
    if any(unicodedata.category(c)[0] == "C" for c in password):
        return "La contraseña no puede tener saltos de línea, tabuladores ni otros caracteres de control."
    if len(password) < min_length:
        return f"La contraseña debe tener al menos {min_length} caracteres."
    if len(password) > 128:
        return "La contraseña no puede tener más de 128 caracteres."
    missing = [what for what, ok in (("una letra mayúscula", any(c.isupper() for c in password)),
                                     ("una letra minúscula", any(c.islower() for c in password)),
                                     ("un número", any(c.isdigit() for c in password))) if not ok]
    if missing:
        listed = ", ".join(missing[:-1]) + " y " + missing[-1] if len(missing) > 1 else missing[0]
        return f"La contraseña debe tener al menos {listed}."
    folded = _fold(password)
    name = _fold(account.split("@", 1)[0])
    if len(name) >= 3 and name in folded:
        return "La contraseña no puede contener el nombre de la cuenta."
    if folded in common or folded.rstrip("0123456789!.*#$@") in common:
        return "Esa contraseña es demasiado común y fácil de adivinar. Elija otra."
    return ""
