"""DIAN modulus-11 check digit, with NITs published by public entities."""

import pytest

from helpdesk import nit

# NITs as the entities publish them on their own sites and invoices.
PUBLISHED = [
    ("899.999.053-1", "Ministerio de Tecnologías de la Información y las Comunicaciones"),
    ("800.197.268-4", "Dirección de Impuestos y Aduanas Nacionales (DIAN)"),
    ("890.905.211-1", "Municipio de Medellín"),
    ("899.999.061-9", "Bogotá D.C."),
    ("890.900.286-0", "Departamento de Antioquia"),
    ("890.399.011-3", "Municipio de Santiago de Cali"),
]


@pytest.mark.parametrize("text, entity", PUBLISHED)
def test_published_nits_are_valid(text, entity):
    parsed = nit.parse(text)
    assert parsed is not None and parsed.valid, entity
    assert str(parsed) == text.replace(".", "")


@pytest.mark.parametrize("text", ["899.999.053-2", "8001972680", "890905211-9"])
def test_wrong_check_digit_is_invalid(text):
    parsed = nit.parse(text) if "-" in text else nit.parse(text[:-1], text[-1])
    assert parsed is not None and not parsed.valid


def test_forms_of_writing_a_nit():
    assert nit.parse(899999053.0).number == "899999053"  # Excel number cell
    assert nit.parse(899999053, 1.0).valid  # separate DV cell, as a float
    assert nit.parse("NIT: 899 999 053 - 1").valid
    assert nit.parse("899999053").dv is None  # no DV written: cannot be wrong
    assert nit.parse("no sé") is None
    assert nit.parse("12") is None
    assert nit.parse("899999053", "x") is None
