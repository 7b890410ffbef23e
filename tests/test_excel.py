"""The Excel form read by its labels, in the layouts entities send."""

import unicodedata
from pathlib import Path

import pytest

from helpdesk.documents.excel import NotAForm, read_form
from helpdesk.rules import load_form

from . import forms

RULES = load_form()
DATA = Path(__file__).resolve().parent / "data"


def expect_good(form):
    f = form.fields
    assert f["entity_name"] == "Alcaldía de Prueba"
    assert f["entity_nit"].replace(".", "") in ("890905211-1", "890905211")
    assert f["legal_rep_name"] == "María Fernanda Gómez Ruiz"
    assert f["legal_rep_email"] == "despacho@alcaldia-prueba.gov.co"
    assert f["legal_rep_phone"] == "6045551234"
    assert [(a.type, a.account) for a in form.accounts] == forms.ACCOUNTS


def test_filled_official_template_reads_back(tmp_path):
    expect_good(read_form(forms.filled_template(tmp_path), RULES))


def test_blank_template_is_a_form_with_no_values(tmp_path):
    from helpdesk.documents.form_template import write_template

    write_template(tmp_path / "blank.xlsx")
    form = read_form((tmp_path / "blank.xlsx").read_bytes(), RULES)
    assert form.fields == {} and form.accounts == [] and form.sheet == "Solicitud"


def test_inserted_rows_and_moved_columns():
    rows = [["Logo de la alcaldía"], [], ["Fecha", "2026-11-02"], []] + forms.canonical_rows()
    expect_good(read_form(forms.custom(rows, col_offset=3), RULES))


def test_form_on_a_later_sheet():
    expect_good(read_form(forms.custom(forms.canonical_rows(), extra_sheets_before=2), RULES))


def test_labels_in_capitals_with_colons_and_without_accents():
    def shout(text):
        bare = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
        return bare.upper() + (":" if not text[0].isdigit() else "")

    expect_good(read_form(forms.custom(forms.canonical_rows(label=shout)), RULES))


def test_numbers_typed_as_numbers():
    form = read_form(forms.custom(forms.canonical_rows({"NIT": 890905211, "Teléfono": 6045551234.0,
                                                        "Número de documento": 43123456.0})), RULES)
    assert form.fields["entity_nit"] == "890905211"
    assert form.fields["legal_rep_phone"] == "6045551234"
    assert form.fields["legal_rep_doc_number"] == "43123456"


def test_merged_label_cells_and_value_further_right():
    rows = forms.canonical_rows()
    wide = [[r[0], None, None, *r[1:]] if len(r) == 2 and not r[0].startswith(("Tipo", "Correo electrónico", "Usuario"))
             else r for r in rows]
    merges = [f"A{n}:C{n}" for n, r in enumerate(wide, start=1) if len(r) == 4]
    expect_good(read_form(forms.custom(wide, merges=merges), RULES))


def test_value_below_the_label():
    rows = [["1.1 Datos de la entidad"], ["Nombre de la entidad", "NIT"], ["Alcaldía de Prueba", "890905211-1"]]
    form = read_form(forms.custom(rows), RULES)
    assert form.fields["entity_name"] == "Alcaldía de Prueba"
    assert form.fields["entity_nit"] == "890905211-1"


def test_separate_dv_cell_and_empty_value_before_next_label():
    rows = [["1.1 Datos de la entidad"], ["NIT", "890905211", "DV", 1], ["Nombre de la entidad", None, "Municipio", "Medellín"]]
    form = read_form(forms.custom(rows), RULES)
    assert form.fields["entity_nit"] == "890905211" and form.fields["entity_dv"] == "1"
    assert "entity_name" not in form.fields  # empty: not "Municipio"
    assert form.fields["municipality"] == "Medellín"


@pytest.mark.parametrize("dv", [7, "7"])
def test_a_wrong_check_digit_in_its_own_dv_cell_is_an_invalid_nit(tmp_path, dv):
    """The official template has a DV row under NIT (CONTRACT 7). A NIT
    written there without its check digit, and a wrong one in the DV cell
    (typed as a number or as text), is an invalid_nit naming the right
    digit, as when both are in the NIT cell; the right one passes."""
    from helpdesk.documents.classify import classify_all
    from helpdesk.documents.examine import examine
    from helpdesk.examination.checks import Examination, run_checks
    from helpdesk.rules import load_all

    rules = load_all()

    def nit_findings(values: dict) -> list[tuple[str, str]]:
        data = forms.filled_template(tmp_path, values)
        classified, notes = classify_all([examine("Formato solicitud.xlsx", data, rules)], rules.documents)
        found = run_checks(Examination(classified, notes, "sistemas@alcaldia-prueba.gov.co", [], []), rules)
        return [(f.code, f.detail) for f in found if f.code == "invalid_nit"]

    assert nit_findings({"NIT": "890905211", "DV": dv}) == [
        ("invalid_nit", "para el NIT 890905211 el dígito de verificación es 1, no 7")]
    assert nit_findings({"NIT": "890905211", "DV": 1}) == []


def test_email_label_belongs_to_its_section():
    """'Correo electrónico' under 1.2 is the legal representative's, not an account type."""
    form = read_form(forms.custom(forms.canonical_rows(accounts=[("Correo electrónico", "a@alcaldia-prueba.gov.co")])), RULES)
    assert form.fields["legal_rep_email"] == "despacho@alcaldia-prueba.gov.co"
    assert [a.account for a in form.accounts] == ["a@alcaldia-prueba.gov.co"]


def test_accounts_table_ends_at_first_empty_row():
    rows = forms.canonical_rows() + [[], ["Correo electrónico", "despues@alcaldia-prueba.gov.co"]]
    assert len(read_form(forms.custom(rows), RULES).accounts) == 2


def test_a_workbook_without_the_form_is_not_a_form():
    with pytest.raises(NotAForm):
        read_form(forms.custom([["Inventario"], ["Silla", 3]]), RULES)


def test_form_saved_by_libreoffice():
    # Written by LibreOffice itself (tests/data/make_libreoffice.py).
    expect_good(read_form((DATA / "form_libreoffice.xlsx").read_bytes(), RULES))
