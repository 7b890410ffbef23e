"""Real document files built at test time: PDFs, scans, spreadsheets, zips,
and hostile ones (bombs, loops, truncations, lies about their type).

Nothing here is a binary fixture. Normal files are made by the programs
that make them in real life (reportlab for a computer-made PDF, Pillow for
a scanner's page, pypdf for signatures and passwords, zipfile for
archives); hostile ones are written byte by byte where no program would
make them. Bombs are built streaming, a megabyte at a time: the test
process never holds what they decompress to. The expensive ones are cached.
"""

from __future__ import annotations

import functools
import io
import random
import struct
import zipfile
import zlib

A4_INCHES = (8.27, 11.69)

# -- computer-made and scanned pages ------------------------------------


def text_pdf(lines: list[str]) -> bytes:
    """A PDF made on a computer: a text layer, no image."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    y = A4[1] - 72
    for line in lines:
        c.drawString(72, y, line)
        y -= 18
    c.showPage()
    c.save()
    return out.getvalue()


def page_image(lines: list[str], dpi: int = 150, seed: int = 7, signature_label: str = ""):
    """A grayscale A4 page as a scanner sees it: grey paper, dark text, a
    signature stroke (over ``signature_label``, printed under it as forms
    do) and speckle noise."""
    from PIL import Image, ImageDraw, ImageFont

    width, height = round(A4_INCHES[0] * dpi), round(A4_INCHES[1] * dpi)
    page = Image.new("L", (width, height), color=240)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=max(12, dpi // 6))
    for n, line in enumerate(lines):
        draw.text((dpi, dpi + n * dpi // 3), line, fill=25, font=font)
    draw.line((dpi, height - 2 * dpi, 3 * dpi, height - 2 * dpi - dpi // 8), fill=10, width=3)  # the signature
    if signature_label:
        draw.text((dpi, height - 2 * dpi + dpi // 6), signature_label, fill=25, font=font)
    rng = random.Random(seed)
    pixels = page.load()
    for _ in range(width * height // 200):
        pixels[rng.randrange(width), rng.randrange(height)] = rng.randrange(0, 256)
    return page


def scan_pdf(lines: list[str], dpi: int = 150, signature_label: str = "") -> bytes:
    """A scanned page: one page-sized image, no text layer."""
    out = io.BytesIO()
    page_image(lines, dpi, signature_label=signature_label).save(out, format="PDF", resolution=float(dpi))
    return out.getvalue()


def scan_jpeg(lines: list[str], dpi: int = 150, signature_label: str = "") -> bytes:
    out = io.BytesIO()
    page_image(lines, dpi, signature_label=signature_label).save(out, format="JPEG", quality=80, dpi=(dpi, dpi))
    return out.getvalue()


def scan_png(lines: list[str], dpi: int = 100, signature_label: str = "") -> bytes:
    out = io.BytesIO()
    page_image(lines, dpi, signature_label=signature_label).save(out, format="PNG", dpi=(dpi, dpi))
    return out.getvalue()


def scan_with_ocr_pdf(lines: list[str], dpi: int = 150, signature_label: str = "") -> bytes:
    """What a scanner with OCR makes: the page image, and the recognised
    text as an invisible layer on top of it."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    c.drawImage(ImageReader(page_image(lines, dpi, signature_label=signature_label)), 0, 0, width=A4[0],
                height=A4[1])
    text = c.beginText(72, A4[1] - 72)
    text.setTextRenderMode(3)  # invisible
    for line in lines:
        text.textLine(line)
    c.drawText(text)
    c.showPage()
    c.save()
    return out.getvalue()


# -- signatures and passwords ------------------------------------------


def _with_signature_field(value: bool) -> bytes:
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import (
        ArrayObject,
        ByteStringObject,
        DictionaryObject,
        NameObject,
        NumberObject,
        TextStringObject,
    )

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf(
        ["FORMATO DE SOLICITUD DE REINICIO DE CLAVE", "Firmado digitalmente por el representante legal"]))))
    page = writer.pages[0]
    widget = DictionaryObject({
        NameObject("/Type"): NameObject("/Annot"),
        NameObject("/Subtype"): NameObject("/Widget"),
        NameObject("/FT"): NameObject("/Sig"),
        NameObject("/T"): TextStringObject("Firma representante legal"),
        NameObject("/Rect"): ArrayObject([NumberObject(0)] * 4),
        NameObject("/F"): NumberObject(132),
        NameObject("/P"): page.indirect_reference,
    })
    if value:
        signature = DictionaryObject({
            NameObject("/Type"): NameObject("/Sig"),
            NameObject("/Filter"): NameObject("/Adobe.PPKLite"),
            NameObject("/SubFilter"): NameObject("/adbe.pkcs7.detached"),
            NameObject("/ByteRange"): ArrayObject([NumberObject(n) for n in (0, 0, 0, 0)]),
            NameObject("/Contents"): ByteStringObject(b"\x30\x82" + bytes(62)),
            NameObject("/Name"): TextStringObject("María Fernanda Gómez Ruiz"),
        })
        widget[NameObject("/V")] = writer._add_object(signature)
    widget_ref = writer._add_object(widget)
    page[NameObject("/Annots")] = ArrayObject([widget_ref])
    writer._root_object[NameObject("/AcroForm")] = DictionaryObject({
        NameObject("/Fields"): ArrayObject([widget_ref]),
        NameObject("/SigFlags"): NumberObject(3 if value else 1),
    })
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def signed_pdf() -> bytes:
    """A computer-made PDF carrying a signature: a /Sig field with a value."""
    return _with_signature_field(True)


def unsigned_sig_field_pdf() -> bytes:
    """A computer-made PDF with an empty signature field (never signed)."""
    return _with_signature_field(False)


def encrypted_pdf(user_password: str = "", owner_password: str = "owner",
                  lines=("ACTA DE POSESIÓN", "En la fecha tomó posesión del cargo de alcaldesa")) -> bytes:
    """Encrypted with pypdf; an empty user password opens it for reading
    (only printing or copying are restricted by the owner password)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf(list(lines)))))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# -- archives -----------------------------------------------------------


def zip_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out.getvalue()


def nested_zip(depth: int, inner: tuple[str, bytes] = ("leeme.txt", b"documentos")) -> bytes:
    """A zip inside a zip ... ``depth`` levels deep, one file at the bottom."""
    name, data = inner
    for level in range(depth):
        data = zip_of({name: data})
        name = f"nivel{depth - level}.zip"
    return data


def many_members_zip(n: int) -> bytes:
    return zip_of({f"hoja_{i:05d}.txt": b"x" for i in range(n)})


# -- spreadsheets built by hand (the parts a bomb lives in) --------------

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '</Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Solicitud" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/></Relationships>'
)
_SHEET_OPEN = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
               '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
_SHEET_CLOSE = "</sheetData></worksheet>"


def _xlsx(sheet_writer) -> bytes:
    """A minimal valid .xlsx whose sheet1.xml is written by ``sheet_writer(stream)``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/workbook.xml", _WORKBOOK)
        zf.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        with zf.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet_writer(sheet)
    return out.getvalue()


def small_xlsx(rows: list[list[str]]) -> bytes:
    """The same hand-made workbook with a few inline-string cells (a control)."""
    def write(sheet):
        sheet.write(_SHEET_OPEN.encode())
        for r, row in enumerate(rows, start=1):
            cells = "".join(f'<c r="{chr(64 + c)}{r}" t="inlineStr"><is><t>{v}</t></is></c>'
                            for c, v in enumerate(row, start=1))
            sheet.write(f'<row r="{r}">{cells}</row>'.encode())
        sheet.write(_SHEET_CLOSE.encode())
    return _xlsx(write)


ZIP_BOMB_BYTES = 210 * 1024 * 1024


@functools.cache
def zip_bomb_xlsx(uncompressed: int = ZIP_BOMB_BYTES) -> bytes:
    """A valid-looking .xlsx whose sheet1.xml inflates to over 200 MB
    (written 1 MB at a time: neither builder nor test ever holds it)."""
    chunk = b" " * (1024 * 1024)  # whitespace between elements: well-formed XML

    def write(sheet):
        sheet.write(_SHEET_OPEN.encode())
        sheet.write(b'<row r="1"><c r="A1" t="inlineStr"><is><t>NIT</t></is></c></row>')
        for _ in range(uncompressed // len(chunk)):
            sheet.write(chunk)
        sheet.write(_SHEET_CLOSE.encode())

    return _xlsx(write)


@functools.cache
def zip_bomb_lying_sizes_xlsx(uncompressed: int = 150 * 1024 * 1024) -> bytes:
    """The zip bomb again, but its headers declare sheet1.xml to be 2 KB:
    only a reader that stops at the declared size is safe."""
    data = bytearray(zip_bomb_xlsx(uncompressed))
    name = b"xl/worksheets/sheet1.xml"
    # (signature, offset of the uncompressed size, offset of the name length, offset of the name)
    headers = ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46))
    for signature, size_at, name_len_at, name_at in headers:
        at = -1
        while (at := data.find(signature, at + 1)) != -1:
            (name_len,) = struct.unpack_from("<H", data, at + name_len_at)
            if data[at + name_at: at + name_at + name_len] == name:
                struct.pack_into("<I", data, at + size_at, 2048)
                break
        else:
            raise AssertionError(f"no {signature!r} header for {name!r}")
    return bytes(data)


def xml_bomb_xlsx() -> bytes:
    """Billion laughs: nested entities in sheet1.xml of an otherwise valid .xlsx."""
    entities = ['<!ENTITY lol0 "lol">']
    entities += [f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, 10)]
    doctype = '<!DOCTYPE worksheet [' + "".join(entities) + "]>"

    def write(sheet):
        sheet.write(('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + doctype +
                     '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
                     '<row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
                     + _SHEET_CLOSE).encode())

    return _xlsx(write)


# -- hostile PDFs (written object by object) -----------------------------


def _pdf_from_objects(objects: dict[int, bytes], root: int, trailer_extra: bytes = b"") -> bytes:
    """A PDF with a correct xref table for the given ``n 0 obj`` bodies."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    xref_at = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        out += (b"%010d 00000 n \n" % offsets[number]) if number in offsets else b"0000000000 65535 f \n"
    out += b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (size, root, trailer_extra, xref_at)
    return bytes(out)


PDF_BOMB_BYTES = 520 * 1024 * 1024


@functools.cache
def pdf_decompression_bomb(inflated: int = PDF_BOMB_BYTES) -> bytes:
    """One page whose FlateDecode content stream inflates to over 500 MB of zeros."""
    compressor = zlib.compressobj(9)
    chunk = bytes(1024 * 1024)
    parts = [compressor.compress(chunk) for _ in range(inflated // len(chunk))]
    parts.append(compressor.flush())
    return _one_page_pdf(b"".join(parts), b"/FlateDecode")


def _one_page_pdf(stream: bytes, filter_name: bytes) -> bytes:
    """One page whose content is ``stream``, encoded with ``filter_name``."""
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        # A font in the resources: without one a text extractor may rightly skip the content.
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
           b"/Resources << /Font << /F1 5 0 R >> >> >>",
        4: b"<< /Length %d /Filter %s >>\nstream\n" % (len(stream), filter_name) + stream + b"\nendstream",
        5: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    return _pdf_from_objects(objects, root=1)


def looping_pdf() -> bytes:
    """A page tree that contains itself: /Pages lists itself among its /Kids."""
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R 2 0 R] /Count 2 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << >> >>",
    }
    return _pdf_from_objects(objects, root=1)


def prev_loop_pdf() -> bytes:
    """Two xref sections whose /Prev point at each other."""
    body = bytearray(b"%PDF-1.7\n")
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << >> >>"]
    offsets = []
    for n, obj in enumerate(objs, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % n + obj + b"\nendobj\n"

    def section(prev: int) -> bytes:
        rows = b"".join(b"%010d 00000 n \n" % o for o in offsets)
        return (b"xref\n0 4\n0000000000 65535 f \n" + rows +
                b"trailer\n<< /Size 4 /Root 1 0 R /Prev %010d >>\n" % prev)

    first_at = len(body)
    second_at = first_at + len(section(0))
    body += section(second_at) + section(first_at)
    body += b"startxref\n%d\n%%%%EOF\n" % second_at
    return bytes(body)


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: int(len(data) * keep)]


def lying_extension() -> list[tuple[str, bytes]]:
    """Files whose names lie: a web page saved as .xlsx, a PDF called .jpg."""
    html = (b"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Formato</title></head>"
            b"<body><table><tr><td>NIT</td><td>890905211-1</td></tr></table></body></html>")
    return [("formato.xlsx", html), ("acta.jpg", text_pdf(["ACTA DE POSESIÓN", "tomó posesión del cargo"]))]


def huge_image_png(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG whose header declares width x height pixels (a decompression bomb's header)."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    idat = zlib.compress(bytes(width + 1) * 4)  # a few rows of data; the rest missing
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# -- files that break parsers rather than budgets ------------------------


def unknown_filter_pdf() -> bytes:
    """A page whose content stream names a filter nobody implements (a
    corrupted /FlateDecode, as damaged files have)."""
    return _one_page_pdf(zlib.compress(b"BT /F1 12 Tf 72 770 Td (ACTA DE POSESION) Tj ET"), b"/FlateDecodf")


def certificate_encrypted_pdf() -> bytes:
    """Encrypted for a recipient's certificate (/Adobe.PubSec), not with a password."""
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << >> >>",
        4: b"<< /Filter /Adobe.PubSec /SubFilter /adbe.pkcs7.s5 /V 4 /R 4 /Length 128 "
           b"/Recipients [<3082010a02820101>] /CF << /DefaultCryptFilter << /CFM /AESV2 /Length 16 >> >> "
           b"/StmF /DefaultCryptFilter /StrF /DefaultCryptFilter >>",
    }
    return _pdf_from_objects(objects, root=1, trailer_extra=b"/Encrypt 4 0 R /ID [<0123456789abcdef> <0123456789abcdef>] ")


def _local_data_offset(data: bytes, at: int = 0) -> int:
    name_len, extra_len = struct.unpack_from("<HH", data, at + 26)
    return at + 30 + name_len + extra_len


def corrupt_deflate_zip(files: dict[str, bytes] | None = None) -> bytes:
    """A zip whose first member's deflate data starts with an invalid block type."""
    data = bytearray(zip_of(files or {"acta_posesion.pdf": text_pdf(["ACTA DE POSESIÓN"])}))
    data[_local_data_offset(data)] = 0xFF  # BFINAL=1, BTYPE=11: reserved
    return bytes(data)


def bad_offsets_zip(files: dict[str, bytes] | None = None) -> bytes:
    """A zip whose end record places the central directory 16 bytes later
    than it is: the member list reads fine, the members' offsets go negative."""
    data = bytearray(zip_of(files or {"acta_posesion.pdf": text_pdf(["ACTA DE POSESIÓN"])}))
    eocd = data.rfind(b"PK\x05\x06")
    (offset,) = struct.unpack_from("<I", data, eocd + 16)
    struct.pack_into("<I", data, eocd + 16, offset + 16)
    return bytes(data)


# -- more zips: an OpenDocument bomb, a folder compressed on a Mac --------

ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"


@functools.cache
def zip_bomb_ods(uncompressed: int = ZIP_BOMB_BYTES) -> bytes:
    """An OpenDocument spreadsheet whose content.xml inflates to ``uncompressed``
    bytes: one cell holding a very long text."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), ODS_MIMETYPE)  # stored, first, as the format requires
        zf.writestr("META-INF/manifest.xml",
                    '<?xml version="1.0" encoding="UTF-8"?>'
                    '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
                    'manifest:version="1.2"><manifest:file-entry manifest:full-path="/" '
                    'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                    '</manifest:manifest>')
        with zf.open("content.xml", "w") as content:
            content.write(b'<?xml version="1.0" encoding="UTF-8"?><office:document-content '
                          b'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
                          b'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
                          b'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
                          b'<office:body><office:spreadsheet><table:table table:name="Solicitud"><table:table-row>'
                          b'<table:table-cell office:value-type="string"><text:p>')
            chunk = b"A" * (1024 * 1024)
            for _ in range(uncompressed // len(chunk)):
                content.write(chunk)
            content.write(b"</text:p></table:table-cell></table:table-row></table:table>"
                          b"</office:spreadsheet></office:body></office:document-content>")
    return out.getvalue()


# An AppleDouble header (magic 0x00051607, version 2, one Finder-info entry):
# what macOS puts in __MACOSX/ for every file it compresses.
APPLE_DOUBLE = (struct.pack(">II16sH", 0x00051607, 0x00020000, b"Mac OS X        ", 1)
                + struct.pack(">III", 9, 50, 32) + bytes(32))
DS_STORE = b"\x00\x00\x00\x01Bud1" + bytes(2040)


def mac_zip_of(files: dict[str, bytes], folder: str = "Documentos") -> bytes:
    """A folder compressed with the macOS Finder: each file is followed by its
    ``__MACOSX/._name`` AppleDouble companion, and the folder's .DS_Store is in."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{folder}/", b"")
        zf.writestr(f"{folder}/.DS_Store", DS_STORE)
        zf.writestr(f"__MACOSX/{folder}/._.DS_Store", APPLE_DOUBLE)
        for name, data in files.items():
            zf.writestr(f"{folder}/{name}", data)
            zf.writestr(f"__MACOSX/{folder}/._{name}", APPLE_DOUBLE)
    return out.getvalue()


# -- PDFs that cost CPU rather than memory --------------------------------


def slow_text_pdf(operators: int = 200_000) -> bytes:
    """A small PDF (tens of KB) whose one page holds ``operators`` text
    operators: a few MB decoded, well within the decompression budget, but
    many seconds of pure-Python text extraction."""
    stream = zlib.compress(b"BT /F1 9 Tf 72 700 Td (acta) Tj ET\n" * operators, 9)
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
           b"/Resources << /Font << /F1 5 0 R >> >> >>",
        4: b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        5: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    return _pdf_from_objects(objects, root=1)


def slow_pages_pdf(pages: int = 20, operators: int = 14_000, draws: int = 15) -> bytes:
    """A 5 KB PDF whose pages share one content stream that draws
    ``draws`` times one form of ``operators`` empty text operators. Each
    stream stays under any per-stream budget and adds no text, but text
    extraction parses the form again at every draw of every page (about
    0.3 s each). With the defaults that is 95 s of CPU where 20 pages of
    one plain draw took 7.5 s: some twenty times the worker's 5 s in
    tests/test_hostile.py, so no machine is fast enough to finish it."""
    form = zlib.compress(b"BT /F1 9 Tf () Tj ET\n" * operators, 9)
    content = b"/X0 Do\n" * draws
    kids = b" ".join(b"%d 0 R" % (10 + n) for n in range(pages))
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
        3: b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        4: b"<< /Type /XObject /Subtype /Form /BBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> "
           b"/Length %d /Filter /FlateDecode >>\nstream\n" % len(form) + form + b"\nendstream",
        5: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    for n in range(pages):
        objects[10 + n] = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 3 0 R "
                           b"/Resources << /Font << /F1 5 0 R >> /XObject << /X0 4 0 R >> >> >>")
    return _pdf_from_objects(objects, root=1)
