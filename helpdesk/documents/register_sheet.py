"""The register of corporate accounts as the spreadsheet seed 002 keeps:
"Lista de correos corporativos FT-GTI-002" (``helpdesk cuentas export``).

One row per account with its present state and dates, in the office's
local time, and a second sheet with every change (who decided, when, on
which radicado), so that the file alone answers an audit.
"""

from __future__ import annotations

from datetime import tzinfo
from pathlib import Path

import openpyxl
from openpyxl.styles import Font, PatternFill

from .. import localtime
from ..register import ACTION_LABELS, RegisteredAccount

TITLE = "Lista de correos corporativos FT-GTI-002"
COLUMNS = ("Cuenta", "Funcionario", "Documento", "Cargo", "Dependencia", "Estado", "Fecha de creación",
           "Última modificación", "Fecha de eliminación o bloqueo", "Radicado", "Decidió")
CHANGE_COLUMNS = ("Fecha", "Cuenta", "Acción", "Radicado", "Decidió", "Detalle")


def write_register(path: Path, accounts: list[RegisteredAccount], changes: list, zone: tzinfo) -> None:
    def when(value: str | None) -> str:
        return localtime.show(value, zone) if value else ""

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "FT-GTI-002"
    ws["A1"] = TITLE
    ws["A1"].font = Font(bold=True, size=13)
    _header(ws, 3, COLUMNS)
    for r, a in enumerate(accounts, start=4):
        values = (a.account, a.official_name, a.official_document, a.official_position, a.office, a.state,
                  when(a.created_at), when(a.modified_at), when(a.closed_at), a.radicado or "", a.decided_by)
        for c, value in enumerate(values, start=1):
            ws.cell(r, c, value).number_format = "@"
    history = wb.create_sheet("Cambios")
    _header(history, 1, CHANGE_COLUMNS)
    for r, change in enumerate(changes, start=2):
        values = (when(change["at"]), change["account"], ACTION_LABELS.get(change["action"], change["action"]),
                  change["radicado"] or "", change["decided_by"], change["detail"])
        for c, value in enumerate(values, start=1):
            history.cell(r, c, value).number_format = "@"
    for sheet in (ws, history):
        for column in "ABCDEFGHIJK":
            sheet.column_dimensions[column].width = 26
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


def _header(ws, row: int, names: tuple[str, ...]) -> None:
    for c, name in enumerate(names, start=1):
        cell = ws.cell(row, c, name)
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="1F4E78")
