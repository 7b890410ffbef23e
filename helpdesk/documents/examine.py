"""One attachment -> ``FileFacts``: what it really is and what it contains.

This is the code that touches hostile bytes; it runs only inside the
limited worker process (``worker.py``). It never decides whether a
request is complete: it reports facts, and ``classify``/``checks`` judge.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import time

from ..rules import FormRules, Rules
from . import RESCAN_SMALLER, SEND_ANOTHER_COPY, archive, image_quality, sniff
from .excel import NotAForm, read_form, read_form_grid
from .facts import FileFacts, FormData, PdfFacts  # noqa: F401  (FileFacts: examine's result)
from .ocr.read import read_image, read_pdf
from .pdf import PdfUnreadable, inspect_pdf
from .reading import PageReading, ScanReading
from .signature import validate


def zip_limits(rules: Rules) -> archive.ZipLimits:
    lim = rules.documents.limits
    return archive.ZipLimits(lim.max_zip_members, lim.max_zip_member_bytes, lim.max_zip_total_bytes, lim.max_zip_ratio)


def examine(filename: str, data: bytes, rules: Rules, depth: int = 0, form: FormRules | None = None,
            options=None, budget=None) -> FileFacts:
    """``form``: the labels a spreadsheet is read with (the ticket's
    procedure's form); the rules folder's request form when None.
    ``options`` (ocr/read.Options: config [documents]) and ``budget``
    (ocr/read.Budget: the deadline the worker sets): how scans are read;
    OCR with the defaults within the worker's per-file timeout when None."""
    form = form or rules.form
    if options is None or budget is None:
        from .ocr.read import Budget, Options

        options = options or Options()
        budget = budget or Budget(time.monotonic() + rules.documents.worker.timeout_seconds)
    base = dict(filename=filename, sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    limits = rules.documents.limits
    if len(data) > limits.max_file_bytes:
        return FileFacts(**base, type=sniff.OTHER,
                         error=f"ocupa {len(data) / 1_048_576:.1f} MB y el máximo es "
                               f"{limits.max_file_bytes / 1_048_576:.0f} MB; {RESCAN_SMALLER}")
    kind = sniff.sniff(data)
    base["type"] = kind
    if kind == sniff.PDF:
        scanned: list[int] = []
        try:
            pdf = inspect_pdf(data, scanned)
        except PdfUnreadable as exc:
            return FileFacts(**base, error=f"el PDF {exc}")
        base["reading"] = _read_scan(lambda: read_pdf(data, scanned, options, budget), scanned, options)
        # A signature value is validated (pyHanko); an empty field is no signature.
        return FileFacts(**base, pdf=pdf, digital_signature=validate(data, rules.trust_roots_pem) if pdf.signed else None)
    if kind in (sniff.XLSX, sniff.XLS, sniff.ODS):
        return _spreadsheet(base, kind, data, rules, form)
    if kind in (sniff.JPEG, sniff.PNG):
        facts = _image(base, data, limits.max_image_pixels)
        if not facts.readable:
            return facts
        return dataclasses.replace(facts, reading=_read_scan(
            lambda: read_image(data, options, budget, limits.max_image_pixels, facts.image_ink_ppm), [0], options))
    if kind == sniff.ZIP:
        if depth >= limits.max_zip_depth:
            return FileFacts(**base, error="tiene archivos comprimidos dentro de otros; envíe los documentos sin comprimir")
        try:
            members = archive.extract(data, zip_limits(rules))
        except archive.UnsafeArchive as exc:
            return FileFacts(**base, error=f"{exc}; envíe los documentos sin comprimir, adjuntos al correo")
        return FileFacts(**base, members=tuple(examine(n, d, rules, depth + 1, form, options, budget)
                                               for n, d in members))
    return FileFacts(**base, error=_unknown(filename, data))


def _read_scan(read, pages: list[int], options) -> ScanReading | None:
    """A scan's reading (ocr/read.py), or None with OCR off or no scanned
    page. Whatever goes wrong in the reading (a bug, a page too large for
    memory) leaves the file readable: its pages are said not read
    (scan_not_read), never turned into an unreadable document."""
    if not options.ocr or not pages:
        return None
    try:
        return read()
    except (Exception, MemoryError) as exc:
        reason = f"no se leyó: falló la lectura del escaneo ({type(exc).__name__})"
        return ScanReading("", 0, 0, "", pages=tuple(PageReading(n, 0, 0, 0, 0, False, reason)
                                                      for n in pages[:options.pages]))


def _spreadsheet(base: dict, kind: str, data: bytes, rules: Rules, form_rules: FormRules) -> FileFacts:
    try:
        if kind in (sniff.XLSX, sniff.ODS):
            # Neither openpyxl nor calamine is protected from zip bombs:
            # check the declared sizes before either opens the file.
            archive.check(data, zip_limits(rules))
        if kind == sniff.XLSX:
            form = read_form(data, form_rules)
        else:
            form = read_form_grid(_calamine_grid(data, form_rules), form_rules)
    except archive.UnsafeArchive as exc:
        return FileFacts(**base, error=str(exc))
    except NotAForm:
        return FileFacts(**base)  # a spreadsheet, but not the request form
    except Exception as exc:  # any parser failure on hostile input
        return FileFacts(**base, error=f"la hoja de cálculo está dañada o no se puede abrir ({type(exc).__name__}); "
                                       "ábrala en Excel, guárdela de nuevo como .xlsx y envíela")
    return FileFacts(**base, form=form)


def _calamine_grid(data: bytes, form: FormRules):
    """.xls and .ods through python-calamine (only ever inside the worker:
    on some malformed files it aborts the whole process)."""
    from python_calamine import CalamineWorkbook

    from .excel import cell_text

    workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    sheets = []
    for name in workbook.sheet_names[: form.max_sheets]:
        rows = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
        grid = {}
        for r, row in enumerate(rows[: form.max_rows], start=1):
            for c, value in enumerate(row[: form.max_columns], start=1):
                text = cell_text(value)
                if text:
                    grid[(r, c)] = text
        sheets.append((name, grid))
    return sheets


def _image(base: dict, data: bytes, max_pixels: int) -> FileFacts:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with Image.open(io.BytesIO(data)) as img:
            size = img.size
            if size[0] * size[1] > max_pixels:
                return FileFacts(**base, error=f"la imagen es demasiado grande; {RESCAN_SMALLER}")
            img.load()  # a truncated or corrupt image fails here
            quality = image_quality.measure(img)
    except Image.DecompressionBombError:
        return FileFacts(**base, error=f"la imagen es demasiado grande; {RESCAN_SMALLER}")
    except Exception as exc:  # Pillow raises many types on hostile input
        return FileFacts(**base, error=f"la imagen está dañada o incompleta ({type(exc).__name__}); {SEND_ANOTHER_COPY}")
    return FileFacts(**base, image_size=size, image_ink_ppm=quality.ink_ppm)


def _unknown(filename: str, data: bytes) -> str:
    if data.startswith(b"PK"):
        return ("el archivo está dañado o incompleto (no se puede abrir como archivo comprimido ni como Excel); "
                f"{SEND_ANOTHER_COPY}")
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if ext in ("pdf", "xlsx", "xlsm", "xls", "ods", "jpg", "jpeg", "png", "zip"):
        return f"no es un archivo .{ext} válido aunque su nombre lo diga; {SEND_ANOTHER_COPY}"
    return "no es un PDF, una imagen JPG o PNG ni un archivo de Excel; envíe el documento en uno de esos formatos"
