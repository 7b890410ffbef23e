"""Realistic inbound requests for the benchmarks, built once and cached.

A real request to the support address carries three attachments (CONTRACT
section 6): the request form printed, signed and *scanned* to PDF, the same
form filled in Excel, and the scanned act of taking office (acta de
posesión). Their sizes drive everything a benchmark measures -- IMAP
transfer, fsync of the raw message, MIME parsing, the document worker -- so
the fixtures imitate real ones rather than tiny placeholders:

* ``formato_firmado.pdf`` (~300 KB): one A4 page rendered with Pillow,
  blurred and covered with grain like a 150 dpi grayscale scan, saved as a
  JPEG inside a PDF. No text layer, as a scanner makes it.
* ``Formato solicitud diligenciado.xlsx`` (~7 KB): the form of CONTRACT
  section 7, written with openpyxl, filled for one alcaldía.
* ``acta_posesion.pdf`` (~200 KB): a reportlab page whose text layer names
  the legal representative, with the scanned signature/seal block embedded
  as a JPEG (many actas are PDFs exported by the municipality, then the
  signed part scanned and pasted in).

Making a noisy JPEG of the right size takes about a second, so the PDFs are
written under ``bench/.cache/`` the first time and read from there after.
The .xlsx is cached as a template with placeholders and patched per request
(a zip rewrite, well under a millisecond): every request then names its own
accounts and alcaldía, so the helpdesk's duplicate-request check sees
distinct requests, as it would in production, instead of thousands of
copies of one.

``request_bytes(n)`` returns request number ``n`` as the bytes of a real
MIME email (text + HTML body, three base64 attachments, UTF-8 headers).

    .venv/bin/python bench/make_fixtures.py      # build the cache, print sizes
"""

from __future__ import annotations

import io
import os
import uuid
import zipfile
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"
SUPPORT = "soporte@entidad.gov.co"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

SIGNED_FORM_NAME = "formato_firmado.pdf"
EXCEL_NAME = "Formato solicitud diligenciado.xlsx"
ACTA_NAME = "acta_posesion.pdf"

# The same person signs every form and appears in every acta: the acta check
# compares the form's legal representative with the acta's text, and one
# name is enough for that to pass.
REP_NAME = "María Fernanda Gómez Ruiz"
REP_POSITION = "Alcaldesa municipal"

# Senders are u{n}@alcaldia{n % 50}.gov.co; alcaldía k is in MUNICIPIOS[k].
MUNICIPIOS = [
    ("Medellín", "Antioquia"), ("Envigado", "Antioquia"), ("Rionegro", "Antioquia"),
    ("Barranquilla", "Atlántico"), ("Soledad", "Atlántico"), ("Cartagena", "Bolívar"),
    ("Magangué", "Bolívar"), ("Tunja", "Boyacá"), ("Duitama", "Boyacá"),
    ("Sogamoso", "Boyacá"), ("Manizales", "Caldas"), ("Chinchiná", "Caldas"),
    ("Florencia", "Caquetá"), ("Popayán", "Cauca"), ("Santander de Quilichao", "Cauca"),
    ("Valledupar", "Cesar"), ("Montería", "Córdoba"), ("Lorica", "Córdoba"),
    ("Zipaquirá", "Cundinamarca"), ("Facatativá", "Cundinamarca"), ("Girardot", "Cundinamarca"),
    ("Fusagasugá", "Cundinamarca"), ("Quibdó", "Chocó"), ("Neiva", "Huila"),
    ("Pitalito", "Huila"), ("Riohacha", "La Guajira"), ("Maicao", "La Guajira"),
    ("Santa Marta", "Magdalena"), ("Ciénaga", "Magdalena"), ("Villavicencio", "Meta"),
    ("Pasto", "Nariño"), ("Ipiales", "Nariño"), ("Tumaco", "Nariño"),
    ("Cúcuta", "Norte de Santander"), ("Ocaña", "Norte de Santander"), ("Armenia", "Quindío"),
    ("Calarcá", "Quindío"), ("Pereira", "Risaralda"), ("Dosquebradas", "Risaralda"),
    ("Bucaramanga", "Santander"), ("Floridablanca", "Santander"), ("Barrancabermeja", "Santander"),
    ("San Gil", "Santander"), ("Sincelejo", "Sucre"), ("Ibagué", "Tolima"),
    ("Espinal", "Tolima"), ("Cali", "Valle del Cauca"), ("Palmira", "Valle del Cauca"),
    ("Buenaventura", "Valle del Cauca"), ("Tuluá", "Valle del Cauca"),
]
ALCALDIAS = len(MUNICIPIOS)  # 50

# Message-IDs must be unique across runs too (a reused Dovecot or database
# would deduplicate them), so each process gets its own token.
RUN_TOKEN = uuid.uuid4().hex[:12]

# Target sizes (bytes) of the two scans; --small uses a tenth of them.
SIGNED_FORM_TARGET = 300 * 1024
ACTA_TARGET = 200 * 1024


# --------------------------------------------------------------------------
# Scans
# --------------------------------------------------------------------------

def _font(size: int, bold: bool = False):
    from PIL import ImageFont

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for folder in ("/usr/share/fonts/truetype/dejavu",):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)  # Pillow's own font, needs FreeType


def _signature(draw, x: int, y: int, width: int = 320) -> None:
    """A hand-drawn-looking scribble: a few joined sine-ish strokes."""
    import math

    points = [(x + t, y + int(18 * math.sin(t / 17.0) + 9 * math.sin(t / 5.0))) for t in range(0, width, 3)]
    draw.line(points, fill=25, width=3, joint="curve")
    draw.line((x + 40, y + 30, x + width - 60, y + 22), fill=25, width=2)


def _scanned(page, target: int, fmt: str, dpi: float = 150.0) -> bytes:
    """Make ``page`` look scanned and encode it at about ``target`` bytes.

    Grain is what makes scans big: a clean white page compresses to a few
    KB, a real 150 dpi grayscale scan of a form is 200-400 KB. The quality
    is chosen by bisection so the result lands near the target size.
    """
    from PIL import Image, ImageChops, ImageFilter

    page = page.rotate(0.35, resample=Image.BICUBIC, fillcolor=236)  # fed slightly askew
    page = page.filter(ImageFilter.GaussianBlur(0.7))                 # optics
    grain = Image.effect_noise(page.size, 14)                         # paper and sensor noise, mean 128
    page = ImageChops.add(page, grain, scale=1.0, offset=-128)

    def encode(quality: int) -> bytes:
        out = io.BytesIO()
        if fmt == "PDF":
            # Pillow writes an "L" image into the PDF as DCTDecode (JPEG).
            page.save(out, format="PDF", resolution=dpi, quality=quality)
        else:
            page.save(out, format="JPEG", quality=quality, optimize=True)
        return out.getvalue()

    low, high = 5, 95
    best = encode(high)
    while low <= high:
        quality = (low + high) // 2
        data = encode(quality)
        if abs(len(data) - target) < abs(len(best) - target):
            best = data
        if len(data) < target:
            low = quality + 1
        else:
            high = quality - 1
    return best


def _form_page(scale: float = 1.0):
    """The signed request form as printed and signed, A4 at 150 dpi."""
    from PIL import Image, ImageDraw

    size = (int(1240 * scale), int(1754 * scale))
    page = Image.new("L", size, color=236)
    draw = ImageDraw.Draw(page)
    s = lambda v: int(v * scale)  # noqa: E731
    title, bold, body = _font(s(34), bold=True), _font(s(24), bold=True), _font(s(22))
    draw.text((s(110), s(110)), "FORMATO DE SOLICITUD DE REINICIO DE CLAVES", font=title, fill=20)
    draw.text((s(110), s(160)), "Cuentas de correo electrónico y usuarios de página web", font=body, fill=40)
    y = s(240)
    rows = [
        ("1.1 Datos de la entidad", None),
        ("Nombre de la entidad", "Alcaldía Municipal"), ("NIT", "890.980.037-1"),
        ("Departamento", "Antioquia"), ("Municipio", "Medellín"),
        ("1.2 Datos del representante legal", None),
        ("Nombres y apellidos", REP_NAME), ("Tipo de documento", "Cédula de ciudadanía"),
        ("Número de documento", "43.123.456"), ("Cargo", REP_POSITION),
        ("Correo electrónico", "alcalde@alcaldia.gov.co"), ("Teléfono", "604 555 1234"),
        ("2. Cuentas a las que se solicita reinicio de clave", None),
        ("Correo electrónico", "contactenos@alcaldia.gov.co"), ("Usuario de página web", "admin.web"),
    ]
    for label, value in rows:
        if value is None:
            draw.rectangle((s(100), y - s(6), s(1140), y + s(34)), fill=90)
            draw.text((s(110), y), label, font=bold, fill=245)
        else:
            draw.rectangle((s(100), y - s(6), s(1140), y + s(34)), outline=60, width=2)
            draw.line((s(520), y - s(6), s(520), y + s(34)), fill=60, width=2)
            draw.text((s(110), y), label, font=body, fill=30)
            draw.text((s(535), y), value, font=body, fill=15)
        y += s(48)
    y += s(60)
    for n in range(8):  # the legal small print every form has
        draw.text((s(110), y + n * s(30)),
                  "Declaro que la información suministrada es veraz y autorizo el envío de las nuevas claves "[: 90 - n],
                  font=_font(s(18)), fill=60)
    _signature(draw, s(160), s(1500))
    draw.line((s(120), s(1560), s(560), s(1560)), fill=40, width=2)
    draw.text((s(120), s(1570)), f"Firma: {REP_NAME}", font=body, fill=30)
    draw.ellipse((s(800), s(1420), s(1040), s(1620)), outline=70, width=5)  # the rubber stamp
    draw.text((s(840), s(1505)), "ALCALDÍA", font=bold, fill=70)
    return page


def _acta_block(scale: float = 1.0):
    """The scanned lower half of an acta: signatures and seal."""
    from PIL import Image, ImageDraw

    size = (int(1240 * scale), int(900 * scale))
    s = lambda v: int(v * scale)  # noqa: E731
    block = Image.new("L", size, color=236)
    draw = ImageDraw.Draw(block)
    body = _font(s(22))
    for n, x in enumerate((s(120), s(700))):
        _signature(draw, x, s(420), width=s(330))
        draw.line((x, s(480), x + s(420), s(480)), fill=40, width=2)
        draw.text((x, s(490)), (REP_NAME if n == 0 else "Secretario de Despacho"), font=body, fill=30)
        draw.text((x, s(520)), ("Quien se posesiona" if n == 0 else "Quien da posesión"), font=body, fill=50)
    draw.ellipse((s(480), s(600), s(760), s(840)), outline=70, width=6)
    draw.text((s(540), s(705)), "NOTARÍA", font=_font(s(26), bold=True), fill=70)
    for n in range(6):
        draw.text((s(120), s(80) + n * s(40)), "Se deja constancia de la posesión en el cargo ante el despacho.",
                  font=body, fill=45)
    return block


def _acta_pdf(target: int, scale: float) -> bytes:
    """A reportlab page with a text layer and the scanned block as JPEG."""
    from reportlab import rl_config
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    # Binary streams, as real PDF writers make them; reportlab's default
    # ASCII85 wrapping would inflate the embedded JPEG by a quarter.
    rl_config.useA85 = 0

    jpeg = _scanned(_acta_block(scale), target - 6 * 1024, "JPEG")  # the text layer adds a few KB
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    width, height = A4
    pdf.setFont("Helvetica-Bold", 14)
    pdf.drawString(72, height - 80, "ACTA DE POSESIÓN No. 001")
    pdf.setFont("Helvetica", 11)
    lines = [
        "En el despacho de la Alcaldía Municipal, el día primero de enero de dos mil veinticuatro,",
        f"compareció {REP_NAME.upper()}, identificada con cédula de ciudadanía",
        f"No. 43.123.456, con el fin de tomar posesión del cargo de {REP_POSITION.upper()},",
        "para el periodo constitucional 2024-2027, para el cual fue elegida por voto popular,",
        "según credencial expedida por la Registraduría Nacional del Estado Civil.",
        "",
        "La posesionada prestó el juramento de rigor, prometiendo cumplir fielmente la",
        "Constitución, las leyes y los deberes que el cargo le impone.",
    ]
    for n, line in enumerate(lines):
        pdf.drawString(72, height - 120 - 16 * n, line)
    image = ImageReader(io.BytesIO(jpeg))
    img_w, img_h = image.getSize()
    draw_w = width - 144
    pdf.drawImage(image, 72, 90, width=draw_w, height=draw_w * img_h / img_w)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def _cached(name: str, build) -> bytes:
    path = CACHE / name
    if path.exists():
        return path.read_bytes()
    CACHE.mkdir(parents=True, exist_ok=True)
    data = build()
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)  # atomic: two benches building at once never see half a file
    return data


def signed_form_pdf(small: bool = False) -> bytes:
    """The scanned signed form, ~300 KB (~30 KB with ``small``)."""
    if small:
        # A4 at 75 dpi: still over the helpdesk's 500 px "this is a scan" floor.
        return _cached("signed_form_small.pdf",
                       lambda: _scanned(_form_page(0.5), SIGNED_FORM_TARGET // 10, "PDF", dpi=75.0))
    return _cached("signed_form.pdf", lambda: _scanned(_form_page(), SIGNED_FORM_TARGET, "PDF"))


def acta_pdf(small: bool = False) -> bytes:
    """The acta de posesión, ~200 KB (~20 KB with ``small``)."""
    if small:
        return _cached("acta_small.pdf", lambda: _acta_pdf(ACTA_TARGET // 10, 0.5))
    return _cached("acta.pdf", lambda: _acta_pdf(ACTA_TARGET, 1.0))


# --------------------------------------------------------------------------
# Excel form
# --------------------------------------------------------------------------

# Placeholders written into the cached template and replaced per request.
# They are plain ASCII so they survive openpyxl's XML escaping unchanged.
_TOKENS = ("@ENTIDAD@", "@NIT@", "@DEPARTAMENTO@", "@MUNICIPIO@", "@REPCORREO@", "@CORREO@", "@USUARIO@")


def _form_template() -> bytes:
    """The form of CONTRACT section 7, filled, with placeholders."""
    import openpyxl
    from openpyxl.styles import Font, PatternFill

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Solicitud"
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["B"].width = 48
    ws["A1"] = "Formato de solicitud de reinicio de claves"
    ws["A1"].font = Font(bold=True, size=14)
    header = dict(font=Font(bold=True, color="FFFFFF"), fill=PatternFill("solid", fgColor="1F4E78"))
    rows = [
        ("1.1 Datos de la entidad", None),
        ("Nombre de la entidad", "@ENTIDAD@"), ("NIT", "@NIT@"),
        ("Departamento", "@DEPARTAMENTO@"), ("Municipio", "@MUNICIPIO@"),
        None,
        ("1.2 Datos del representante legal", None),
        ("Nombres y apellidos", REP_NAME), ("Tipo de documento", "Cédula de ciudadanía"),
        ("Número de documento", "43123456"), ("Cargo", REP_POSITION),
        ("Correo electrónico", "@REPCORREO@"), ("Teléfono", "6045551234"),
        None,
        ("2. Cuentas a las que se solicita reinicio de clave", None),
        ("Tipo", "Cuenta"),
        ("Correo electrónico", "@CORREO@"), ("Usuario de página web", "@USUARIO@"),
    ]
    for r, row in enumerate(rows, start=3):
        if row is None:
            continue
        label, value = row
        cell = ws.cell(r, 1, label)
        if value is None:
            cell.font, cell.fill = header["font"], header["fill"]
        else:
            ws.cell(r, 2, value).number_format = "@"  # text: NIT and phone keep their digits
            if label == "Tipo":
                cell.font = ws.cell(r, 2).font = Font(bold=True)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _check_digit(number: str) -> int:
    """DIAN modulus 11 (CONTRACT section 7), so every NIT is valid."""
    weights = (3, 7, 13, 17, 19, 23, 29, 37, 41, 43, 47, 53, 59, 67, 71)
    remainder = sum(int(d) * w for d, w in zip(reversed(number), weights)) % 11
    return remainder if remainder < 2 else 11 - remainder


def alcaldia(k: int) -> dict[str, str]:
    """The entity behind sender domain alcaldia{k}.gov.co."""
    municipio, departamento = MUNICIPIOS[k % ALCALDIAS]
    number = str(890_980_000 + 37 * k)
    nit = f"{number[:3]}.{number[3:6]}.{number[6:]}-{_check_digit(number)}"
    return {"municipio": municipio, "departamento": departamento, "nit": nit,
            "entidad": f"Alcaldía Municipal de {municipio}", "domain": f"alcaldia{k}.gov.co"}


def form_xlsx(n: int) -> bytes:
    """The Excel form of request ``n``: its alcaldía, its own two accounts."""
    template = _cached("form_template.xlsx", _form_template)
    entity = alcaldia(n % ALCALDIAS)
    values = {
        "@ENTIDAD@": entity["entidad"], "@NIT@": entity["nit"],
        "@DEPARTAMENTO@": entity["departamento"], "@MUNICIPIO@": entity["municipio"],
        "@REPCORREO@": f"alcalde@{entity['domain']}",
        "@CORREO@": f"contactenos{n}@{entity['domain']}", "@USUARIO@": f"admin.web{n}",
    }
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(template)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith(".xml"):
                for token in _TOKENS:
                    data = data.replace(token.encode(), values[token].encode("utf-8"))
            dst.writestr(item, data)
    return out.getvalue()


# --------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------

def sender(n: int) -> str:
    return f"u{n}@alcaldia{n % ALCALDIAS}.gov.co"


def message_id(n: int) -> str:
    """Message-ID of request ``n`` in this process (with angle brackets)."""
    return f"<solicitud-{n}.{RUN_TOKEN}@alcaldia{n % ALCALDIAS}.gov.co>"


_BASE_DATE = datetime(2026, 3, 2, 8, 0, tzinfo=timezone(timedelta(hours=-5)))


def request_bytes(n: int, small: bool = False) -> bytes:
    """Request ``n`` as a MIME email from u{n}@alcaldia{n % 50}.gov.co.

    Shaped like what Outlook or Gmail send: multipart/mixed holding a
    text/plain + text/html alternative and the three attachments in base64;
    the subject has accents (RFC 2047 encoded on the wire).
    """
    entity = alcaldia(n % ALCALDIAS)
    msg = EmailMessage()
    msg["From"] = formataddr((f"Sistemas {entity['entidad']}", sender(n)))
    msg["To"] = SUPPORT
    msg["Subject"] = f"Solicitud de reinicio de contraseña – {entity['entidad']} (solicitud {n})"
    msg["Date"] = format_datetime(_BASE_DATE + timedelta(seconds=n))
    msg["Message-ID"] = message_id(n)
    text = (
        "Señores Mesa de ayuda de Gobierno en línea:\n\n"
        f"La {entity['entidad']} ({entity['departamento']}) solicita el reinicio de la contraseña "
        "de las cuentas indicadas en el formato adjunto. Adjuntamos el formato firmado y escaneado, "
        "el formato en Excel diligenciado y la copia del acta de posesión de la alcaldesa.\n\n"
        "Cordialmente,\n\nOficina de Sistemas\n"
    )
    msg.set_content(text)
    html = "<html><body>" + "".join(f"<p>{p}</p>" for p in text.split("\n\n")) + "</body></html>"
    msg.add_alternative(html, subtype="html")
    msg.add_attachment(signed_form_pdf(small), maintype="application", subtype="pdf", filename=SIGNED_FORM_NAME)
    maintype, subtype = XLSX_TYPE.split("/")
    msg.add_attachment(form_xlsx(n), maintype=maintype, subtype=subtype, filename=EXCEL_NAME)
    msg.add_attachment(acta_pdf(small), maintype="application", subtype="pdf", filename=ACTA_NAME)
    return msg.as_bytes()


def main() -> None:
    import time

    for small in (False, True):
        label = "small" if small else "normal"
        print(f"{label:6} signed form PDF : {len(signed_form_pdf(small)) / 1024:6.0f} KB")
        print(f"{label:6} acta PDF        : {len(acta_pdf(small)) / 1024:6.0f} KB")
    print(f"       Excel form      : {len(form_xlsx(0)) / 1024:6.1f} KB")
    started = time.perf_counter()
    raw = request_bytes(0)
    print(f"       request email   : {len(raw) / 1024:6.0f} KB "
          f"(small: {len(request_bytes(0, small=True)) / 1024:.0f} KB), "
          f"built in {(time.perf_counter() - started) * 1000:.0f} ms")
    print(f"cache: {CACHE}")


if __name__ == "__main__":
    main()
