"""Identity documents read by OCR (issue 23, CONTRACT §13): a scanned
cédula is compared with the form's number and name through the real
document worker and Tesseract, not only a PDF's text layer. Precision
first: the high-risk mismatch is claimed only from a card read with
confidence."""

from __future__ import annotations

import re
import time
from dataclasses import replace

import pytest

from helpdesk.examination.identity_checks import number_in

from . import scans
from .test_handover_checks import desk, findings_of, unlock_mail

HOLDER = "Juan Pérez Gómez"
NUMBER = "18123456"


def cedula(person: str, number: str, fmt: str = "jpeg") -> tuple[str, bytes, str]:
    """A scanned cédula (tests/scans.py's card: number in dotted groups,
    surnames and names on their own lines) at 150 dpi."""
    e = replace(scans.entity(3), person=person, doc_number=number)
    card = scans.scan("identity", e, scans.Capture(dpi=150, fmt=fmt), seed=3, name="cedula")
    return card.attachment()


@pytest.fixture(scope="module")
def examined(tmp_path_factory):
    """One desk, three unlock requests from a stranger's address, each
    with a cédula: the form's holder as JPEG and as an image-only PDF,
    and another person's card. OCR runs once for the module."""
    env = desk(tmp_path_factory.mktemp("identity"))
    for card in (cedula(HOLDER, NUMBER), cedula(HOLDER, NUMBER, fmt="pdf"),
                 cedula("Carlos Andrés Restrepo Ruiz", "71234987")):
        env.deliver(unlock_mail("juanito1980@gmail.com", name=HOLDER, attachments=[card]))
    started = time.monotonic()
    outcomes = env.run_once()
    elapsed = time.monotonic() - started
    print(f"three identity scans examined in {elapsed:.1f} s")
    return [findings_of(env, o.radicado) for o in outcomes]


def test_a_scanned_cedula_holding_the_forms_name_and_number_gives_no_identity_finding(examined):
    right_jpeg, right_pdf, _other = examined
    for found in (right_jpeg, right_pdf):
        assert not {"identity_document_mismatch", "identity_document_unreadable", "scan_not_read"} & set(found), found
        assert "missing_identity_document" not in found


def test_a_scanned_cedula_of_another_person_is_an_identity_mismatch(examined):
    *_right, other = examined
    detail = other["identity_document_mismatch"]
    assert NUMBER in detail and HOLDER in detail
    assert re.search(r"71\D?234\D?987", detail)  # the number read is shown to staff
    assert "scan_not_read" not in other


def test_a_document_number_is_found_through_ocr_slips_and_not_in_another_number():
    assert number_in("CEDULA DE CIUDADANIA\nNUMERO 18.123.456", "18123456")
    assert number_in("NUMERO l8. I23 4S6", "18123456")  # l/I for 1, S for 5, groups split
    assert number_in("NUMERO 18.123.457", "18123456")  # one digit misread in eight: a slip, not another person
    assert number_in("CURP BESTT1O2O9HDFLNBO9", "BEST710209HDFLNB09")  # one slip in 18 characters, O for 0
    assert not number_in("NUMERO 71.234.987", "18123456")
    assert not number_in("NUMERO 18.123", "18123456")
