"""What was read from a scan (OCR) and from a PDF's digital signature.

Plain data, like facts.py: it travels from the document worker to the
daemon as JSON (replies_json.py decodes it against these classes, which
allow only str, int, bool, lists/tuples and nested dataclasses: no float,
so confidences are 0-100 integers and ink is in parts per million). The
readers (documents/ocr/, documents/signature.py) fill it in the worker;
the checks (examination/) judge it and never see a pixel.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Word:
    """One word Tesseract read, in the upright page's pixels."""

    text: str
    confidence: int  # 0-100, Tesseract's word confidence
    page: int  # 0-based page of the document (an image is page 0)
    box: tuple[int, int, int, int]  # x0, y0, x1, y1


@dataclass(frozen=True)
class PageReading:
    """How one page went: read, or why not (said to staff as scan_not_read)."""

    page: int  # 0-based
    width: int  # pixels of the image read (after orientation)
    height: int
    rotation: int  # degrees the page was turned to read it upright: 0, 90, 180, 270
    confidence: int  # mean word confidence on the page, 0-100 (0 when not read)
    read: bool
    reason: str = ""  # in Spanish, when not read: no engine, budget spent, too little confidence
    # The page image's ink as received (documents/image_quality.py, parts per
    # million), measured apart from OCR: what tells a blank page from one
    # OCR read no word of. None when the page was never drawn.
    ink_ppm: int | None = None


@dataclass(frozen=True)
class SignatureInk:
    """The signed form's signature area: found by a printed label in the
    words ("Firma del representante legal", "FIRMA:", "Firma y sello"),
    and the dark pixels in it against the page's background."""

    found: bool  # a signature label was found
    ink_ppm: int  # dark pixels in the area, parts per million (0..1,000,000)
    label: str = ""  # the label as read
    page: int = 0


@dataclass(frozen=True)
class ScanReading:
    """A scanned document as read: CONTRACT section 11's ``reading``."""

    engine: str  # e.g. "tesseract 5.5.4 (spa)"; "" when no engine could run
    pages_read: int
    confidence: int  # mean word confidence over the pages read, 0-100
    text: str  # what was read, pages in order (bounded)
    words: tuple[Word, ...] = field(default_factory=tuple)  # bounded
    pages: tuple[PageReading, ...] = field(default_factory=tuple)
    signature: SignatureInk | None = None  # measured on every scan; the checks use it for the signed form


@dataclass(frozen=True)
class DigitalSignature:
    """A PDF's digital signature as pyHanko validated it (CONTRACT 11)."""

    valid: bool  # intact and cryptographically sound, whatever the trust; false when it cannot be parsed
    covers_whole_file: bool  # no change after signing (no incremental update past the signed bytes)
    signer: str  # the signing certificate's subject common name
    issuer: str  # its issuer's common name
    trusted: bool  # chains to [documents] trust_roots
    error: str = ""  # why it is not valid, in Spanish ("" when valid)
