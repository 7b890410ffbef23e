"""The masks shown for an identifier that has no account.

The self-service page shows a real account's registered email and phone
masked ("*****eon1@gmail.com", "*****9129"); an unknown identifier must get
masks that cannot be told from those, or the page says which accounts
exist. Issue 22: decoys of four random letters on five fixed domains were
told apart over 5,000 of them, since real masks show digits, dots and the
entity's own domains.

So a decoy is a whole address made the way people make theirs (a first
name and a surname in the usual patterns, birth years and short numbers,
an office's role mailbox on the entity's domain), on a domain drawn from a
weighted list of common providers and the entity's own domains, and then
masked by the very function that masks real ones. Everything is drawn
from an HMAC of the identifier keyed by the web secret: the same unknown
identifier shows the same decoy every time, as an account would, and
nobody without the secret can compute it.

tests/test_recovery_hardening.py checks that a classifier on what a mask
shows (its length, digits, dots, domain) does no better than chance.
"""

from __future__ import annotations

import hmac
import random

FIRST = ("juan", "maria", "carlos", "ana", "luis", "diana", "jorge", "paula", "andres", "laura", "jose", "sandra",
         "diego", "claudia", "camilo", "angela", "felipe", "natalia", "oscar", "adriana", "julian", "carolina",
         "miguel", "lina", "sebastian", "marcela", "fernando", "paola", "ricardo", "liliana", "alejandro", "monica",
         "javier", "viviana", "hernan", "yolanda", "cesar", "gloria", "mauricio", "patricia", "wilson", "yesica",
         "jhon", "leidy", "edwin", "daniela", "fabian", "catalina", "esteban", "valentina", "nelson", "johana")
LAST = ("perez", "lopez", "garcia", "rodriguez", "martinez", "gomez", "hernandez", "diaz", "moreno", "alvarez",
        "romero", "torres", "ramirez", "vargas", "castro", "suarez", "rojas", "ortiz", "jimenez", "munoz",
        "sanchez", "gutierrez", "restrepo", "castillo", "mejia", "cardenas", "ospina", "quintero", "valencia",
        "leon", "rincon", "pineda", "salazar", "arias", "cruz", "parra", "medina", "cortes", "acosta", "beltran",
        "zapata", "osorio", "gil", "rey", "mora", "pena", "duque", "silva", "ruiz", "correa", "benavides")
# Role mailboxes of an office (on the entity's own domains).
ROLES = ("contactenos", "despacho", "tesoreria", "alcaldia", "secretaria", "gobierno", "planeacion", "hacienda",
         "juridica", "sistemas", "contratacion", "personeria", "talentohumano", "archivo", "comunicaciones",
         "notificaciones", "atencionciudadano", "concejo", "salud", "educacion")

# Webmail providers, by how often officials register them (weights add
# to 84); the entity's own domains share 30 more (about a quarter).
PROVIDERS = (("gmail.com", 50), ("hotmail.com", 17), ("outlook.com", 5), ("yahoo.com", 4), ("yahoo.es", 2),
             ("hotmail.es", 2), ("outlook.es", 1), ("live.com", 2), ("icloud.com", 1))
ENTITY_SHARE = 30

# How a personal address is built, with how often: f = first name, l =
# surname, m = second surname, i = initial of the first, n = 1-3 digits,
# y = a year (two or four digits).
PATTERNS = (("f.l", 20), ("il", 12), ("fl", 10), ("f_l", 4), ("f.l.m", 6), ("li", 3), ("f-l", 2), ("im", 2),
            ("f.ln", 6), ("iln", 5), ("fiy", 4), ("fn", 4), ("f.l.mn", 3), ("ily", 3), ("fly", 3), ("f.ly", 3))


def decoy(key: bytes, identifier: str, domains: tuple[str, ...] = ()) -> tuple[str, str]:
    """(masked email, masked phone) for an identifier with no account. An
    identifier that is an address is masked as itself (what an account
    registered to it shows); ``domains`` are the entity's own."""
    from .recovery import mask_email

    mac = hmac.new(key, b"decoy:" + identifier.casefold().encode(), "sha256").digest()
    rng = random.Random(int.from_bytes(mac[:16], "big"))
    phone = f"*****{int.from_bytes(mac[16:24], 'big') % 10_000:04d}"
    if "@" in identifier:
        return mask_email(identifier.lower()), phone
    return mask_email(address(rng, tuple(d.lower() for d in domains if d))), phone


def address(rng: random.Random, domains: tuple[str, ...]) -> str:
    """A whole plausible address, drawn with ``rng``."""
    choices = list(PROVIDERS)
    if domains:
        choices += [(d, ENTITY_SHARE / len(domains)) for d in domains]
    names, weights = zip(*choices)
    domain = rng.choices(names, weights)[0]
    if domain in domains and rng.random() < 0.4:
        return f"{rng.choice(ROLES)}@{domain}"  # an office's mailbox
    return f"{local_part(rng)}@{domain}"


def local_part(rng: random.Random) -> str:
    shapes, weights = zip(*PATTERNS)
    pattern = rng.choices(shapes, weights)[0]
    first, last, second = rng.choice(FIRST), rng.choice(LAST), rng.choice(LAST)
    parts = {"f": first, "l": last, "m": second, "i": first[0],
             "n": str(rng.choice((rng.randint(1, 9), rng.randint(10, 99), rng.randint(100, 999)))),
             "y": _year(rng)}
    return "".join(parts.get(c, c) for c in pattern)


def _year(rng: random.Random) -> str:
    year = rng.randint(1962, 2004)
    return str(year) if rng.random() < 0.6 else f"{year % 100:02d}"
