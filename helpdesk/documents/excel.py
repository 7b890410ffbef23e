"""The Excel request form, read by its labels (CONTRACT §7).

Entities insert rows, move blocks, merge cells, type a NIT as a number and
save from Excel or LibreOffice. So nothing here knows a cell address: each
sheet is read once into a sparse grid, section titles and labels are found
by their normalised text, and a label's value is the first non-empty cell
to its right on the same row, or else the cell below it.

openpyxl is used in read-only mode with ONE bounded ``iter_rows`` pass
(random access in read-only mode re-parses the sheet each time, and the
declared dimension cannot be trusted). In that mode merged cells are not
reported; their value sits in the top-left cell, which is where a label's
reading starts anyway.
"""

from __future__ import annotations

import io

import openpyxl

from ..rules import FormRules, normalise
from .facts import Account, FormData, cell_text  # noqa: F401  (the reader's results)

Cell = tuple[int, int]  # (row, column), 1-based


class NotAForm(Exception):
    """The workbook opens but none of its sheets looks like the request form."""





def read_grid(data: bytes, rules: FormRules) -> list[tuple[str, dict[Cell, str]]]:
    """Every sheet as {(row, col): text}, empty cells left out."""
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheets = []
        for ws in workbook.worksheets[: rules.max_sheets]:
            if not hasattr(ws, "iter_rows"):  # chart sheets
                continue
            grid: dict[Cell, str] = {}
            rows = ws.iter_rows(min_row=1, max_row=rules.max_rows, max_col=rules.max_columns, values_only=True)
            for r, row in enumerate(rows, start=1):
                for c, value in enumerate(row, start=1):
                    text = cell_text(value)
                    if text:
                        grid[(r, c)] = text
            sheets.append((ws.title, grid))
        return sheets
    finally:
        workbook.close()


def read_form(data: bytes, rules: FormRules) -> FormData:
    """The best-matching sheet's fields and accounts; NotAForm if none match."""
    return read_form_grid(read_grid(data, rules), rules)


def read_form_grid(sheets: list[tuple[str, dict[Cell, str]]], rules: FormRules) -> FormData:
    """Same, from sheets already read as grids (openpyxl or calamine)."""
    best: FormData | None = None
    best_score = 0
    for title, grid in sheets:
        form, labels_found = _read_sheet(title, grid, rules)
        score = labels_found + len(form.accounts)
        if score > best_score:
            best, best_score = form, score
    if best is None:
        raise NotAForm("ninguna hoja tiene las etiquetas del formato de solicitud")
    return best


def _read_sheet(title: str, grid: dict[Cell, str], rules: FormRules) -> tuple[FormData, int]:
    """The sheet's form data and how many of the form's labels it has."""
    norm = {cell: normalise(text) for cell, text in grid.items()}
    titles = {cell: key for cell, text in norm.items() if (key := rules.section_of_title(text))}
    label_index: dict[str, list[str]] = {}
    for f in rules.fields.values():
        for label in f.labels:
            label_index.setdefault(label, []).append(f.key)
    all_labels = set(label_index)
    if rules.accounts is not None:
        all_labels |= set(rules.accounts.type_labels) | set(rules.accounts.account_labels)

    fields: dict[str, str] = {}
    labelled: set[str] = set()
    notes: list[str] = []
    table_header = _accounts_header(norm, titles, rules)
    for cell in sorted(norm):
        candidates = label_index.get(norm[cell])
        if not candidates or (table_header and cell[0] > table_header[0][0] and _in_table(cell, table_header)):
            continue
        section = _section_at(cell, titles)
        key = _pick_field(candidates, section, rules)
        if key is None or key in labelled:
            continue
        labelled.add(key)
        value = _value_of(cell, grid, norm, all_labels, titles)
        if value:
            fields[key] = value
    accounts = _read_accounts(grid, norm, table_header, rules) if table_header else []
    if not titles:
        notes.append("la hoja no tiene los títulos de sección del formato")
    return FormData(fields=fields, accounts=accounts, sheet=title, notes=notes), len(labelled)


def _section_at(cell: Cell, titles: dict[Cell, str]) -> str | None:
    """The section whose title is nearest above (same row counts) and not to the right."""
    above = [(t, key) for t, key in titles.items() if t[0] <= cell[0] and t[1] <= cell[1] + 1]
    if not above:
        return None
    return max(above, key=lambda item: (item[0][0], item[0][1]))[1]


def _pick_field(candidates: list[str], section: str | None, rules: FormRules) -> str | None:
    if section is not None:
        in_section = [k for k in candidates if rules.fields[k].section == section]
        return in_section[0] if in_section else None
    # No section titles at all: a label used by one field only is still clear.
    return candidates[0] if len(candidates) == 1 else None


def _value_of(cell: Cell, grid, norm, all_labels: set[str], titles) -> str:
    row, col = cell
    right = sorted(c for c in grid if c[0] == row and c[1] > col)
    for other in right:
        if norm[other] in all_labels or other in titles:
            break  # the next label on the row: this one's value is empty
        return grid[other]
    below = (row + 1, col)
    if below in grid and norm[below] not in all_labels and below not in titles:
        return grid[below]
    return ""


def _accounts_header(norm, titles, rules: FormRules) -> tuple[Cell, Cell] | None:
    """(type header cell, account header cell) of the accounts table."""
    acc = rules.accounts
    if acc is None:
        return None  # a form without an accounts table (a procedure's own form)
    accounts_title_rows = [cell[0] for cell, key in titles.items() if key == "accounts"]
    start = min(accounts_title_rows) if accounts_title_rows else 0
    for cell in sorted(norm):
        if cell[0] < start or norm[cell] not in acc.type_labels:
            continue
        for other in sorted(c for c in norm if c[0] == cell[0] and c != cell):
            if norm[other] in acc.account_labels:
                return cell, other
    return None


def _in_table(cell: Cell, header: tuple[Cell, Cell]) -> bool:
    return cell[1] in (header[0][1], header[1][1])


def _read_accounts(grid, norm, header: tuple[Cell, Cell], rules: FormRules) -> list[Account]:
    (row, type_col), (_r, account_col) = header
    accounts = []
    for r in range(row + 1, row + 1 + rules.accounts.max_rows):
        kind = grid.get((r, type_col), "")
        account = grid.get((r, account_col), "")
        if not kind and not account:
            break  # the table ends at the first empty row
        accounts.append(Account(type=_account_type(kind, rules), account=account))
    return accounts


def _account_type(written: str, rules: FormRules) -> str:
    n = normalise(written)
    if n in rules.accounts.email_types:
        return "Correo electrónico"
    if n in rules.accounts.web_user_types:
        return "Usuario de página web"
    return written
