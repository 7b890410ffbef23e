"""The identifier validators (issue 14): the published examples of each
algorithm, and a property test that changing any one character of a valid
identifier is caught."""

from __future__ import annotations

import random

import pytest

from helpdesk.identifiers import cedula, curp, rfc

# RENAPO's example in seed 004 (León, "RECUPERAR TU INICIO DE SESIÓN").
VALID_CURPS = ["BEST710209HDFLNB09"]
# Companies' RFCs with valid check digits, as published in python-stdnum's
# tests (found online, each checked against SAT's ConsultaRFC service).
VALID_RFCS = ["&&&030828PX7", "AAM090224BC2", "ABA130601BD3", "CFE010608HC8", "MUÑ110218LJ6", "ZZE040708QJ9",
              "YAT000229588", "EDI000229CA3", "AAA390128530", "CIT900525168", "MAB9307148T4"]


@pytest.mark.parametrize("value", VALID_CURPS)
def test_published_curps_are_valid(value):
    assert curp.check(value.lower()).value == value


@pytest.mark.parametrize("value", VALID_RFCS)
def test_published_company_rfcs_are_valid(value):
    checked = rfc.check(value[:3] + "-" + value[3:9] + "-" + value[9:])
    assert checked.valid and checked.value == value


@pytest.mark.parametrize("value, reason", [
    ("BEST710209HDFLNB08", "el dígito verificador debe ser 9, no 8"),
    ("BEST711309HDFLNB09", "no es una fecha de nacimiento válida"),
    ("BEST710209HZZLNB09", "ZZ no es una entidad federativa"),
    ("BEST710209HDFLNB0", "tiene 17"),
    ("B3ST710209HDFLNB09", "no tiene la forma de una CURP"),
])
def test_invalid_curps_say_why(value, reason):
    assert reason in curp.check(value).error


@pytest.mark.parametrize("value, reason", [
    ("SIN9311169P8", "el dígito verificador debe ser 2, no 8"),  # published: in use, but its digit is wrong
    ("MAB9313148T4", "no es una fecha de constitución válida"),
    ("GODE561231GR8", "tiene 13"),  # a persona física's: not a company's
    ("AABN8211038Ñ2"[1:], "no tiene la forma"),
])
def test_invalid_rfcs_say_why(value, reason):
    assert reason in rfc.check(value).error


@pytest.mark.parametrize("module, valid, alphabet, modulus, weight", [
    (curp, VALID_CURPS, curp.ALPHABET, 10, lambda i: 18 - i),
    (rfc, VALID_RFCS, rfc.ALPHABET, 11, lambda i: 12 - i),  # 11 characters padded with one in front: 13 - (i + 1)
])
def test_every_changed_character_the_check_digit_can_see_is_caught(module, valid, alphabet, modulus, weight):
    """A weighted check digit sees a change of value d at weight w unless
    w * d is a multiple of the modulus (B -> L in a CURP: 11 -> 21, at a
    weight of 18: a change of 180). Every other single change is caught,
    whatever the character; so is any change of the check digit itself."""
    rng = random.Random(2026)
    seen = 0
    for value in valid:
        last = len(value) - 1
        for position in range(len(value)):
            for other in rng.sample([c for c in alphabet if c not in (value[position], " ")], 12):
                changed = value[:position] + other + value[position + 1:]
                if position == last:
                    visible = True
                else:
                    delta = alphabet.index(other) - alphabet.index(value[position])
                    visible = (weight(position) * delta) % modulus != 0
                if visible:
                    seen += 1
                    assert not module.check(changed).valid, (value, changed)
    assert seen > 100


def test_cedulas():
    assert cedula.check("1.020.304.050").value == "1020304050"
    assert cedula.check("79 123 456").value == "79123456"
    for bad in ("0123456", "12", "12345678901", "1020-30A", "١٢٣٤٥٦٧"):
        assert not cedula.check(bad).valid, bad
