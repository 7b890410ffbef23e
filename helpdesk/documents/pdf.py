"""What a PDF is: pages, text layer, scanned images, signatures, encryption.

Runs inside the limited worker process (``worker.py``): pypdf has a steady
stream of denial-of-service CVEs, so besides the worker's memory, CPU and
wall-clock limits its own decompression limits are lowered here and the
external jbig2dec program is never called.

A *scan* is told by its images: a page whose resources hold an image of at
least ``SCAN_MIN_PIXELS`` on each side (a page scanned at 100 dpi or more is
well above it), read from the image's metadata without decoding it
(decoding every image costs ~0.45 s and 130 MB on a normal scan).
"""

from __future__ import annotations

import io
import zlib

import pypdf
from pypdf.errors import FileNotDecryptedError, LimitReachedError, PdfReadError, PyPdfError

from . import RESCAN_SMALLER, SEND_ANOTHER_COPY
from .facts import PdfFacts

SCAN_MIN_PIXELS = 500
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


def inspect_pdf(data: bytes) -> PdfFacts:
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
        for page in list(reader.pages)[:MAX_PAGES_EXAMINED]:
            if sum(len(t) for t in text_parts) < MAX_TEXT_CHARS:
                text_parts.append(page.extract_text() or "")
            if _has_page_sized_image(page):
                scanned += 1
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
    resources = page.get("/Resources")
    if resources is None:
        return False
    return _images_in(resources.get_object(), depth=0)


def _images_in(resources, depth: int) -> bool:
    """Look through /XObject (and form XObjects nested a few levels)."""
    if depth > 3 or not hasattr(resources, "get"):
        return False
    xobjects = resources.get("/XObject")
    if xobjects is None:
        return False
    xobjects = xobjects.get_object()
    for ref in list(xobjects.values())[:50]:
        obj = ref.get_object()
        subtype = obj.get("/Subtype")
        if subtype == "/Image":
            if int(obj.get("/Width", 0)) >= SCAN_MIN_PIXELS and int(obj.get("/Height", 0)) >= SCAN_MIN_PIXELS:
                return True
        elif subtype == "/Form" and _images_in(obj.get("/Resources", {}), depth + 1):
            return True
    return False
