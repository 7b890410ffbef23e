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


# NITs longer than nine digits (a cédula of ten digits is a person's NIT)
# reach the weights 43 to 71, which no published entity NIT above does.
# Check digits worked out by hand from the DIAN's statement of the
# algorithm, not with helpdesk.nit; for the first one, from the rightmost
# digit: 0*3 + 5*7 + 0*13 + 4*17 + 0*19 + 3*23 + 0*29 + 2*37 + 0*41 + 1*43
# = 289; 289 mod 11 = 3; 11 - 3 = 8. (The same arithmetic gives 582 and 1
# for 800191045, the DIAN's own worked example.)
LONG = [
    "1.020.304.050-8",
    "1098765432-9",
    "1234567890-2",
    "9001234567-0",  # remainder 0
    "98765432123-1",  # remainder 1
    "987654321234-8",
    "123456789012345-2",  # 15 digits: every weight
]


@pytest.mark.parametrize("text", LONG)
def test_nits_of_ten_to_fifteen_digits_use_every_published_weight(text):
    number, _, dv = text.replace(".", "").partition("-")
    parsed = nit.parse(text)
    assert parsed is not None and parsed.number == number
    assert parsed.expected_dv == int(dv)
    assert parsed.valid


@pytest.mark.parametrize("text", ["899.999.053-2", "8001972680", "890905211-9", "1.020.304.050-7",
                                  "123456789012345-3"])
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
