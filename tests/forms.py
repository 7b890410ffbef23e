"""Filled request forms in the layouts entities really send, built with openpyxl."""

from __future__ import annotations

from pathlib import Path

import openpyxl

from helpdesk.documents.form_template import write_template
from helpdesk.samples.excel import fill, to_bytes

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


def filled_template(tmp_path: Path, values: dict | None = None, accounts=ACCOUNTS) -> bytes:
    """The official blank form, filled in the cells right of its labels."""
    values = {**GOOD, **(values or {})}
    path = tmp_path / "template.xlsx"
    write_template(path)
    wb = openpyxl.load_workbook(path)
    fill(wb["Solicitud"], values, accounts)
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


# FT-GTI-006 (rules/procedures/cuentas-correo/form.toml), as an office fills it.
ACCOUNT_REQUEST = {
    "office": {"Dependencia": "Secretaría de Hacienda", "Correo electrónico de la dependencia":
               "hacienda@putumayo.gov.co", "Teléfono o extensión": "4201515 ext. 120"},
    "official": {"Nombres y apellidos": "Juan Carlos Pérez Rosero", "Tipo de documento": "Cédula de ciudadanía",
                 "Número de documento": "18123456", "Cargo": "Profesional universitario",
                 "Correo electrónico personal de contacto": "juanperez.rosero@gmail.com"},
    "request": {"Tipo de solicitud": "Creación", "Cuenta de correo": "jperez@putumayo.gov.co",
                "Cambios solicitados": "", "Justificación": "Ingreso del funcionario a la planta"},
    "authorisation": {"Nombres y apellidos": "Luz Marina Benavides", "Cargo": "Secretaria de Hacienda"},
}


def account_request(tmp_path: Path, **changes: dict) -> bytes:
    """The blank FT-GTI-006 that helpdesk writes, filled in section by
    section (``request={"Tipo de solicitud": "Eliminación"}`` changes one)."""
    from helpdesk.documents.form_template import write_procedure_form
    from helpdesk.rules import load_all

    form = load_all().procedures["cuentas-correo"].form
    path = tmp_path / "ft-gti-006.xlsx"
    write_procedure_form(path, form)
    values = {section: {**fields, **changes.get(section, {})} for section, fields in ACCOUNT_REQUEST.items()}
    titles = {title: key for key, title in form.section_titles}
    wb = openpyxl.load_workbook(path)
    ws = wb["Solicitud"]
    section = None
    for row in ws.iter_rows():
        label = (row[0].value or "").removesuffix(" *")
        if label in titles:
            section = titles[label]
        elif section and label in values[section]:
            ws.cell(row[0].row, 2, values[section][label])
    return to_bytes(wb)
