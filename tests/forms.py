"""Filled request forms in the layouts entities really send, built with openpyxl."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl

from helpdesk.documents.form_template import write_template

GOOD = {
    "Nombre de la entidad": "Alcaldía de Prueba",
    "NIT": "890905211-1",
    "Departamento": "Antioquia",
    "Municipio": "Medellín",
    "Nombres y apellidos": "María Fernanda Gómez Ruiz",
    "Tipo de documento": "Cédula de ciudadanía",
    "Número de documento": "43123456",
    "Cargo": "Alcaldesa",
    "Correo electrónico": "despacho@alcaldia-prueba.gov.co",
    "Teléfono": "6045551234",
}
ACCOUNTS = [("Correo electrónico", "contactenos@alcaldia-prueba.gov.co"), ("Usuario de página web", "admin.web")]


def to_bytes(wb) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def filled_template(tmp_path: Path, values: dict | None = None, accounts=ACCOUNTS) -> bytes:
    """The official blank form, filled in the cells right of its labels."""
    values = {**GOOD, **(values or {})}
    path = tmp_path / "template.xlsx"
    write_template(path)
    wb = openpyxl.load_workbook(path)
    ws = wb["Solicitud"]
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
    return to_bytes(wb)


def custom(rows: list[list], *, sheet_title="Formato", extra_sheets_before=0, merges=(), col_offset=0) -> bytes:
    """A sheet written row by row, optionally shifted right, after other sheets."""
    wb = openpyxl.Workbook()
    first = wb.active
    if extra_sheets_before:
        first.title = "Portada"
        first["A1"] = "Ministerio — hoja de portada"
        for n in range(1, extra_sheets_before):
            wb.create_sheet(f"Otra{n}")["B2"] = "nada que ver"
        ws = wb.create_sheet(sheet_title)
    else:
        ws = first
        ws.title = sheet_title
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1 + col_offset):
            if value is not None:
                ws.cell(r, c, value)
    for ref in merges:
        ws.merge_cells(ref)
    return to_bytes(wb)


def canonical_rows(values: dict | None = None, accounts=ACCOUNTS, label=lambda s: s) -> list[list]:
    v = {**GOOD, **(values or {})}
    rows = [[label("1.1 Datos de la entidad")]]
    rows += [[label(k), v[k]] for k in ("Nombre de la entidad", "NIT", "Departamento", "Municipio")]
    rows += [[], [label("1.2 Datos del representante legal")]]
    rows += [[label(k), v[k]] for k in ("Nombres y apellidos", "Tipo de documento", "Número de documento",
                                        "Cargo", "Correo electrónico", "Teléfono")]
    rows += [[], [label("2. Cuentas a las que se solicita reinicio de clave")], [label("Tipo"), label("Cuenta")]]
    rows += [[k, a] for k, a in accounts]
    return rows
