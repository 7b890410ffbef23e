"""Generated scans of the real documents, deterministic and varied.

What entities send as scans, drawn with Pillow from a seed: the request
form of seed 000 as ``helpdesk form-template`` lays it out (its title, the
sections "1.1 Datos de la entidad", "1.2 Datos del representante legal" and
"2. Cuentas a las que se solicita reinicio de clave", labels beside their
values, the accounts table) filled in and signed over "Firma del
representante legal" with a handwritten-like scribble (random Bézier
strokes), a stamp, both, or nothing; the acta de posesión; an identity
document; a blank page; another document (an invoice).

Then the scanner or the phone: 100-300 dpi, grey or colour, JPEG quality
40-90 or PNG, skew (±3°), upside down, blur, noise, a shadow, a phone photo
in perspective on a darker table. Several fonts (DejaVu, and Liberation
where installed). Every choice comes from ``random.Random(seed)``: the
same seed gives the same bytes.

``request(seed)`` gives a whole correct request (signed form scan, Excel
form, acta scan) and ``request(seed, flaw=...)`` one with exactly one flaw
of the scan checks (examination/scan_checks.py).
"""

from __future__ import annotations

import functools
import io
import random
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from helpdesk import nit

A4_INCHES = (8.27, 11.69)
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation")
# (regular, bold) file names; those installed are used (fonts-dejavu-core is
# always there; fonts-liberation adds two families).
FONT_FAMILIES = (
    ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf"),
    ("LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf"),
    ("LiberationSerif-Regular.ttf", "LiberationSerif-Bold.ttf"),
)

MUNICIPALITIES = [("Medellín", "Antioquia"), ("Tunja", "Boyacá"), ("Pasto", "Nariño"), ("Mocoa", "Putumayo"),
                  ("Neiva", "Huila"), ("Sincelejo", "Sucre"), ("Yopal", "Casanare"), ("Quibdó", "Chocó"),
                  ("Girardot", "Cundinamarca"), ("Pamplona", "Norte de Santander"), ("Honda", "Tolima"),
                  ("Florencia", "Caquetá"), ("Rionegro", "Antioquia"), ("Ipiales", "Nariño")]
FIRST = ["María Fernanda", "Juan Carlos", "Luz Marina", "Pedro Antonio", "Ana Lucía", "Jorge Enrique",
         "Claudia Patricia", "Héctor Fabio", "Sandra Milena", "Óscar Iván", "Diana Carolina", "Germán Alberto"]
LAST = ["Gómez Ruiz", "Pérez Castaño", "Rodríguez Muñoz", "Benavides Rosero", "Martínez Ortiz",
        "Castro Londoño", "Jaramillo Cárdenas", "Zuluaga Peña", "Quintero Salazar", "Vargas Ibáñez",
        "Mejía Arango", "Ospina Valencia"]
FEMININE = {"María Fernanda", "Luz Marina", "Ana Lucía", "Claudia Patricia", "Sandra Milena", "Diana Carolina"}


def _slug(text: str) -> str:
    import unicodedata

    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(c if c.isalnum() else "-" for c in plain).strip("-")


def valid_nit(rng: random.Random) -> str:
    number = str(rng.randrange(800_000_000, 899_999_999))
    return f"{number}-{nit.check_digit(number)}"


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
        """The Excel form's cells by label (tests/forms.filled_template)."""
        return {"Nombre de la entidad": self.name, "NIT": self.nit, "Departamento": self.department,
                "Municipio": self.municipality, "Nombres y apellidos": self.person,
                "Tipo de documento": "Cédula de ciudadanía", "Número de documento": self.doc_number,
                "Cargo": self.role, "Correo electrónico": self.email, "Teléfono": self.phone}


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


@dataclass(frozen=True)
class Capture:
    """How a page became an image: scanner or phone, and its defects."""

    dpi: int = 150
    colour: bool = False
    fmt: str = "jpeg"  # "jpeg", "png" or "pdf" (an image-only PDF)
    quality: int = 80  # JPEG quality
    skew: float = 0.0  # degrees
    upside_down: bool = False
    blur: float = 0.0  # Gaussian radius, pixels at 150 dpi
    noise: int = 0  # speckle strength, 0-40
    shadow: bool = False
    phone: bool = False  # perspective on a darker background
    font: int = 0  # index into the installed FONT_FAMILIES


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


def installed_fonts() -> list[tuple[Path, Path]]:
    found = []
    for regular, bold in FONT_FAMILIES:
        paths = [next((Path(d) / f for d in FONT_DIRS if (Path(d) / f).is_file()), None) for f in (regular, bold)]
        if all(paths):
            found.append(tuple(paths))
    if not found:
        raise RuntimeError("no TrueType font: install fonts-dejavu-core")
    return found


# -- the page, drawn --------------------------------------------------------


class Page:
    """An A4 page at ``dpi``, written in points and inches like a printer."""

    def __init__(self, dpi: int, font: int, colour: bool, rng: random.Random):
        from PIL import Image, ImageDraw

        self.dpi, self.rng = dpi, rng
        self.width, self.height = round(A4_INCHES[0] * dpi), round(A4_INCHES[1] * dpi)
        paper = (250, 248, 240) if colour else (246, 246, 246)
        self.image = Image.new("RGB", (self.width, self.height), paper)
        self.draw = ImageDraw.Draw(self.image)
        self.regular, self.bold = installed_fonts()[font % len(installed_fonts())]
        self.y = 0.7  # inches from the top

    def px(self, inches: float) -> int:
        return round(inches * self.dpi)

    def font(self, points: float, bold: bool = False):
        from PIL import ImageFont

        return ImageFont.truetype(str(self.bold if bold else self.regular), max(6, round(points / 72 * self.dpi)))

    def text(self, x: float, text: str, points: float = 11, bold: bool = False, fill=(20, 20, 20),
             y: float | None = None) -> None:
        self.draw.text((self.px(x), self.px(self.y if y is None else y)), text, font=self.font(points, bold), fill=fill)

    def line(self, gap: float = 0.28) -> None:
        self.y += gap

    def paragraph(self, text: str, points: float = 11, width_in: float = 6.6, x: float = 0.9) -> None:
        font = self.font(points)
        words, line = text.split(), ""
        for word in words:
            trial = f"{line} {word}".strip()
            if self.draw.textlength(trial, font=font) > self.px(width_in) and line:
                self.text(x, line, points)
                self.line(points / 72 * 1.5)
                line = word
            else:
                line = trial
        if line:
            self.text(x, line, points)
            self.line(points / 72 * 1.5)

    def band(self, title: str) -> None:
        """A section title as the template prints it: white on dark blue."""
        top = self.px(self.y - 0.04)
        self.draw.rectangle((self.px(0.8), top, self.px(7.4), top + self.px(0.27)), fill=(31, 78, 120))
        self.text(0.88, title, 11, bold=True, fill=(255, 255, 255))
        self.line(0.36)

    def field(self, label: str, value: str, boxed: bool = True) -> None:
        self.text(0.88, label, 10.5, bold=True)
        top = self.px(self.y - 0.05)
        if boxed:  # the template's cell borders, as Excel prints them
            self.draw.rectangle((self.px(3.3), top, self.px(7.4), top + self.px(0.26)), outline=(150, 150, 150),
                                width=1)
        self.text(3.38, value, 10.5)
        self.line(0.3)


def _bezier(p0, p1, p2, p3, steps: int = 40):
    for i in range(steps + 1):
        t = i / steps
        a, b, c, d = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t ** 3
        yield (a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0], a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1])


def scribble(page: Page, x: float, y: float, colour: bool) -> None:
    """A handwritten-like signature: a few joined random Bézier strokes
    across ~2 inches above the line at (x, y) inches."""
    rng = page.rng
    ink = (20, 40, 140) if colour else (25, 25, 25)
    width = max(2, page.dpi // 70)
    cx, cy = page.px(x), page.px(y)
    point = (cx, cy - page.px(0.15))
    for _ in range(rng.randrange(3, 6)):
        step = page.px(rng.uniform(0.3, 0.6))
        end = (point[0] + step, cy - page.px(rng.uniform(0.05, 0.45)))
        c1 = (point[0] + rng.uniform(-0.2, 0.6) * step, point[1] - page.px(rng.uniform(-0.4, 0.5)))
        c2 = (end[0] - rng.uniform(-0.2, 0.6) * step, end[1] + page.px(rng.uniform(-0.4, 0.5)))
        page.draw.line(list(_bezier(point, c1, c2, end)), fill=ink, width=width, joint="curve")
        point = end
    # the flourish under the name
    page.draw.line([(cx - page.px(0.1), cy - page.px(0.05)), (point[0], cy - page.px(0.12))], fill=ink, width=width)


def stamp(page: Page, x: float, y: float, colour: bool, town: str) -> None:
    """The office's round stamp over the line, in violet ink (grey when not colour)."""
    ink = (110, 60, 160) if colour else (90, 90, 90)
    r = page.px(0.62)
    cx, cy = page.px(x), page.px(y) - page.px(0.2)
    w = max(2, page.dpi // 75)
    page.draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=ink, width=w)
    page.draw.ellipse((cx - r + 3 * w, cy - r + 3 * w, cx + r - 3 * w, cy + r - 3 * w), outline=ink, width=max(1, w // 2))
    font = page.font(7, bold=True)
    for n, line in enumerate(("ALCALDÍA", town.upper()[:12], "DESPACHO")):
        tw = page.draw.textlength(line, font=font)
        page.draw.text((cx - tw / 2, cy - page.px(0.2) + n * page.px(0.14)), line, font=font, fill=ink)


# -- the documents ------------------------------------------------------------

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
    page = Page(cap.dpi, cap.font, cap.colour, rng)
    x0, y0 = page.px(1.0), page.px(1.0)
    page.draw.rounded_rectangle((x0, y0, x0 + page.px(5.4), y0 + page.px(3.4)), radius=page.px(0.2),
                                outline=(60, 60, 60), width=3)
    page.y = 1.2
    for text, points, bold in (("REPÚBLICA DE COLOMBIA", 12, True), ("IDENTIFICACIÓN PERSONAL", 10, False),
                               ("CÉDULA DE CIUDADANÍA", 12, True)):
        page.text(1.3, text, points, bold)
        page.line(0.3)
    first, *rest = e.person.split(" ", 2)
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


# -- the capture: from the drawn page to the file's bytes -----------------------


def captured(page: Page, cap: Capture, rng: random.Random):
    """The page as the scanner or the phone returns it (a PIL image)."""
    from PIL import Image

    # A grey scan is made grey first: every step after costs a third.
    img = page.image if cap.colour else page.image.convert("L")
    if cap.shadow:
        shade = Image.linear_gradient("L").resize(img.size).point(lambda v: 255 - v // 4)  # up to 25% darker at the top
        if rng.random() < 0.5:
            shade = shade.rotate(90, expand=False)
        img = Image.composite(img, Image.new(img.mode, img.size, 0), shade)
    if cap.blur:
        # Out of focus: through a smaller image and back (a quarter of a
        # Gaussian filter's time, the same softness to the eye and to OCR).
        small = (round(img.width / (1 + cap.blur)), round(img.height / (1 + cap.blur)))
        img = img.resize(small, Image.BILINEAR).resize(img.size, Image.BILINEAR)
    if cap.skew:
        img = img.rotate(cap.skew, resample=Image.BILINEAR, expand=False,
                         fillcolor=(245, 245, 245) if cap.colour else 245)
    if cap.phone:
        img = _phone(img, rng)
    if cap.noise:
        img = _noise(img, cap.noise, rng)
    if cap.upside_down:
        img = img.rotate(180)
    return img


def _noise(img, strength: int, rng: random.Random):
    """Sensor noise: Gaussian, ``strength`` grey levels, around the page's own."""
    from PIL import Image, ImageChops

    # Drawn at half size and doubled: four times cheaper, grain of two pixels.
    noise = Image.effect_noise((img.width // 2 + 1, img.height // 2 + 1), strength).resize(
        (img.width + 2, img.height + 2), Image.NEAREST).crop((0, 0, img.width, img.height))
    if img.mode == "RGB":
        noise = Image.merge("RGB", (noise, noise, noise))
    return ImageChops.add(img, noise, scale=1.0, offset=-128)


def _phone(img, rng: random.Random):
    """The page photographed on a darker table: a larger frame, the page in
    perspective inside it, light falling off to one side."""
    from PIL import Image

    w, h = img.size
    margin = 0.08
    table, edge = ((70, 58, 48), (60, 50, 42)) if img.mode == "RGB" else (60, 52)
    frame = Image.new(img.mode, (round(w * (1 + 2 * margin)), round(h * (1 + 2 * margin))), table)
    frame.paste(img, (round(w * margin), round(h * margin)))
    fw, fh = frame.size
    j = lambda: rng.uniform(-0.035, 0.035)  # noqa: E731
    # Where the frame's corners come from: a gentle keystone.
    quad = (fw * (0.0 + j()), fh * (0.0 + j()), fw * (0.0 + j()), fh * (1.0 + j()),
            fw * (1.0 + j()), fh * (1.0 + j()), fw * (1.0 + j()), fh * (0.0 + j()))
    return frame.transform(frame.size, Image.QUAD, quad, resample=Image.BILINEAR, fillcolor=edge)


def encode(img, cap: Capture) -> tuple[bytes, str, str]:
    """(bytes, extension, MIME type)."""
    out = io.BytesIO()
    if cap.fmt == "png":
        img.save(out, format="PNG", dpi=(cap.dpi, cap.dpi))
        return out.getvalue(), "png", "image/png"
    if cap.fmt == "pdf":
        # A scanner's PDF: the JPEG page as the only content (image-only).
        img.save(out, format="PDF", resolution=float(cap.dpi), quality=cap.quality)
        return out.getvalue(), "pdf", "application/pdf"
    img.save(out, format="JPEG", quality=cap.quality, dpi=(cap.dpi, cap.dpi))
    return out.getvalue(), "jpg", "image/jpeg"


@dataclass(frozen=True)
class Scan:
    filename: str
    data: bytes
    mime: str
    capture: Capture
    what: str  # "form", "acta", "identity", "blank", "other"
    signature: str = ""

    def attachment(self) -> tuple[str, bytes, str]:
        return self.filename, self.data, self.mime


DRAW = {"form": draw_form, "acta": draw_acta, "identity": draw_identity, "other": draw_other, "blank": draw_blank}


def scan(what: str, e: Entity, cap: Capture, seed: int, name: str = "", **options) -> Scan:
    rng = random.Random(f"{what}-{seed}")
    page = DRAW[what](e, cap, rng, **options)
    data, ext, mime = encode(captured(page, cap, rng), cap)
    return Scan(f"{name or what}.{ext}", data, mime, cap, what, options.get("signature", ""))


# -- whole requests ---------------------------------------------------------------

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
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
    """The Excel form, filled in the official template (written once)."""
    import openpyxl

    from . import forms

    wb = openpyxl.load_workbook(io.BytesIO(_template()))
    forms.fill(wb["Solicitud"], e.form_values(), e.accounts)
    return forms.to_bytes(wb)


@functools.cache
def _template() -> bytes:
    from helpdesk.documents.form_template import write_template

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "template.xlsx"
        write_template(path)
        return path.read_bytes()


# A plain office scan: what a flaw is shown on when the flaw, not the
# scanner, is what a test is about.
PLAIN = Capture(dpi=150, colour=False, fmt="jpeg", quality=75, noise=8)


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
    forked processes (0.3-0.7 s a request, all Pillow): the same bytes as
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
