"""What the document worker finds in a file, as plain data.

These classes travel from the worker to the daemon (as JSON,
replies_json.py) and through the examination. They live apart from the
readers (excel.py, pdf.py, examine.py) so that the daemon, which never
reads a file itself, does not load openpyxl, pypdf and Pillow: 0.3 s of
its start and several MB of its memory.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from .reading import DigitalSignature, ScanReading


@dataclass(frozen=True)
class Account:
    type: str  # "Correo electrónico" | "Usuario de página web" | what was written
    account: str


@dataclass(frozen=True)
class FormData:
    """What the form says; ``fields`` keys are those of rules/form.toml."""

    fields: dict[str, str]
    accounts: list[Account]
    sheet: str
    notes: list[str] = field(default_factory=list)  # for staff: what was odd


@dataclass(frozen=True)
class PdfFacts:
    pages: int
    text: str  # the text layer of the first pages, whitespace collapsed
    scanned_pages: int  # pages carrying a page-sized image
    signature_fields: int
    signed: bool  # a signature field with a value (not verified: pyhanko would)
    owner_protected: bool  # encrypted with an empty user password: readable

    @property
    def has_text(self) -> bool:
        return len(self.text) >= 40

    @property
    def is_scan(self) -> bool:
        return self.scanned_pages > 0


@dataclass(frozen=True)
class FileFacts:
    filename: str
    sha256: str
    size: int
    type: str  # sniff.PDF, sniff.XLSX, ...
    error: str = ""  # why it is unreadable, in Spanish; "" when it was read
    pdf: PdfFacts | None = None
    form: FormData | None = None
    image_size: tuple[int, int] | None = None
    # An image's ink (image_quality.py, parts per million): whether it can
    # be an identity document at all. None: not an image, or not measured.
    image_ink_ppm: int | None = None
    members: tuple["FileFacts", ...] = field(default_factory=tuple)  # a zip's files
    # A scan (an image, or a PDF's image pages) as OCR read it; None: not a
    # scan, or OCR off ([documents] ocr = false).
    reading: ScanReading | None = None
    # A signed PDF's signature as validated; None: no signature value.
    digital_signature: DigitalSignature | None = None

    @property
    def readable(self) -> bool:
        return not self.error


def cell_text(value: object) -> str:
    """A cell value as the entity meant it: 890905211.0 -> '890905211'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Sí" if value else "No"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    # Control and format characters (an ESC sequence typed into a cell)
    # never reach a screen or an email: they count as spaces.
    text = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in str(value))
    return " ".join(text.split())
