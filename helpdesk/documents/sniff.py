"""What a file really is, from its first bytes, never from its name.

An attachment called ``formato.xlsx`` may be a PDF, an HTML page saved
with the wrong extension or an old ``.xls``: the type decides which parser
sees it, so it comes from the content (magic numbers, and for zip files
the names of their members).
"""

from __future__ import annotations

import io
import zipfile

PDF = "pdf"
XLSX = "xlsx"
XLS = "xls"
ODS = "ods"
ZIP = "zip"
JPEG = "jpeg"
PNG = "png"
OTHER = "other"

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def sniff(data: bytes) -> str:
    head = data[:1024]
    if b"%PDF-" in head:
        return PDF
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(OLE2):
        return XLS  # also old .doc; the spreadsheet reader tells them apart
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return _zip_kind(data)
    return OTHER


def _zip_kind(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist()[:5000])
            if "xl/workbook.xml" in names or "xl/workbook.bin" in names:
                return XLSX
            if "mimetype" in names and "content.xml" in names:
                mimetype = zf.read("mimetype")[:100] if zf.getinfo("mimetype").file_size < 200 else b""
                if b"spreadsheet" in mimetype:
                    return ODS
            return ZIP
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, EOFError, NotImplementedError):
        return OTHER
