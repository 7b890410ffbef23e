"""Generated scans of the real documents, deterministic and varied.

The documents are drawn by the installed package (helpdesk/samples/: the
request form filled in and signed over "Firma del representante legal"
with a scribble, a stamp, both or nothing; the acta de posesión; an
identity document; a blank page; another document), which
``helpdesk sample-request`` uses too. This module varies them as real
requests vary: entities drawn from a seed (towns, people, NITs, accounts),
and the scanner or the phone: 100-300 dpi, grey or colour, JPEG quality
40-90 or PNG, skew (±3°), upside down, blur, noise, a shadow, a phone photo
in perspective on a darker table, several fonts (DejaVu, and Liberation
where installed). Every choice comes from ``random.Random(seed)``: the
same seed gives the same page (the sensor noise's grain aside, which
Pillow draws unseeded).

``request(seed)`` gives a whole correct request (signed form scan, Excel
form, acta scan) and ``request(seed, flaw=...)`` one with exactly one flaw
of the scan checks (examination/scan_checks.py).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from pathlib import Path

from helpdesk import nit
from helpdesk.samples.capture import PLAIN, Capture
from helpdesk.samples.documents import FEMININE, Entity, Scan, scan
from helpdesk.samples.excel import XLSX, filled_form
from helpdesk.samples.page import installed_fonts

MUNICIPALITIES = [("Medellín", "Antioquia"), ("Tunja", "Boyacá"), ("Pasto", "Nariño"), ("Mocoa", "Putumayo"),
                  ("Neiva", "Huila"), ("Sincelejo", "Sucre"), ("Yopal", "Casanare"), ("Quibdó", "Chocó"),
                  ("Girardot", "Cundinamarca"), ("Pamplona", "Norte de Santander"), ("Honda", "Tolima"),
                  ("Florencia", "Caquetá"), ("Rionegro", "Antioquia"), ("Ipiales", "Nariño")]
FIRST = ["María Fernanda", "Juan Carlos", "Luz Marina", "Pedro Antonio", "Ana Lucía", "Jorge Enrique",
         "Claudia Patricia", "Héctor Fabio", "Sandra Milena", "Óscar Iván", "Diana Carolina", "Germán Alberto"]
LAST = ["Gómez Ruiz", "Pérez Castaño", "Rodríguez Muñoz", "Benavides Rosero", "Martínez Ortiz",
        "Castro Londoño", "Jaramillo Cárdenas", "Zuluaga Peña", "Quintero Salazar", "Vargas Ibáñez",
        "Mejía Arango", "Ospina Valencia"]


def _slug(text: str) -> str:
    import unicodedata

    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(c if c.isalnum() else "-" for c in plain).strip("-")


def valid_nit(rng: random.Random) -> str:
    number = str(rng.randrange(800_000_000, 899_999_999))
    return f"{number}-{nit.check_digit(number)}"


def entity(seed: int) -> Entity:
    rng = random.Random(f"entity-{seed}")
    town, department = rng.choice(MUNICIPALITIES)
    first, last = rng.choice(FIRST), rng.choice(LAST)
    role = "Alcaldesa municipal" if first in FEMININE else "Alcalde municipal"
    name = f"Alcaldía de {town}"
    domain = f"{_slug(town)}-{rng.choice(['antioquia', 'gov', 'municipio'])}.gov.co"
    accounts = [("Correo electrónico", f"{rng.choice(['contactenos', 'despacho', 'tesoreria', 'gobierno'])}@{domain}")]
    if rng.random() < 0.5:
        accounts.append(("Correo electrónico", f"{rng.choice(['planeacion', 'hacienda', 'secretaria'])}@{domain}"))
    if rng.random() < 0.4:
        accounts.append(("Usuario de página web", rng.choice(["admin.web", "webmaster", "editor.portal"])))
    return Entity(name, valid_nit(rng), department, town, f"{first} {last}", role,
                  str(rng.randrange(10_000_000, 99_999_999)), f"alcaldia@{domain}",
                  f"60{rng.randrange(10_000_000, 99_999_999)}", tuple(accounts))


# -- how the page is taken ------------------------------------------------


def capture(seed: int, dpi_choices=(150, 150, 200)) -> Capture:
    """A varied capture, mostly readable: the defects a real request has."""
    rng = random.Random(f"capture-{seed}")
    phone = rng.random() < 0.12
    chosen = _capture(rng, phone, dpi_choices)
    # A PNG scan comes from a scanner's lossless mode: clean (noise makes it 4 MB).
    return replace(chosen, noise=0) if chosen.fmt == "png" else chosen


def _capture(rng: random.Random, phone: bool, dpi_choices) -> Capture:
    return Capture(
        dpi=rng.choice(dpi_choices), colour=rng.random() < 0.4,
        fmt=rng.choice(["pdf", "pdf", "jpeg", "png"]) if not phone else "jpeg",  # a PNG scan: clean, no noise
        quality=rng.randrange(40, 91), skew=round(rng.uniform(-3, 3), 2) if rng.random() < 0.6 else 0.0,
        upside_down=rng.random() < 0.1, blur=round(rng.uniform(0.3, 1.0), 2) if rng.random() < 0.3 else 0.0,
        noise=rng.randrange(5, 30) if rng.random() < 0.4 else 0, shadow=rng.random() < 0.25, phone=phone,
        font=rng.randrange(len(installed_fonts())))


# -- whole requests ---------------------------------------------------------------

# Each flaw and the one code the scan checks must give it.
FLAWS = {
    "form_blank": "signed_form_not_the_form",
    "form_other": "signed_form_not_the_form",
    "form_unsigned": "signed_form_unsigned",
    "form_other_nit": "signed_form_mismatch",
    "form_other_account": "signed_form_mismatch",
    "acta_other": "acta_not_an_acta",
    "acta_blank": "acta_not_an_acta",
}
# Flaws that are warnings, not problems.
WARNING_FLAWS = {"acta_other_person": "legal_rep_not_in_acta", "acta_other_role": "legal_rep_role_not_in_acta"}


@dataclass(frozen=True)
class Request:
    seed: int
    entity: Entity
    form: Scan
    acta: Scan
    excel: bytes
    flaw: str = ""

    def attachments(self) -> list[tuple[str, bytes, str]]:
        return [self.form.attachment(), ("Formato solicitud.xlsx", self.excel, XLSX), self.acta.attachment()]


def other_person(e: Entity, rng: random.Random) -> str:
    """Someone who shares no name with the entity's legal representative."""
    first = rng.choice([f for f in FIRST if not set(f.split()) & set(e.person.split())])
    last = rng.choice([n for n in LAST if not set(n.split()) & set(e.person.split())])
    return f"{first} {last}"


def excel_form(e: Entity) -> bytes:
    """The Excel form, filled in the official template."""
    return filled_form(e.form_values(), e.accounts)


def request(seed: int, flaw: str = "", dpi_choices=(150, 150, 200), excel: bool = True,
            plain: bool = False) -> Request:
    """A request whose scans are drawn from ``seed``: correct, or with
    ``flaw`` (a key of FLAWS or WARNING_FLAWS) in one scan; ``plain``: both
    scans taken as PLAIN, else each with its own varied capture."""
    e = entity(seed)
    rng = random.Random(f"request-{seed}")
    form_cap, acta_cap = capture(seed * 2, dpi_choices), capture(seed * 2 + 1, dpi_choices)
    if plain:
        form_cap, acta_cap = replace(PLAIN, font=form_cap.font), replace(PLAIN, font=acta_cap.font)
    signature = rng.choice(("scribble", "scribble", "stamp", "both"))
    printed = e  # what the signed scan shows
    if flaw == "form_other_nit":
        printed = replace(e, nit=valid_nit(random.Random(f"other-{seed}")))
    elif flaw == "form_other_account":
        domain = e.email.split("@")[1]
        printed = replace(e, accounts=(*e.accounts, ("Correo electrónico", f"contratacion@{domain}")))
    form_name = rng.choice(["formato_firmado", "Formato solicitud firmado", "solicitud reinicio firmada", "formato"])
    acta_name = rng.choice(["acta_posesion", "Acta de posesión", "acta", "ACTA POSESION ALCALDE"])
    if flaw == "form_blank":
        form = scan("blank", e, form_cap, seed, form_name)
    elif flaw == "form_other":
        form = scan("other", e, form_cap, seed, form_name)
    else:
        form = scan("form", printed, form_cap, seed, form_name, boxed=not plain and rng.random() < 0.6,
                    signature="none" if flaw == "form_unsigned" else signature)
    if flaw == "acta_other":
        acta = scan("other", e, acta_cap, seed, acta_name)
    elif flaw == "acta_blank":
        acta = scan("blank", e, acta_cap, seed, acta_name)
    elif flaw == "acta_other_person":
        acta = scan("acta", e, acta_cap, seed, acta_name, person=other_person(e, rng))
    elif flaw == "acta_other_role":
        acta = scan("acta", e, acta_cap, seed, acta_name, role="Secretario de Gobierno")
    else:
        acta = scan("acta", e, acta_cap, seed, acta_name)
    return Request(seed, e, form, acta, excel_form(e) if excel else b"", flaw)


def _one(job: tuple) -> Request:
    seed, flaw, options = job
    return request(seed, flaw, **options)


def requests(jobs: list[tuple[int, str]], processes: int = 2, **options) -> list[Request]:
    """``request(seed, flaw, **options)`` for each job, drawn in ``processes``
    forked processes (0.3-0.7 s a request, all Pillow): the same pages as
    drawn one by one."""
    import multiprocessing

    work = [(seed, flaw, options) for seed, flaw in jobs]
    if processes <= 1 or len(work) < 4:
        return [_one(job) for job in work]
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        return pool.map(_one, work, chunksize=2)


def main(folder: str) -> None:
    """Some of every kind, to look at: ``python -m tests.scans DIR``."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    for seed in range(12):
        r = request(seed, flaw=(list(FLAWS) + list(WARNING_FLAWS) + [""] * 3)[seed % 12])
        for s in (r.form, r.acta):
            (target / f"{seed:02d}-{r.flaw or 'ok'}-{s.filename}").write_bytes(s.data)


if __name__ == "__main__":
    import sys

    main(sys.argv[1])
