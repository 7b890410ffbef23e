"""Attachments examined, classified, checked and decided, in-process.

These call the pure functions directly (``examine``, ``classify_all``,
``run_checks``, ``decide``) on real files built by ``tests/docfiles.py``;
tests/test_hostile.py sends hostile files through the worker process.
"""

from __future__ import annotations

import dataclasses

import pytest

from helpdesk.documents import archive, sniff
from helpdesk.documents.classify import ACTA, EXCEL_FORM, SIGNED_FORM, classify_all, classify_one
from helpdesk.documents.examine import FileFacts, examine, zip_limits
from helpdesk.examination.checks import Examination, run_checks
from helpdesk.examination.decision import decide
from helpdesk.findings import PROBLEM, WARNING
from helpdesk.rules import load_all
from helpdesk.tickets import NEEDS_CORRECTION, PENDING_APPROVAL

from . import docfiles, forms, mails

RULES = load_all()

FORM_LINES = ["FORMATO DE SOLICITUD DE REINICIO DE CLAVE", "1.2 Datos del representante legal",
              "María Fernanda Gómez Ruiz"]
# Printed under the signature stroke, as the form does: the scan checks
# judge the ink above it (a signed form without it is left to staff).
SIGNATURE_LABEL = "Firma del representante legal"
# An acta as long as real ones are: the scan checks say what a document is
# not only from 25 words read with confidence.
ACTA_LINES = ["ACTA DE POSESIÓN No. 001", "En Medellín, a 2 de enero, se presentó ante el despacho",
              "MARÍA FERNANDA GÓMEZ RUIZ, quien tomó posesión del cargo de Alcaldesa.",
              "La posesionada prestó el juramento de rigor y prometió cumplir la Constitución",
              "y las leyes de la República. Para constancia se firma la presente acta."]
OTHER_ACTA_LINES = ["ACTA DE POSESIÓN No. 001", "En Medellín, a 2 de enero, se presentó ante el despacho",
                    "PEDRO ANTONIO PÉREZ CASTAÑO, quien tomó posesión del cargo de Alcalde."]


# -- helpers ------------------------------------------------------------


def facts(filename: str, data: bytes, rules=RULES) -> FileFacts:
    return examine(filename, data, rules)


def flatten(f: FileFacts) -> list[FileFacts]:
    """A zip's files stand for themselves, as the examination counts them."""
    if not f.members:
        return [f]
    return [inner for m in f.members for inner in flatten(m)]


def classified(files: list[tuple[str, bytes]]):
    return classify_all([x for name, data in files for x in flatten(facts(name, data))], RULES.documents)


def kinds_by_name(files) -> dict[str, str | None]:
    result, _notes = classified(files)
    return {c.facts.filename: c.kind for c in result}


def findings_for(files, sender: str = mails.ENTITY, other_open=(), web_user_flag: bool = False):
    """The checks' findings. The standard form has a web user (admin.web),
    which always gets the account_not_an_address warning; it is left out
    here unless asked for (test_web_user_accounts_are_flagged_for_staff)."""
    result, notes = classified(files)
    found = run_checks(Examination(result, notes, sender, [], list(other_open)), RULES)
    return found if web_user_flag else [f for f in found if f.code != "account_not_an_address"]


def problems(findings) -> list[str]:
    return [f.code for f in findings if f.severity == PROBLEM]


def warnings(findings) -> list[str]:
    return [f.code for f in findings if f.severity == WARNING]


def one(findings, code: str):
    [found] = [f for f in findings if f.code == code]
    return found


def complete_set(tmp_path, excel: bytes | None = None, acta: bytes | None = None, form: bytes | None = None):
    """The three documents as a careful entity sends them."""
    return [("formato_firmado.pdf", form if form is not None else docfiles.scan_pdf(FORM_LINES,
                                                                                       signature_label=SIGNATURE_LABEL)),
            ("Formato solicitud.xlsx", excel if excel is not None else forms.filled_template(tmp_path)),
            ("acta_posesion.pdf", acta if acta is not None else docfiles.scan_pdf(ACTA_LINES))]


# -- what a file is -----------------------------------------------------


def test_computer_made_pdf_has_a_text_layer_and_is_not_a_scan():
    f = facts("acta.pdf", docfiles.text_pdf(ACTA_LINES))
    assert f.readable and f.type == sniff.PDF
    assert f.pdf.has_text and not f.pdf.is_scan
    assert "tomó posesión del cargo" in f.pdf.text


@pytest.mark.parametrize("dpi", [100, 150, 300])
def test_scanned_pdf_is_a_scan_without_text(dpi):
    f = facts("acta.pdf", docfiles.scan_pdf(ACTA_LINES, dpi=dpi))
    assert f.readable and f.pdf.pages == 1
    assert f.pdf.is_scan and f.pdf.scanned_pages == 1
    assert not f.pdf.has_text and f.pdf.text == ""


def test_scan_with_ocr_is_a_scan_with_text():
    f = facts("scan001.pdf", docfiles.scan_with_ocr_pdf(ACTA_LINES))
    assert f.pdf.is_scan and f.pdf.has_text
    assert "ACTA DE POSESIÓN" in f.pdf.text


def test_ocr_text_classifies_an_acta_with_a_meaningless_name():
    f = facts("scan001.pdf", docfiles.scan_with_ocr_pdf(ACTA_LINES))
    assert classify_one(f, RULES.documents) == (ACTA, "texto")


def test_ocr_text_classifies_a_signed_form_with_a_meaningless_name(tmp_path):
    f = facts("IMG_2041.pdf", docfiles.scan_with_ocr_pdf(FORM_LINES))
    assert classify_one(f, RULES.documents) == (SIGNED_FORM, "texto")
    files = [("IMG_2041.pdf", docfiles.scan_with_ocr_pdf(FORM_LINES, signature_label=SIGNATURE_LABEL)),
             ("Formato solicitud.xlsx", forms.filled_template(tmp_path)),
             ("scan001.pdf", docfiles.scan_with_ocr_pdf(ACTA_LINES))]
    assert kinds_by_name(files) == {"IMG_2041.pdf": SIGNED_FORM, "Formato solicitud.xlsx": EXCEL_FORM,
                                    "scan001.pdf": ACTA}
    assert findings_for(files) == []


def test_text_layer_wins_over_a_misleading_name():
    f = facts("acta_posesion.pdf", docfiles.scan_with_ocr_pdf(FORM_LINES))
    assert classify_one(f, RULES.documents) == (SIGNED_FORM, "texto")


def test_two_meaningless_scans_fill_both_slots_with_a_warning_for_staff(tmp_path):
    # Short pages that say nothing of what they are (a blank one would be
    # read as blank: the scan checks tell the entity so).
    files = [("scan001.pdf", docfiles.scan_pdf(["Hoja 1"])), ("IMG_2041.jpg", docfiles.scan_jpeg(["Hoja 2"])),
             ("Formato solicitud.xlsx", forms.filled_template(tmp_path))]
    result, notes = classified(files)
    assert {c.facts.filename: (c.kind, c.how) for c in result if c.facts.type != sniff.XLSX} == {
        "scan001.pdf": (SIGNED_FORM, "descarte"), "IMG_2041.jpg": (ACTA, "descarte")}
    assert len(notes) == 1 and "scan001.pdf" in notes[0] and "IMG_2041.jpg" in notes[0]
    found = findings_for(files)
    assert problems(found) == []
    assert warnings(found)[0] == "ambiguous_documents"
    assert set(warnings(found)[1:]) <= {"scan_not_read"}  # too few words to judge either: staff compare them


def test_one_meaningless_scan_is_not_guessed_when_both_visual_documents_are_missing(tmp_path):
    files = [("scan001.pdf", docfiles.scan_pdf(["."])), ("Formato solicitud.xlsx", forms.filled_template(tmp_path))]
    found = findings_for(files)
    assert problems(found) == ["missing_signed_form", "missing_acta_posesion"]
    assert one(found, "unclassified_attachment").document == "scan001.pdf"


def test_computer_made_pdf_as_signed_form_is_not_scanned(tmp_path):
    files = complete_set(tmp_path, form=docfiles.text_pdf(["Alcaldía de Prueba", "Solicitud de reinicio de clave",
                                                            "Representante legal: María Fernanda Gómez Ruiz"]))
    found = findings_for(files)
    assert problems(found) == ["signed_form_not_scanned"]
    assert one(found, "signed_form_not_scanned").document == "formato_firmado.pdf"


def test_signature_field_with_a_value_that_does_not_validate_is_no_signed_form(tmp_path):
    # CONTRACT 11: a value in a signature field proves nothing until pyHanko
    # validates it (a PDF signed by a real CA: tests/test_signatures.py).
    f = facts("formato_firmado.pdf", docfiles.signed_pdf())
    assert f.pdf.signature_fields == 1 and f.pdf.signed and not f.pdf.is_scan
    assert f.digital_signature is not None and not f.digital_signature.valid
    found = findings_for(complete_set(tmp_path, form=docfiles.signed_pdf()))
    assert problems(found) == ["signed_form_not_scanned", "signature_invalid"]


def test_empty_signature_field_does_not_make_a_pdf_signed(tmp_path):
    f = facts("formato_firmado.pdf", docfiles.unsigned_sig_field_pdf())
    assert f.pdf.signature_fields == 1 and not f.pdf.signed
    found = findings_for(complete_set(tmp_path, form=docfiles.unsigned_sig_field_pdf()))
    assert problems(found) == ["signed_form_not_scanned"]


def test_owner_password_only_pdf_is_read():
    f = facts("acta_posesion.pdf", docfiles.encrypted_pdf(user_password="", owner_password="owner"))
    assert f.readable and f.pdf.owner_protected
    assert "tomó posesión" in f.pdf.text
    assert classify_one(f, RULES.documents) == (ACTA, "texto")


def test_user_password_pdf_is_unreadable_and_the_entity_is_told_why(tmp_path):
    f = facts("acta_posesion.pdf", docfiles.encrypted_pdf(user_password="1234", owner_password="owner"))
    assert not f.readable and f.pdf is None
    assert "contraseña" in f.error
    found = findings_for(complete_set(tmp_path, acta=docfiles.encrypted_pdf(user_password="1234")))
    assert problems(found) == ["unreadable_document"]  # meant as the acta: not also "missing"
    assert "contraseña" in one(found, "unreadable_document").detail


@pytest.mark.parametrize("build, kind, size", [(docfiles.scan_jpeg, sniff.JPEG, (1240, 1754)),  # A4 at 150 dpi
                                               (docfiles.scan_png, sniff.PNG, (827, 1169))])  # A4 at 100 dpi
def test_image_scans_are_read_with_their_size(build, kind, size):
    f = facts("acta_posesion.img", build(ACTA_LINES))
    assert f.readable and f.type == kind and f.pdf is None
    assert f.image_size == size
    # Read by OCR, the page says it is an acta (CONTRACT 11): its words
    # classify it before its name does.
    assert classify_one(f, RULES.documents) == (ACTA, "escaneo")


def test_zip_holding_the_three_documents_is_opened_and_its_files_classified(tmp_path):
    bundle = docfiles.zip_of(dict(complete_set(tmp_path)))
    f = facts("documentos.zip", bundle)
    assert f.readable and f.type == sniff.ZIP
    assert [m.filename for m in f.members] == ["formato_firmado.pdf", "Formato solicitud.xlsx", "acta_posesion.pdf"]
    assert all(m.readable for m in f.members)
    assert kinds_by_name([("documentos.zip", bundle)]) == {
        "formato_firmado.pdf": SIGNED_FORM, "Formato solicitud.xlsx": EXCEL_FORM, "acta_posesion.pdf": ACTA}
    assert findings_for([("documentos.zip", bundle)]) == []


def test_zip_too_deep_is_refused_at_the_limit():
    f = facts("documentos.zip", docfiles.nested_zip(RULES.documents.limits.max_zip_depth + 1))
    deepest = f
    for _ in range(RULES.documents.limits.max_zip_depth):
        assert deepest.readable
        [deepest] = deepest.members
    assert "comprimidos dentro de otros" in deepest.error


def test_file_is_typed_by_content_not_by_its_name():
    (html_name, html), (pdf_name, pdf) = docfiles.lying_extension()
    page = facts(html_name, html)
    assert page.type == sniff.OTHER and "no es un archivo .xlsx válido" in page.error
    acta = facts(pdf_name, pdf)
    assert acta.readable and acta.type == sniff.PDF and acta.image_size is None
    assert classify_one(acta, RULES.documents) == (ACTA, "texto")


def test_web_page_named_xlsx_is_reported_as_the_unreadable_excel_form(tmp_path):
    (html_name, html), _ = docfiles.lying_extension()
    files = [("formato_firmado.pdf", docfiles.scan_pdf(FORM_LINES)), (html_name, html),
             ("acta_posesion.pdf", docfiles.scan_pdf(ACTA_LINES))]
    assert kinds_by_name(files)[html_name] == EXCEL_FORM
    found = findings_for(files)
    assert problems(found) == ["unreadable_document"]
    assert one(found, "unreadable_document").document == html_name


# -- the checks ---------------------------------------------------------


def test_complete_request_has_no_finding(tmp_path):
    assert findings_for(complete_set(tmp_path)) == []


def test_web_user_accounts_are_flagged_for_staff(tmp_path):
    found = findings_for(complete_set(tmp_path), web_user_flag=True)
    [flag] = [f for f in found if f.code == "account_not_an_address"]
    assert flag.severity == WARNING and "admin.web" in flag.detail and "alcaldia-prueba.gov.co" in flag.detail
    assert problems(found) == []


@pytest.mark.parametrize("missing", ["formato_firmado.pdf", "Formato solicitud.xlsx", "acta_posesion.pdf"])
def test_each_missing_document_is_a_problem(tmp_path, missing):
    files = [f for f in complete_set(tmp_path) if f[0] != missing]
    expected = {"formato_firmado.pdf": "missing_signed_form", "Formato solicitud.xlsx": "missing_excel_form",
                "acta_posesion.pdf": "missing_acta_posesion"}[missing]
    assert problems(findings_for(files)) == [expected]


def test_missing_field_names_the_field(tmp_path):
    excel = forms.filled_template(tmp_path, {"Departamento": None, "Teléfono": None})
    found = findings_for(complete_set(tmp_path, excel=excel))
    assert problems(found) == ["missing_field", "missing_field"]
    assert sorted(f.detail for f in found) == ["Departamento (1.1)", "Teléfono del representante legal (1.2)"]
    assert {f.document for f in found} == {"Formato solicitud.xlsx"}


def test_invalid_nit_says_the_right_check_digit(tmp_path):
    found = findings_for(complete_set(tmp_path, excel=forms.filled_template(tmp_path, {"NIT": "890905211-7"})))
    assert problems(found) == ["invalid_nit"]
    assert "es 1" in one(found, "invalid_nit").detail and "no 7" in one(found, "invalid_nit").detail


def test_text_that_is_no_nit_is_an_invalid_nit(tmp_path):
    found = findings_for(complete_set(tmp_path, excel=forms.filled_template(tmp_path, {"NIT": "en trámite"})))
    assert problems(found) == ["invalid_nit"]
    assert "en trámite" in one(found, "invalid_nit").detail


def test_invalid_legal_rep_email_is_named(tmp_path):
    excel = forms.filled_template(tmp_path, {"Correo electrónico": "despacho@alcaldia-prueba"})
    found = findings_for(complete_set(tmp_path, excel=excel))
    assert problems(found) == ["invalid_email"]
    detail = one(found, "invalid_email").detail
    assert "representante legal" in detail and "despacho@alcaldia-prueba" in detail


def test_invalid_account_email_is_named(tmp_path):
    accounts = [("Correo electrónico", "contactenos@alcaldia-prueba.gov.co"), ("Correo electrónico", "tesoreria@@alcaldia")]
    found = findings_for(complete_set(tmp_path, excel=forms.filled_template(tmp_path, accounts=accounts)))
    assert problems(found) == ["invalid_email"]
    detail = one(found, "invalid_email").detail
    assert "cuenta" in detail and "tesoreria@@alcaldia" in detail


def test_web_user_account_is_not_checked_as_an_email(tmp_path):
    accounts = [("Usuario de página web", "admin.web")]
    assert findings_for(complete_set(tmp_path, excel=forms.filled_template(tmp_path, accounts=accounts))) == []


def test_form_without_accounts_is_a_problem(tmp_path):
    found = findings_for(complete_set(tmp_path, excel=forms.filled_template(tmp_path, accounts=[])))
    assert problems(found) == ["no_accounts"]


def test_sender_from_another_domain_is_only_a_warning(tmp_path):
    found = findings_for(complete_set(tmp_path), sender="secretaria.alcaldia@gmail.com")
    assert problems(found) == []
    warning = one(found, "sender_domain_mismatch")
    assert "secretaria.alcaldia@gmail.com" in warning.detail and "alcaldia-prueba.gov.co" in warning.detail
    assert decide(found, RULES.problems).email_kind == "accepted"


@pytest.mark.parametrize("make", [docfiles.text_pdf, docfiles.scan_with_ocr_pdf])
def test_acta_naming_someone_else_is_a_warning(tmp_path, make):
    found = findings_for(complete_set(tmp_path, acta=make(OTHER_ACTA_LINES)))
    assert problems(found) == []
    warning = one(found, "legal_rep_not_in_acta")
    assert warning.document == "acta_posesion.pdf" and "María Fernanda Gómez Ruiz" in warning.detail


@pytest.mark.parametrize("make", [docfiles.text_pdf, docfiles.scan_with_ocr_pdf])
def test_acta_naming_the_legal_rep_in_capitals_has_no_warning(tmp_path, make):
    assert findings_for(complete_set(tmp_path, acta=make(ACTA_LINES))) == []


def test_acta_scan_without_text_is_left_to_staff(tmp_path):
    # Only a person can read it: no "not in acta" warning from an empty text.
    assert "legal_rep_not_in_acta" not in warnings(findings_for(complete_set(tmp_path)))


def test_extra_attachment_is_an_unclassified_warning(tmp_path):
    files = complete_set(tmp_path) + [("factura_2026.pdf", docfiles.text_pdf(["Factura de venta No. 123", "Total: $ 45.000"]))]
    found = findings_for(files)
    assert problems(found) == []
    assert one(found, "unclassified_attachment").document == "factura_2026.pdf"


def test_same_nit_and_accounts_as_an_open_request_is_a_duplicate_warning(tmp_path):
    accounts = frozenset(a.lower() for _, a in forms.ACCOUNTS)
    found = findings_for(complete_set(tmp_path), other_open=[("GEL-2026-000007", "890905211", accounts)])
    assert problems(found) == []
    assert "GEL-2026-000007" in one(found, "duplicate_request").detail


def test_same_nit_for_other_accounts_is_no_duplicate(tmp_path):
    found = findings_for(complete_set(tmp_path),
                         other_open=[("GEL-2026-000007", "890905211", frozenset({"otra@alcaldia-prueba.gov.co"})),
                                     ("GEL-2026-000008", "800000000", frozenset(a.lower() for _, a in forms.ACCOUNTS))])
    assert "duplicate_request" not in warnings(found)


# -- the decision -------------------------------------------------------


def test_problems_give_a_correction_with_one_line_each_and_no_warnings(tmp_path):
    excel = forms.filled_template(tmp_path, {"Departamento": None, "Correo electrónico": "despacho@"}, accounts=[])
    files = [("formato_firmado.pdf", docfiles.text_pdf(["Solicitud"])), ("Formato solicitud.xlsx", excel)]
    found = findings_for(files, other_open=[("GEL-2026-000007", "890905211", frozenset())])
    assert problems(found) == ["missing_acta_posesion", "signed_form_not_scanned", "missing_field",
                               "invalid_email", "no_accounts"]
    assert warnings(found) == ["duplicate_request"]
    decision = decide(found, RULES.problems)
    assert (decision.state, decision.email_kind) == (NEEDS_CORRECTION, "correction")
    assert len(decision.problem_lines) == 5
    lines = decision.problem_lines
    assert "acta de posesión" in lines[0]
    assert "«formato_firmado.pdf»" in lines[1]
    assert "«Departamento (1.1)»" in lines[2] and "«Formato solicitud.xlsx»" in lines[2]
    assert "despacho@" in lines[3]
    assert "ninguna cuenta" in lines[4]
    assert not any("GEL-2026-000007" in line for line in lines)  # warnings stay with staff
    assert not any("«»" in line or "{" in line for line in lines)


def test_no_problem_gives_pending_approval_and_accepted(tmp_path):
    found = findings_for(complete_set(tmp_path) + [("logo.png", docfiles.scan_png(["."], dpi=30))])
    assert problems(found) == [] and warnings(found)  # an unclassified extra is only a warning
    assert decide(found, RULES.problems) == decide([], RULES.problems)
    decision = decide(found, RULES.problems)
    assert (decision.state, decision.email_kind, decision.problem_lines) == (PENDING_APPROVAL, "accepted", [])


# -- the hostile builders' controls: without their hostile part they read ----


def test_hand_made_workbook_of_the_spreadsheet_bombs_is_a_valid_form():
    f = facts("formato.xlsx", docfiles.small_xlsx([["NIT", "890905211-1"], ["Municipio", "Medellín"]]))
    assert f.readable and f.type == sniff.XLSX
    assert f.form.fields == {"entity_nit": "890905211-1", "municipality": "Medellín"}


def test_hand_written_pdf_of_the_pdf_bombs_is_read():
    f = facts("acta.pdf", docfiles.slow_text_pdf(operators=3))
    assert f.readable and f.pdf.pages == 1 and f.pdf.text.count("acta") == 3


def test_small_ods_of_the_ods_bomb_is_a_spreadsheet_without_the_form():
    f = facts("formato.ods", docfiles.zip_bomb_ods(uncompressed=0))
    assert f.readable and f.type == sniff.ODS and f.form is None


# -- zips, images and names --


def test_zip_made_on_a_mac_counts_only_the_real_documents(tmp_path):
    bundle = docfiles.mac_zip_of(dict(complete_set(tmp_path)))
    assert findings_for([("Documentos.zip", bundle)]) == []


def test_ods_zip_bomb_is_refused_by_its_declared_sizes():
    limits = dataclasses.replace(RULES.documents.limits, max_zip_member_bytes=1_000_000, max_zip_total_bytes=2_000_000)
    rules = dataclasses.replace(RULES, documents=dataclasses.replace(RULES.documents, limits=limits))
    bomb = docfiles.zip_bomb_ods(3 * 1024 * 1024)
    with pytest.raises(archive.UnsafeArchive) as refused:
        archive.check(bomb, zip_limits(rules))
    f = facts("formato.ods", bomb, rules)
    assert f.type == sniff.ODS and f.error == str(refused.value)


@pytest.mark.parametrize("build", [docfiles.unknown_filter_pdf, docfiles.certificate_encrypted_pdf])
def test_pdf_pypdf_cannot_decode_is_an_unreadable_document(build):
    f = facts("acta_posesion.pdf", build())
    assert f.type == sniff.PDF and f.error.startswith("el PDF ")


@pytest.mark.parametrize("build", [docfiles.corrupt_deflate_zip,
                                   docfiles.bad_offsets_zip])
def test_corrupt_zip_is_an_unreadable_document(build):
    f = facts("documentos.zip", build())
    assert f.type == sniff.ZIP and "no se puede abrir" in f.error


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_image_between_the_pixel_limit_and_twice_it_is_too_large():
    f = facts("acta.png", docfiles.huge_image_png(9000, 9000))  # 81 Mpx > 60 Mpx
    assert f.error.startswith("la imagen es demasiado grande; escanee el documento de nuevo a menor resolución")


def test_image_far_over_the_pixel_limit_is_too_large_not_damaged():
    f = facts("acta.png", docfiles.huge_image_png(30000, 30000))
    assert f.error.startswith("la imagen es demasiado grande; escanee el documento de nuevo a menor resolución")


def test_word_inside_another_word_does_not_classify(tmp_path):
    receipt = ("confirmacion_pago.pdf", docfiles.text_pdf(["Comprobante de pago PSE", "Valor: $ 45.000"]))
    assert kinds_by_name([receipt])["confirmacion_pago.pdf"] is None
    found = findings_for(complete_set(tmp_path) + [receipt])
    assert problems(found) == []


def test_computer_made_pdf_about_something_else_does_not_stand_in_for_a_missing_acta(tmp_path):
    files = complete_set(tmp_path)[:2] + [("factura_2026.pdf", docfiles.text_pdf(
        ["Factura electrónica de venta No. FE-123", "Servicio de hosting del portal web", "Total: $ 45.000"]))]
    assert kinds_by_name(files)["factura_2026.pdf"] is None
    assert problems(findings_for(files)) == ["missing_acta_posesion"]
