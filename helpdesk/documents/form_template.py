"""``helpdesk form-template PATH``: the blank request form entities fill in.

The canonical layout of CONTRACT §7, with the labels taken from
rules/form.toml (the first label of each field), drop-down lists where a
value comes from a short list, and the instructions on a sheet of their
own so that the form sheet stays easy to read back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import openpyxl
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.worksheet.datavalidation import DataValidation

from ..rules import FormRules, Procedure, load_trust

ENTITY_FIELDS = ("entity_name", "entity_nit", "entity_dv", "department", "municipality")
LEGAL_REP_FIELDS = (
    "legal_rep_name", "legal_rep_doc_type", "legal_rep_doc_number",
    "legal_rep_position", "legal_rep_email", "legal_rep_phone",
)
CANONICAL = {
    "entity_name": "Nombre de la entidad", "entity_nit": "NIT", "entity_dv": "DV",
    "department": "Departamento", "municipality": "Municipio",
    "legal_rep_name": "Nombres y apellidos", "legal_rep_doc_type": "Tipo de documento",
    "legal_rep_doc_number": "Número de documento", "legal_rep_position": "Cargo",
    "legal_rep_email": "Correo electrónico", "legal_rep_phone": "Teléfono",
}
DOC_TYPES = ("Cédula de ciudadanía", "Cédula de extranjería", "Pasaporte")
ACCOUNT_TYPES = ("Correo electrónico", "Usuario de página web")
ACCOUNT_ROWS = 15

INSTRUCTIONS = [
    "Formato de solicitud de reinicio de claves de cuentas de correo electrónico y usuarios de páginas web",
    "",
    "1. Diligencie la hoja «Solicitud»: datos de la entidad (1.1), del representante legal (1.2) y las cuentas (2).",
    "2. Escriba el NIT con su dígito de verificación (por ejemplo 899999053-1) o el dígito en la casilla DV.",
    "3. El correo del representante legal (1.2) es el que recibirá las nuevas claves: verifíquelo.",
    "4. En la tabla de cuentas escriba una cuenta por fila, sin dejar filas vacías entre ellas.",
    "5. Imprima la hoja, hágala firmar por el representante legal y escanéela en PDF.",
    "6. Envíe al correo de soporte tres adjuntos: el formato firmado y escaneado (PDF),",
    "   este archivo Excel diligenciado (.xlsx) y la copia del acta de posesión del representante legal.",
    "",
    "Nunca le pediremos su contraseña por correo electrónico.",
]


THIN = Side(style="thin", color="999999")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)


def _form_sheet(title: str, widths: tuple[int, int], size: int):
    """A workbook whose first sheet, «Solicitud», has the form's title on top."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Solicitud"
    ws.column_dimensions["A"].width, ws.column_dimensions["B"].width = widths
    ws["A1"] = title
    ws["A1"].font = Font(bold=True, size=size)
    ws.merge_cells("A1:B1")
    return wb, ws


def _section_title(ws, row: int, title: str) -> None:
    ws.cell(row, 1, title).font = Font(bold=True, size=12, color="FFFFFF")
    ws.cell(row, 1).fill = PatternFill("solid", fgColor="1F4E78")
    ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=2)


def _labelled_cell(ws, row: int, label: str):
    """The label in bold and its empty, boxed value cell, kept as text (a
    NIT or phone keeps its digits); returns the value cell."""
    ws.cell(row, 1, label).font = Font(bold=True)
    value = ws.cell(row, 2)
    value.border = BOX
    value.number_format = "@"
    return value


def write_template(path: Path) -> None:
    wb, ws = _form_sheet("Formato de solicitud de reinicio de claves", (34, 48), 14)
    row = 3
    for title, keys in (("1.1 Datos de la entidad", ENTITY_FIELDS), ("1.2 Datos del representante legal", LEGAL_REP_FIELDS)):
        _section_title(ws, row, title)
        row += 1
        for key in keys:
            _labelled_cell(ws, row, CANONICAL[key])
            if key == "legal_rep_doc_type":
                _list_validation(ws, f"B{row}", DOC_TYPES)
            elif key == "legal_rep_position":
                # The legal representatives of seed 000 (rules/trust.toml); a
                # warning, not a refusal: "Alcaldesa" or "Alcalde (e)" stays.
                _list_validation(ws, f"B{row}", tuple(r.name for r in load_trust().roles), strict=False)
            row += 1
        row += 1

    _section_title(ws, row, "2. Cuentas a las que se solicita reinicio de clave")
    row += 1
    ws.cell(row, 1, "Tipo").font = Font(bold=True)
    ws.cell(row, 2, "Cuenta").font = Font(bold=True)
    first = row + 1
    for r in range(first, first + ACCOUNT_ROWS):
        for c in (1, 2):
            ws.cell(r, c).border = BOX
            ws.cell(r, c).number_format = "@"
    _list_validation(ws, f"A{first}:A{first + ACCOUNT_ROWS - 1}", ACCOUNT_TYPES)
    _signature_block(ws, first + ACCOUNT_ROWS + 3)

    help_ws = wb.create_sheet("Instrucciones")
    help_ws.column_dimensions["A"].width = 110
    for r, line in enumerate(INSTRUCTIONS, start=1):
        help_ws.cell(r, 1, line).alignment = Alignment(wrap_text=False)
    help_ws["A1"].font = Font(bold=True, size=12)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


# Printed under the line where the legal representative signs: the scan's
# reading finds the signature area by this label and measures the ink above
# it (documents/ocr/ink.py); without it a signed scan is left to staff.
SIGNATURE_LABEL = "Firma del representante legal"


def _signature_block(ws, row: int) -> None:
    """Room to sign, a line, and the label under it; two empty rows above
    keep it out of the accounts table (read until its first empty row)."""
    ws.row_dimensions[row].height = 48
    ws.cell(row, 1).border = Border(bottom=Side(style="thin", color="000000"))
    ws.cell(row + 1, 1, SIGNATURE_LABEL).font = Font(bold=True)


def _list_validation(ws, ref: str, values: tuple[str, ...], strict: bool = True) -> None:
    """A drop-down list; ``strict=False`` lets Excel keep another value after a warning."""
    dv = DataValidation(type="list", formula1='"' + ",".join(values) + '"', allow_blank=True,
                        showErrorMessage=True, errorTitle="Valor no válido",
                        error="Elija un valor de la lista." if strict else
                        "El cargo debería ser uno de la lista; ¿lo deja así?",
                        errorStyle="stop" if strict else "warning")
    ws.add_data_validation(dv)
    dv.add(ref)


def write_procedure_form(path: Path, form: FormRules) -> None:
    """A procedure's own form (its form.toml): the title, then each section
    with its fields in the file's order, the first label of each, a
    drop-down list for a field of type "choice" and a mark on the required
    ones. Read back by the same labels (documents/excel.py)."""
    wb, ws = _form_sheet(form.title, (44, 56), 13)
    ws["A2"] = "Los datos marcados con * son obligatorios."
    row = 4
    for key, title in form.section_titles:
        _section_title(ws, row, title)
        row += 1
        for f in (f for f in form.fields.values() if f.section == key):
            _labelled_cell(ws, row, f.label + (" *" if f.required else ""))
            if f.type == "choice":
                _list_validation(ws, f"B{row}", f.choices)
            row += 1
        row += 1
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


def blank_form_writer(procedure: Procedure, shared: FormRules) -> Callable[[Path], None] | None:
    """How to write a procedure's blank form: its own form.toml's layout
    (even where the spreadsheet is optional, as for desbloqueo), the reset
    layout for a procedure that reads the rules folder's form and asks for
    the spreadsheet, none otherwise."""
    if procedure.form is not shared:
        return lambda path: write_procedure_form(path, procedure.form)
    return write_template if "excel_form" in procedure.documents else None
