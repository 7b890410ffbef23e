"""Counts and ages as staff read them in Spanish: "1 solicitud", "2 solicitudes",
"hace menos de una hora" (never "1 solicitudes", "solicitud(es)" or "hace 0 h")."""

from __future__ import annotations


def count(n: int, singular: str, plural: str) -> str:
    """``n`` and the noun phrase that agrees with it: 1 takes the singular, 0 and the rest the plural."""
    return f"{n} {singular if n == 1 else plural}"


def ago(hours: float) -> str:
    """How long ago, in the words of a person: "hace menos de una hora",
    "hace 5 h" up to two days, then "hace 3 días"."""
    if hours < 1:
        return "hace menos de una hora"
    if hours < 48:
        return f"hace {hours:.0f} h"
    return f"hace {hours / 24:.0f} días"


def last_days(days: int, article: bool = True) -> str:
    """A window of ``days`` days back, agreeing with it: "el último día",
    "los últimos 7 días" (without the article: "último día", "últimos 7 días")."""
    words = "último día" if days == 1 else f"últimos {days} días"
    return f"{'el' if days == 1 else 'los'} {words}" if article else words
