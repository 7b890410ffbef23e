"""The Excel request form filled in as an entity fills it: the official
template (``helpdesk form-template``), each value in the cell right of its
label, the accounts in the rows under the table's header."""

from __future__ import annotations

import functools
import io
import re
import tempfile
import zipfile
from pathlib import Path

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# When every generated workbook says it was written: openpyxl stamps the
# clock into docProps/core.xml and into each zip member's header, so the
# same form saved twice would differ; a sample must not.
SAVED_AT = (2026, 3, 2, 9, 30, 0)
_CORE_DATES = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def to_bytes(wb) -> bytes:
    """The workbook as a file, the same bytes for the same content."""
    saved = io.BytesIO()
    wb.save(saved)
    out = io.BytesIO()
    stamp = "%04d-%02d-%02dT%02d:%02d:%02dZ" % SAVED_AT
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            data = source.read(member)
            if member.filename == "docProps/core.xml":
                data = _CORE_DATES.sub(rb"\g<1>" + stamp.encode() + rb"\g<2>", data)
            target.writestr(zipfile.ZipInfo(member.filename, SAVED_AT), data, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def fill(ws, values: dict, accounts) -> None:
    """Write ``values`` right of their labels above the accounts table, and
    ``accounts`` (type, account) in its rows."""
    table_row = None
    for row in ws.iter_rows():
        label = row[0].value
        if label == "Tipo":
            table_row = row[0].row
        elif label in values and table_row is None:
            ws.cell(row[0].row, 2, values[label])
    for n, (kind, account) in enumerate(accounts, start=1):
        ws.cell(table_row + n, 1, kind)
        ws.cell(table_row + n, 2, account)


@functools.cache
def template() -> bytes:
    """The blank official form, written once per process."""
    from ..documents.form_template import write_template

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "template.xlsx"
        write_template(path)
        return path.read_bytes()


def filled_form(values: dict, accounts) -> bytes:
    """The official template with ``values`` (by label) and ``accounts`` filled in."""
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(template()))
    fill(wb["Solicitud"], values, accounts)
    return to_bytes(wb)
