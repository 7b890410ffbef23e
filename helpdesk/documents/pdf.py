"""What a PDF is: pages, text layer, scanned images, signatures, encryption.

Runs inside the limited worker process (``worker.py``): pypdf has a steady
stream of denial-of-service CVEs, so besides the worker's memory, CPU and
wall-clock limits its own decompression limits are lowered here and the
external jbig2dec program is never called.

A *scan* is told by its images: a page that draws an image of at least
``SCAN_MIN_PIXELS`` on each side (a page scanned at 100 dpi or more is
well above it) over at least ``SCAN_MIN_COVERAGE`` of the page, as drawn:
the content stream's transformation matrix at the image's ``Do`` says
where it lands (a 600x600 image drawn at 1 pt is invisible, not a scan).
The image's size is read from its metadata without decoding it (decoding
every image costs ~0.45 s and 130 MB on a normal scan).
"""

from __future__ import annotations

import io
import zlib

import pypdf
from pypdf.errors import FileNotDecryptedError, LimitReachedError, PdfReadError, PyPdfError

from . import RESCAN_SMALLER, SEND_ANOTHER_COPY
from .facts import PdfFacts

SCAN_MIN_PIXELS = 500
# Share of the page an image must cover, as drawn, to make it a scan. A
# scanner's or a phone app's PDF draws each page image over the whole page
# (1.0: tests/docfiles.scan_pdf, scan_with_ocr_pdf); a letterhead logo or
# a photo inside a typed page covers well under a quarter.
SCAN_MIN_COVERAGE = 0.5
# Content-stream operations followed per page (form XObjects included)
# when looking for where images are drawn: a scan page has a handful.
MAX_DRAW_OPERATIONS = 20_000
MAX_FORM_DEPTH = 3
_IDENTITY = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
MAX_PAGES_EXAMINED = 20
MAX_TEXT_CHARS = 20_000
# Per-stream budget: a real scan page is a few MB decoded; a bomb is not.
DECOMPRESSION_LIMIT = 25_000_000

pypdf.overwrite_configuration(
    jbig2dec_binary=None,
    zlib_maximum_output_length=DECOMPRESSION_LIMIT,
    lzw_maximum_output_length=DECOMPRESSION_LIMIT,
    run_length_maximum_output_length=DECOMPRESSION_LIMIT,
    array_based_stream_maximum_output_length=DECOMPRESSION_LIMIT,
    brotli_maximum_output_length=DECOMPRESSION_LIMIT,
    maximum_declared_stream_length=DECOMPRESSION_LIMIT,
    image_maximum_buffer_size=DECOMPRESSION_LIMIT,
    stream_decoding_work_maximum_length=4 * DECOMPRESSION_LIMIT,
    # A form or an acta has a few thousand operators a page; 200,000 took
    # pypdf's text extraction over 15 s.
    stream_parsing_work_maximum_count=100_000,
)


class PdfUnreadable(Exception):
    """The PDF cannot be read; the message says why, in Spanish, for the entity."""


def inspect_pdf(data: bytes, scanned_pages: list[int] | None = None) -> PdfFacts:
    """The PDF's facts; ``scanned_pages``, when given, receives the 0-based
    numbers of the pages that are scans (of the first MAX_PAGES_EXAMINED),
    the pages OCR reads (ocr/read.py)."""
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        owner_protected = False
        if reader.is_encrypted:
            # An owner password alone (printing or copying restricted) opens
            # with the empty user password; a user password does not.
            if not reader.decrypt(""):
                raise PdfUnreadable("está protegido con contraseña; envíe una copia sin contraseña")
            owner_protected = True
        pages = len(reader.pages)
        text_parts: list[str] = []
        scanned = 0
        for number, page in enumerate(list(reader.pages)[:MAX_PAGES_EXAMINED]):
            if sum(len(t) for t in text_parts) < MAX_TEXT_CHARS:
                text_parts.append(page.extract_text() or "")
            if _has_page_sized_image(page):
                scanned += 1
                if scanned_pages is not None:
                    scanned_pages.append(number)
        fields = reader.get_fields() or {}
        sig_fields = [f for f in fields.values() if f.get("/FT") == "/Sig"]
        signed = any(f.get("/V") is not None for f in sig_fields)
    except PdfUnreadable:
        raise
    except FileNotDecryptedError:
        raise PdfUnreadable("está protegido con contraseña; envíe una copia sin contraseña") from None
    except LimitReachedError:
        raise PdfUnreadable(f"tiene un contenido demasiado grande o anómalo para procesarlo; {RESCAN_SMALLER}"
                            ) from None
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            RecursionError, AssertionError, OverflowError, ZeroDivisionError, UnicodeError,
            NotImplementedError, LookupError, zlib.error) as exc:
        raise PdfUnreadable(f"está dañado o incompleto ({type(exc).__name__}); {SEND_ANOTHER_COPY}") from None
    text = " ".join(" ".join(text_parts).split())[:MAX_TEXT_CHARS]
    return PdfFacts(pages, text, scanned, len(sig_fields), signed, owner_protected)


def _has_page_sized_image(page) -> bool:
    """Whether the page draws a scan-sized image over most of its area."""
    resources = page.get("/Resources")
    contents = page.get_contents()
    if resources is None or contents is None:
        return False
    box = page.mediabox
    page_box = (float(box.left), float(box.bottom), float(box.right), float(box.top))
    page_area = (page_box[2] - page_box[0]) * (page_box[3] - page_box[1])
    if page_area <= 0:
        return False
    if not _large_image_in(resources.get_object(), 0):
        return False  # most typed pages: no content stream to follow
    budget = [MAX_DRAW_OPERATIONS]
    return any(covered / page_area >= SCAN_MIN_COVERAGE
               for covered in _drawn_images(contents.operations, resources.get_object(), _IDENTITY, page_box,
                                            page.pdf, 0, budget, {}))


def _drawn_images(operations, resources, ctm: tuple, page_box: tuple, pdf, depth: int, budget: list[int],
                  forms: dict):
    """The page area each large image covers as drawn, following q/Q, cm
    and form XObjects (their /Matrix), within ``budget`` operations. A form
    drawn many times is parsed once (``forms``: its operations by object)."""
    xobjects = resources.get("/XObject") if hasattr(resources, "get") else None
    xobjects = xobjects.get_object() if xobjects is not None else {}
    for name, ctm in draws(operations, ctm, budget):
        if name in xobjects:
            obj = xobjects[name].get_object()
            subtype = obj.get("/Subtype")
            if subtype == "/Image" and _large(obj.get("/Width", 0), obj.get("/Height", 0)):
                yield _covered(ctm, page_box)
            elif subtype == "/Form" and depth < MAX_FORM_DEPTH:
                from pypdf.generic import ContentStream

                matrix = tuple(float(v) for v in obj.get("/Matrix", _IDENTITY))
                if id(obj) not in forms:
                    forms[id(obj)] = (obj, ContentStream(obj, pdf).operations)  # obj kept: its id stays its own
                yield from _drawn_images(forms[id(obj)][1], obj.get("/Resources", resources).get_object(),
                                         _multiply(matrix if len(matrix) == 6 else _IDENTITY, ctm), page_box, pdf,
                                         depth + 1, budget, forms)


def draws(operations, ctm: tuple = _IDENTITY, budget: list[int] | None = None):
    """(name, matrix) of each XObject a content stream draws (``Do``), under
    the matrix q/Q and cm leave at that point; within ``budget`` operations
    (a one-item list, spent in place) when given."""
    stack = []
    for operands, operator in operations:
        if budget is not None:
            budget[0] -= 1
            if budget[0] < 0:
                return
        if operator == b"q":
            stack.append(ctm)
        elif operator == b"Q":
            ctm = stack.pop() if stack else ctm
        elif operator == b"cm" and len(operands) == 6:
            ctm = _multiply(tuple(float(v) for v in operands), ctm)
        elif operator == b"Do" and operands:
            yield operands[0], ctm


def _large(width, height) -> bool:
    return int(width or 0) >= SCAN_MIN_PIXELS and int(height or 0) >= SCAN_MIN_PIXELS


def _multiply(m: tuple, n: tuple) -> tuple:
    """m x n for PDF matrices [a b c d e f] (``cm`` pre-multiplies the CTM)."""
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (a * a2 + b * c2, a * b2 + b * d2, c * a2 + d * c2, c * b2 + d * d2,
            e * a2 + f * c2 + e2, e * b2 + f * d2 + f2)


def _covered(ctm: tuple, page_box: tuple) -> float:
    """The page area the unit square (an image) covers under ``ctm``: its
    bounding box clipped to the page."""
    a, b, c, d, e, f = ctm
    xs = [e, a + e, c + e, a + c + e]
    ys = [f, b + f, d + f, b + d + f]
    width = min(max(xs), page_box[2]) - max(min(xs), page_box[0])
    height = min(max(ys), page_box[3]) - max(min(ys), page_box[1])
    return max(0.0, width) * max(0.0, height)


def _large_image_in(resources, depth: int) -> bool:
    """Whether /XObject (or a form XObject nested a few levels) holds a
    scan-sized image at all: read from the metadata, before any content
    stream is parsed to see where it is drawn."""
    if depth > MAX_FORM_DEPTH or not hasattr(resources, "get"):
        return False
    xobjects = resources.get("/XObject")
    if xobjects is None:
        return False
    for ref in list(xobjects.get_object().values())[:50]:
        obj = ref.get_object()
        subtype = obj.get("/Subtype")
        if subtype == "/Image" and _large(obj.get("/Width", 0), obj.get("/Height", 0)):
            return True
        if subtype == "/Form" and _large_image_in(obj.get("/Resources", {}), depth + 1):
            return True
    return False
