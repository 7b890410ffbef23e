"""The documents of a request, drawn: the request form of seed 000 as
``helpdesk form-template`` lays it out (its title, the sections "1.1 Datos
de la entidad", "1.2 Datos del representante legal" and "2. Cuentas a las
que se solicita reinicio de clave", labels beside their values, the
accounts table), filled in and signed over "Firma del representante legal"
with a scribble, a stamp, both or nothing; the acta de posesión; an
identity document; another document (an invoice); a blank page.

``scan(what, entity, capture, seed)`` draws one and captures it as a file.
Every choice comes from ``random.Random`` seeded by its arguments, the
sensor noise's grain too (capture.seeded_noise): the same arguments draw
the same file, byte for byte.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .capture import Capture, captured, encode
from .page import Page, scribble, stamp

# First names read as a woman's: the acta says "la señora" before them.
FEMININE = {"María Fernanda", "Luz Marina", "Ana Lucía", "Claudia Patricia", "Sandra Milena", "Diana Carolina"}


@dataclass(frozen=True)
class Entity:
    """What a request says: the Excel form's values and accounts."""

    name: str
    nit: str
    department: str
    municipality: str
    person: str
    role: str
    doc_number: str
    email: str
    phone: str
    accounts: tuple[tuple[str, str], ...]

    def form_values(self) -> dict[str, str]:
        """The Excel form's cells by label (samples.excel.fill)."""
        return {"Nombre de la entidad": self.name, "NIT": self.nit, "Departamento": self.department,
                "Municipio": self.municipality, "Nombres y apellidos": self.person,
                "Tipo de documento": "Cédula de ciudadanía", "Número de documento": self.doc_number,
                "Cargo": self.role, "Correo electrónico": self.email, "Teléfono": self.phone}


SIGNATURES = ("scribble", "stamp", "both", "none")
SIGNATURE_LABEL = "Firma del representante legal"


def draw_form(e: Entity, cap: Capture, rng: random.Random, signature: str = "scribble",
              title: str = "Formato de solicitud de reinicio de claves", boxed: bool = True) -> Page:
    """The form as printed from the template (``boxed``: with the value
    cells' borders; without, as when gridlines are not printed)."""
    page = Page(cap.dpi, cap.font, cap.colour, rng)
    page.text(0.8, title, 14, bold=True)
    page.line(0.55)
    page.band("1.1 Datos de la entidad")
    nit_number, dv = e.nit.split("-")
    for label, value in (("Nombre de la entidad", e.name), ("NIT", e.nit if rng.random() < 0.7 else nit_number),
                         ("DV", dv), ("Departamento", e.department), ("Municipio", e.municipality)):
        page.field(label, value, boxed)
    page.line(0.2)
    page.band("1.2 Datos del representante legal")
    for label, value in (("Nombres y apellidos", e.person), ("Tipo de documento", "Cédula de ciudadanía"),
                         ("Número de documento", e.doc_number), ("Cargo", e.role), ("Correo electrónico", e.email),
                         ("Teléfono", e.phone)):
        page.field(label, value, boxed)
    page.line(0.2)
    page.band("2. Cuentas a las que se solicita reinicio de clave")
    page.text(0.88, "Tipo", 10.5, bold=True)
    page.text(3.38, "Cuenta", 10.5, bold=True)
    page.line(0.3)
    for kind, account in e.accounts:
        page.field(kind, account, boxed)
    # The signature block: the line, the label under it, the scribble or stamp over it.
    line_y = max(page.y + 1.3, 9.3)
    page.draw.line((page.px(0.9), page.px(line_y), page.px(3.9), page.px(line_y)), fill=(30, 30, 30), width=2)
    page.text(0.9, SIGNATURE_LABEL, 10.5, y=line_y + 0.08)
    page.text(0.9, e.person, 10.5, y=line_y + 0.32)
    if signature in ("stamp", "both"):
        stamp(page, rng.uniform(2.0, 3.2), line_y, cap.colour, e.municipality)
    if signature in ("scribble", "both"):
        scribble(page, rng.uniform(1.0, 1.6), line_y, cap.colour)
    return page


def draw_acta(e: Entity, cap: Capture, rng: random.Random, person: str | None = None, role: str | None = None) -> Page:
    """The acta de posesión of ``person`` (the entity's representative unless
    named) in ``role``, as long as real ones are."""
    person, role = person or e.person, role or e.role
    page = Page(cap.dpi, cap.font, cap.colour, rng)
    number = rng.randrange(1, 40)
    page.text(2.2, "REPÚBLICA DE COLOMBIA", 12, bold=True)
    page.line(0.3)
    page.text(2.0, f"ACTA DE POSESIÓN No. {number:03d}", 13, bold=True)
    page.line(0.6)
    title = "la señora" if person.split()[0] in " ".join(FEMININE) else "el señor"
    page.paragraph(
        f"En el municipio de {e.municipality}, departamento de {e.department}, a los {rng.randrange(1, 28)} días "
        f"del mes de enero de 2024, se presentó ante el despacho del Notario Único del Círculo {title} "
        f"{person.upper()}, identificado con la cédula de ciudadanía número {e.doc_number}, con el fin de tomar "
        f"posesión del cargo de {role} para el período constitucional 2024-2027, para el cual fue elegido por "
        "voto popular según la credencial expedida por la Registraduría Nacional del Estado Civil.")
    page.line(0.15)
    page.paragraph(
        "Acto seguido prestó el juramento de rigor, por cuya gravedad prometió cumplir y hacer cumplir la "
        "Constitución Política y las leyes de Colombia y desempeñar fielmente los deberes del cargo.")
    page.line(0.15)
    page.paragraph(
        f"El posesionado presentó los documentos exigidos por la ley. En constancia se firma la presente acta "
        f"en {e.municipality}, y {title} {person} tomó posesión del cargo de {role}.")
    page.line(1.0)
    page.text(0.9, "El posesionado", 10.5)
    page.text(4.4, "Quien da posesión", 10.5)
    scribble(page, 1.0, page.y - 0.05, cap.colour)
    scribble(page, 4.6, page.y - 0.05, cap.colour)
    return page


def draw_identity(e: Entity, cap: Capture, rng: random.Random) -> Page:
    """The representative's cédula: number in dotted groups, surnames and names."""
    page = Page(cap.dpi, cap.font, cap.colour, rng)
    x0, y0 = page.px(1.0), page.px(1.0)
    page.draw.rounded_rectangle((x0, y0, x0 + page.px(5.4), y0 + page.px(3.4)), radius=page.px(0.2),
                                outline=(60, 60, 60), width=3)
    page.y = 1.2
    for text, points, bold in (("REPÚBLICA DE COLOMBIA", 12, True), ("IDENTIFICACIÓN PERSONAL", 10, False),
                               ("CÉDULA DE CIUDADANÍA", 12, True)):
        page.text(1.3, text, points, bold)
        page.line(0.3)
    page.text(1.3, f"NÚMERO {int(e.doc_number):,}".replace(",", "."), 12, bold=True)
    page.line(0.4)
    page.text(1.3, " ".join(e.person.split()[2:]).upper() or e.person.upper(), 12, bold=True)
    page.line(0.25)
    page.text(1.3, "APELLIDOS", 8)
    page.line(0.3)
    page.text(1.3, " ".join(e.person.split()[:2]).upper(), 12, bold=True)
    page.line(0.25)
    page.text(1.3, "NOMBRES", 8)
    page.line(0.3)
    page.text(1.3, "FECHA DE NACIMIENTO 12-MAR-1975", 9)
    return page


def draw_other(e: Entity, cap: Capture, rng: random.Random) -> Page:
    """Another document: an invoice for office supplies."""
    page = Page(cap.dpi, cap.font, cap.colour, rng)
    page.text(0.9, "PAPELERÍA Y SUMINISTROS EL CÓNDOR S.A.S.", 13, bold=True)
    page.line(0.3)
    page.text(0.9, "Calle 10 # 12-34, Local 5. Tel. 601 555 0101", 10)
    page.line(0.5)
    page.text(0.9, f"FACTURA ELECTRÓNICA DE VENTA No. FE-{rng.randrange(1000, 9999)}", 12, bold=True)
    page.line(0.4)
    page.paragraph(f"Cliente: {e.name}. Fecha de expedición: 15 de febrero de 2024. Forma de pago: crédito a "
                   "treinta días. Vendedor: Martha Cecilia Rincón.", 10.5)
    page.line(0.2)
    for item, qty, price in (("Resma papel carta 75 g", 20, "18.500"), ("Tóner impresora láser", 2, "245.000"),
                             ("Carpeta legajadora", 50, "1.200"), ("Bolígrafo negro caja x 12", 5, "9.800"),
                             ("Cinta adhesiva transparente", 10, "3.400"), ("Grapadora metálica", 3, "22.900")):
        page.text(0.9, item, 10.5)
        page.text(4.6, str(qty), 10.5)
        page.text(5.6, f"$ {price}", 10.5)
        page.line(0.3)
    page.line(0.3)
    page.paragraph("Esta factura se asimila en todos sus efectos a una letra de cambio según el artículo 774 del "
                   "Código de Comercio. Régimen común. Responsable de impuesto sobre las ventas.", 9.5)
    return page


def draw_blank(e: Entity, cap: Capture, rng: random.Random) -> Page:
    return Page(cap.dpi, cap.font, cap.colour, rng)


DRAW = {"form": draw_form, "acta": draw_acta, "identity": draw_identity, "other": draw_other, "blank": draw_blank}


@dataclass(frozen=True)
class Scan:
    """One scanned document as it is attached: name, bytes, MIME type, and how it was made."""

    filename: str
    data: bytes
    mime: str
    capture: Capture
    what: str  # "form", "acta", "identity", "blank", "other"
    signature: str = ""

    def attachment(self) -> tuple[str, bytes, str]:
        return self.filename, self.data, self.mime


def scan(what: str, e: Entity, cap: Capture, seed: int | str, name: str = "", **options) -> Scan:
    """Document ``what`` (a key of DRAW) of entity ``e``, drawn from ``seed``
    and captured by ``cap``; ``options`` go to its drawing function."""
    rng = random.Random(f"{what}-{seed}")
    page = DRAW[what](e, cap, rng, **options)
    data, ext, mime = encode(captured(page, cap, rng), cap)
    return Scan(f"{name or what}.{ext}", data, mime, cap, what, options.get("signature", ""))
