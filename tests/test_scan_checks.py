"""The scan checks on readings built by hand (CONTRACT §11).

Each reading here is what the OCR engine (documents/ocr/) hands the
checks: words with boxes and confidences, pages read or not, the ink under
the signature label. Built by hand, they pin what the checks decide from
what was read, and that nothing is decided from what was read doubtfully;
tests/test_scan_precision.py runs the same checks on generated scans
through the real worker and OCR.
"""

from __future__ import annotations

import dataclasses

from helpdesk.documents import sniff
from helpdesk.documents.classify import ACTA, SIGNED_FORM, classify_all, classify_one
from helpdesk.documents.facts import Account, FileFacts, FormData, PdfFacts
from helpdesk.documents.reading import PageReading, ScanReading, SignatureInk, Word
from helpdesk.examination import scan_checks
from helpdesk.examination.checks import Examination, run_checks
from helpdesk.findings import PROBLEM, WARNING
from helpdesk.rules import load_all

RULES = load_all()
CHECKS = RULES.procedures["reinicio-claves"].checks

EXCEL = {
    "entity_name": "Alcaldía de Prueba", "entity_nit": "890905211-1", "department": "Antioquia",
    "municipality": "Medellín", "legal_rep_name": "María Fernanda Gómez Ruiz",
    "legal_rep_doc_type": "Cédula de ciudadanía", "legal_rep_doc_number": "43123456",
    "legal_rep_position": "Alcaldesa", "legal_rep_email": "despacho@alcaldia-prueba.gov.co",
    "legal_rep_phone": "6045551234",
}
ACCOUNTS = [Account("Correo electrónico", "contactenos@alcaldia-prueba.gov.co"),
            Account("Usuario de página web", "admin.web")]

# The form as OCR reads it off the printed sheet: the label column and the
# value column on the same lines (the section bands, white on blue, are
# often not read at all; the title sometimes is).
FORM_LINES = [
    "Formato de solicitud de reinicio de claves",
    "1.1 Datos de la entidad",
    "Nombre de la entidad Alcaldía de Prueba",
    "NIT 890905211-1",
    "Departamento Antioquia",
    "Municipio Medellín",
    "1.2 Datos del representante legal",
    "Nombres y apellidos María Fernanda Gómez Ruiz",
    "Tipo de documento Cédula de ciudadanía",
    "Número de documento 43123456",
    "Cargo Alcaldesa",
    "Correo electrónico despacho@alcaldia-prueba.gov.co",
    "Teléfono 6045551234",
    "2. Cuentas a las que se solicita reinicio de clave",
    "Tipo Cuenta",
    "Correo electrónico contactenos@alcaldia-prueba.gov.co",
    "Usuario de página web admin.web",
    "Firma del representante legal",
    "María Fernanda Gómez Ruiz",
]
ACTA_LINES = [
    "REPÚBLICA DE COLOMBIA",
    "ACTA DE POSESIÓN No. 007",
    "En el municipio de Medellín, departamento de Antioquia, a los 2 días del mes de enero",
    "de 2024, se presentó ante el despacho del Notario Único la señora MARÍA FERNANDA",
    "GÓMEZ RUIZ, identificada con la cédula de ciudadanía número 43123456, con el fin",
    "de tomar posesión del cargo de Alcaldesa municipal para el período 2024-2027.",
    "Acto seguido prestó el juramento de rigor y prometió cumplir la Constitución.",
    "El posesionado Quien da posesión",
]
INVOICE_LINES = [
    "PAPELERÍA Y SUMINISTROS EL CÓNDOR S.A.S.",
    "Calle 10 # 12-34, Local 5. Tel. 601 555 0101",
    "FACTURA ELECTRÓNICA DE VENTA No. FE-4411",
    "Cliente: Alcaldía de Prueba. Fecha de expedición: 15 de febrero de 2024.",
    "Forma de pago: crédito a treinta días. Vendedor: Martha Cecilia Rincón.",
    "Resma papel carta 75 g 20 $ 18.500",
    "Tóner impresora láser 2 $ 245.000",
    "Carpeta legajadora 50 $ 1.200",
    "Esta factura se asimila en todos sus efectos a una letra de cambio.",
]


def reading(lines: list[str], confidence: int = 92, signature: SignatureInk | None = None,
            low: dict[str, int] | None = None, page_read: bool = True, reason: str = "") -> ScanReading:
    """A one-page reading of ``lines``, each word at ``confidence`` (or
    ``low[word]``), laid out on lines 40 px apart, words left to right."""
    low = low or {}
    words = []
    for n, line in enumerate(lines):
        x = 100
        for text in line.split():
            width = 14 * len(text)
            words.append(Word(text, low.get(text, confidence), 0, (x, 100 + 40 * n, x + width, 128 + 40 * n)))
            x += width + 12
    if not page_read:
        words = []
    page = PageReading(0, 1240, 1754, 0, confidence if page_read else 40, page_read, reason)
    text = "\n".join(lines) if page_read else ""
    return ScanReading("tesseract 5.5.4 (spa)", int(page_read), confidence if page_read else 0, text,
                       tuple(words), (page,), signature)


def signed(ink_ppm: int = 25_000) -> SignatureInk:
    return SignatureInk(True, ink_ppm, "Firma del representante legal", 0)


def scan(filename: str, r: ScanReading | None, ink_ppm: int | None = 60_000) -> FileFacts:
    """A JPEG scan; ``ink_ppm``: its ink as the worker measured it
    (image_quality.py): a printed page 20,000-80,000, a blank one 0-40."""
    return FileFacts(filename=filename, sha256="0" * 64, size=200_000, type=sniff.JPEG, image_size=(1240, 1754),
                     image_ink_ppm=ink_ppm, reading=r)


def excel(fields: dict | None = None, accounts=ACCOUNTS) -> FileFacts:
    return FileFacts(filename="Formato solicitud.xlsx", sha256="1" * 64, size=9_000, type=sniff.XLSX,
                     form=FormData({**EXCEL, **(fields or {})}, list(accounts), "Solicitud"))


def findings(form: FileFacts | None, acta: FileFacts | None, fields: dict | None = None, accounts=ACCOUNTS):
    files = [f for f in (form, excel(fields, accounts), acta) if f is not None]
    classified, notes = classify_all(files, RULES.documents)
    exam = Examination(classified, notes, "sistemas@alcaldia-prueba.gov.co", [], [])
    return [f for f in run_checks(exam, RULES, CHECKS)
            if f.code not in ("account_not_an_address", "sender_domain_mismatch")]


def codes(found, severity=None) -> list[str]:
    return sorted(f.code for f in found if severity is None or f.severity == severity)


GOOD_FORM = scan("formato_firmado.jpg", reading(FORM_LINES, signature=signed()))
GOOD_ACTA = scan("acta_posesion.jpg", reading(ACTA_LINES))


def test_a_correct_scanned_request_read_with_confidence_has_no_finding():
    assert findings(GOOD_FORM, GOOD_ACTA) == []


# -- signed_form_not_the_form ---------------------------------------------------


def test_a_blank_page_sent_as_the_signed_form_is_not_the_form():
    blank = scan("formato_firmado.jpg", reading([]), ink_ppm=20)
    found = findings(blank, GOOD_ACTA)
    assert codes(found) == ["signed_form_not_the_form"]
    assert found[0].severity == PROBLEM and "en blanco" in found[0].detail
    assert found[0].document == "formato_firmado.jpg"


def test_another_document_under_the_forms_name_fills_its_slot_and_is_not_the_form():
    invoice = scan("Formato solicitud firmado.jpg", reading(INVOICE_LINES))
    [c] = [c for c in classify_all([invoice], RULES.documents)[0]]
    assert c.kind == SIGNED_FORM and c.how == "nombre"  # the text is silent: the name decides
    assert codes(findings(invoice, GOOD_ACTA)) == ["signed_form_not_the_form"]


def test_the_form_is_known_by_its_labels_when_title_and_sections_were_not_read():
    labels_only = [line for line in FORM_LINES if not line[0].isdigit() and not line.startswith("Formato")]
    form = scan("formato.jpg", reading(labels_only, signature=signed()))
    assert findings(form, GOOD_ACTA) == []


def test_a_page_read_doubtfully_gives_only_scan_not_read_naming_file_and_page():
    doubtful = scan("formato_firmado.jpg", reading(INVOICE_LINES, page_read=False,
                                                    reason="no se leyó con la confianza necesaria (41 de 100)"))
    found = findings(doubtful, GOOD_ACTA)
    assert codes(found) == ["scan_not_read"]
    assert found[0].severity == WARNING and found[0].document == "formato_firmado.jpg"
    assert "página 1" in found[0].detail and "confianza" in found[0].detail


def test_a_page_with_few_confident_words_decides_nothing():
    # Read (mean 92) but with too few words read surely to say what it is not.
    few = scan("formato_firmado.jpg", reading(INVOICE_LINES[:2]))
    found = findings(few, GOOD_ACTA)
    assert codes(found, PROBLEM) == [] and codes(found) == ["scan_not_read"]


def test_a_scan_that_was_never_read_is_said_to_staff():
    found = findings(scan("formato_firmado.jpg", None), GOOD_ACTA)
    assert codes(found) == ["scan_not_read"] and "OCR" in found[0].detail


def test_no_engine_is_scan_not_read_with_its_reason():
    no_engine = ScanReading("", 0, 0, "", pages=(PageReading(0, 0, 0, 0, 0, False,
                                                             "no se leyó: no hay motor de OCR"),))
    found = findings(scan("formato_firmado.jpg", no_engine), GOOD_ACTA)
    assert codes(found) == ["scan_not_read"] and "motor de OCR" in found[0].detail


# -- signed_form_unsigned ----------------------------------------------------------


def with_line(lines: list[str], old: str, new: str) -> list[str]:
    return [new if line == old else line for line in lines]


def test_an_empty_signature_line_is_unsigned():
    form = scan("formato_firmado.jpg", reading(FORM_LINES, signature=signed(ink_ppm=150)))
    found = findings(form, GOOD_ACTA)
    assert codes(found) == ["signed_form_unsigned"]
    assert "Firma del representante legal" in found[0].detail


def test_ink_over_the_line_counts_as_signed():
    # A thin scribble or a stamp measures well over the threshold.
    form = scan("formato_firmado.jpg", reading(FORM_LINES, signature=signed(ink_ppm=scan_checks.SIGNATURE_INK_PPM)))
    assert findings(form, GOOD_ACTA) == []


def test_no_signature_label_found_is_no_problem_but_said_to_staff():
    form = scan("formato_firmado.jpg", reading(FORM_LINES, signature=SignatureInk(False, 0)))
    found = findings(form, GOOD_ACTA)
    assert codes(found, PROBLEM) == [] and codes(found) == ["scan_not_read"]
    assert "firma" in found[0].detail


def test_a_bare_firma_label_decides_nothing():
    # People sign above, below or beside a bare "Firma": its ink proves nothing.
    bare = with_line(FORM_LINES, "Firma del representante legal", "Firma")
    form = scan("formato_firmado.jpg", reading(bare, signature=SignatureInk(True, 0, "Firma", 0)))
    found = findings(form, GOOD_ACTA)
    assert codes(found) == ["scan_not_read"] and "verifíquela a mano" in found[0].detail


def test_a_form_read_in_part_decides_no_signature():
    # The demo's scan: title and "Firma del representante legal" read, the rest lost.
    part = scan("formato_firmado.jpg", reading([FORM_LINES[0], FORM_LINES[6], "Firma del representante legal"],
                                               signature=signed(ink_ppm=0)))
    assert codes(findings(part, GOOD_ACTA)) == ["scan_not_read"]


def test_a_signature_label_read_doubtfully_decides_nothing():
    form = scan("formato_firmado.jpg", reading(FORM_LINES, signature=signed(ink_ppm=0),
                                               low={"Firma": 40, "representante": 45}))
    assert codes(findings(form, GOOD_ACTA), PROBLEM) == []


# -- signed_form_mismatch -------------------------------------------------------------


def test_another_valid_nit_read_with_confidence_is_a_mismatch():
    other = with_line(FORM_LINES, "NIT 890905211-1", "NIT 899999053-1")
    found = findings(scan("formato_firmado.jpg", reading(other, signature=signed())), GOOD_ACTA)
    assert codes(found) == ["signed_form_mismatch"]
    assert "899999053-1" in found[0].detail and "890905211-1" in found[0].detail


def test_a_nit_whose_check_digit_fails_is_a_misreading_not_a_mismatch():
    misread = with_line(FORM_LINES, "NIT 890905211-1", "NIT 890905271-1")  # one digit misread: DV fails
    assert findings(scan("formato_firmado.jpg", reading(misread, signature=signed())), GOOD_ACTA) == []


def test_another_nit_read_doubtfully_is_no_problem():
    other = with_line(FORM_LINES, "NIT 890905211-1", "NIT 899999053-1")
    form = scan("formato_firmado.jpg", reading(other, signature=signed(), low={"899999053-1": 60}))
    assert codes(findings(form, GOOD_ACTA), PROBLEM) == []


def test_an_unlisted_account_read_doubtfully_is_said_to_staff_only():
    # Tesseract's Spanish model reads "@" as "(O" and the whole word at 20-60.
    extra = FORM_LINES[:-2] + ["Correo electrónico tesoreria(Oalcaldia-prueba.gov.co"] + FORM_LINES[-2:]
    form = scan("formato_firmado.jpg", reading(extra, signature=signed(), low={"tesoreria(Oalcaldia-prueba.gov.co": 35}))
    found = findings(form, GOOD_ACTA)
    assert [(f.severity, f.code) for f in found] == [(WARNING, "scan_not_read")]
    assert "tesoreria@alcaldia-prueba.gov.co" in found[0].detail and "poca confianza" in found[0].detail


def test_listed_accounts_with_a_misread_at_sign_are_the_listed_ones():
    misread = [line.replace("@", "(O") for line in FORM_LINES]
    form = scan("formato_firmado.jpg", reading(misread, signature=signed(),
                                               low={w: 30 for line in misread for w in line.split() if "(O" in w}))
    assert findings(form, GOOD_ACTA) == []


def test_an_account_the_excel_form_does_not_list_is_a_mismatch():
    extra = FORM_LINES[:-2] + ["Correo electrónico tesoreria@alcaldia-prueba.gov.co"] + FORM_LINES[-2:]
    found = findings(scan("formato_firmado.jpg", reading(extra, signature=signed())), GOOD_ACTA)
    assert codes(found) == ["signed_form_mismatch"] and "tesoreria@alcaldia-prueba.gov.co" in found[0].detail


def test_a_listed_account_with_an_ocr_slip_is_the_same_account():
    slipped = with_line(FORM_LINES, "Correo electrónico contactenos@alcaldia-prueba.gov.co",
                        "Correo electrónico contactenos@alcaldia-prueba.gov.c0")
    assert findings(scan("formato_firmado.jpg", reading(slipped, signature=signed())), GOOD_ACTA) == []


def test_another_entity_name_is_a_warning_only():
    other = with_line(FORM_LINES, "Nombre de la entidad Alcaldía de Prueba", "Nombre de la entidad Concejo de Sabaneta")
    found = findings(scan("formato_firmado.jpg", reading(other, signature=signed())), GOOD_ACTA)
    assert [(f.severity, f.code) for f in found] == [(WARNING, "signed_form_entity_differs")]


def test_the_entity_name_read_with_ocr_slips_is_the_same_entity():
    slipped = with_line(FORM_LINES, "Nombre de la entidad Alcaldía de Prueba", "Nombre de la entidad A1caldia de Prneba")
    assert findings(scan("formato_firmado.jpg", reading(slipped, signature=signed())), GOOD_ACTA) == []


# -- the acta ----------------------------------------------------------------------------


def test_an_acta_is_classified_by_what_it_says_whatever_its_name():
    kind, how = classify_one(scan("IMG_2041.jpg", reading(ACTA_LINES)), RULES.documents)
    assert (kind, how) == (ACTA, "escaneo")


def test_an_acta_read_with_ocr_slips_is_still_classified_an_acta():
    slipped = [line.replace("POSESIÓN", "P0SESlÓN") for line in ACTA_LINES]
    assert classify_one(scan("scan001.jpg", reading(slipped)), RULES.documents)[0] == ACTA


def test_an_identity_document_is_recognised_by_its_text():
    cedula = ["REPÚBLICA DE COLOMBIA", "IDENTIFICACIÓN PERSONAL", "CÉDULA DE CIUDADANÍA", "NÚMERO 43.123.456",
              "GÓMEZ RUIZ", "APELLIDOS", "MARÍA FERNANDA", "NOMBRES", "FECHA DE NACIMIENTO 12-MAR-1975"]
    kinds = ("identity_document", "declaration")
    assert classify_one(scan("IMG_0001.jpg", reading(cedula)), RULES.documents, kinds) == ("identity_document",
                                                                                           "escaneo")


def test_another_document_sent_as_the_acta_is_not_an_acta():
    found = findings(GOOD_FORM, scan("acta_posesion.jpg", reading(INVOICE_LINES)))
    assert codes(found) == ["acta_not_an_acta"]  # not also "names nobody": it is no acta at all
    assert found[0].severity == PROBLEM and found[0].document == "acta_posesion.jpg"


def test_a_blank_page_sent_as_the_acta_is_not_an_acta():
    assert codes(findings(GOOD_FORM, scan("acta_posesion.jpg", reading([]), ink_ppm=20))) == ["acta_not_an_acta"]


def test_a_page_with_ink_where_ocr_read_no_word_is_not_called_blank():
    # Measured: a shaded, noisy acta the crop had cut read as 0 words.
    found = findings(GOOD_FORM, scan("acta_posesion.jpg", reading([]), ink_ppm=45_000))
    assert codes(found) == ["scan_not_read"] and "ninguna palabra" in found[0].detail


def test_a_blank_page_of_a_scanned_pdf_is_judged_by_its_own_ink():
    # A PDF has no image_ink_ppm of its own: each page's ink is measured on
    # the page image as read (PageReading.ink_ppm). Blank: not the form;
    # inked but wordless: a page a person must look at.
    def pdf_scan(page_ink: int) -> FileFacts:
        empty = reading([])
        page = dataclasses.replace(empty.pages[0], ink_ppm=page_ink)
        return FileFacts(filename="formato_firmado.pdf", sha256="0" * 64, size=90_000, type=sniff.PDF,
                         pdf=PdfFacts(1, "", 1, 0, False, False), reading=dataclasses.replace(empty, pages=(page,)))

    assert codes(findings(pdf_scan(20), GOOD_ACTA)) == ["signed_form_not_the_form"]
    found = findings(pdf_scan(45_000), GOOD_ACTA)
    assert codes(found) == ["scan_not_read"] and "aunque la página tiene tinta" in found[0].detail


def test_a_page_without_words_whose_ink_was_not_measured_is_not_called_blank():
    assert codes(findings(scan("formato.pdf", reading([]), ink_ppm=None), GOOD_ACTA)) == ["scan_not_read"]


def test_an_acta_naming_someone_else_is_warned():
    other = [line.replace("MARÍA FERNANDA", "PEDRO ANTONIO").replace("GÓMEZ RUIZ", "PÉREZ CASTAÑO")
             for line in ACTA_LINES]
    found = findings(GOOD_FORM, scan("acta_posesion.jpg", reading(other)))
    assert [(f.severity, f.code) for f in found] == [(WARNING, "legal_rep_not_in_acta")]
    assert "María Fernanda Gómez Ruiz" in found[0].detail


def test_the_name_read_with_ocr_confusions_still_matches():
    slipped = [line.replace("MARÍA FERNANDA", "MARlA FERNANDA").replace("GÓMEZ RUIZ", "G0MEZ RUlZ")
               for line in ACTA_LINES]
    assert findings(GOOD_FORM, scan("acta_posesion.jpg", reading(slipped))) == []


def test_an_acta_read_doubtfully_warns_of_nothing_but_the_reading():
    other = [line.replace("MARÍA FERNANDA", "PEDRO ANTONIO") for line in ACTA_LINES]
    doubtful = scan("acta_posesion.jpg", reading(other, page_read=False, reason="no se leyó con la confianza necesaria"))
    assert codes(findings(GOOD_FORM, doubtful)) == ["scan_not_read"]


def test_an_acta_for_another_role_is_warned():
    other = [line.replace("Alcaldesa municipal", "Secretaria de Gobierno") for line in ACTA_LINES]
    found = findings(GOOD_FORM, scan("acta_posesion.jpg", reading(other)))
    assert [(f.severity, f.code) for f in found] == [(WARNING, "legal_rep_role_not_in_acta")]


def test_the_role_read_with_an_ocr_slip_still_matches():
    slipped = [line.replace("Alcaldesa", "Alca1desa") for line in ACTA_LINES]
    assert findings(GOOD_FORM, scan("acta_posesion.jpg", reading(slipped))) == []


def text_acta(lines: list[str]) -> FileFacts:
    text = " ".join(lines)
    return FileFacts(filename="acta.pdf", sha256="2" * 64, size=30_000, type=sniff.PDF,
                     pdf=PdfFacts(1, text, 0, 0, False, False))


def test_a_name_is_not_found_inside_longer_words_of_a_text_layer():
    # "Ana" is in "mañana" and "Luis" in "Luisa": as substrings the old check found them.
    lines = ["ACTA DE POSESIÓN No. 3", "En la mañana del 2 de enero la señora LUISA FERNANDA ROJAS tomó posesión",
             "del cargo de Alcaldesa municipal y prestó juramento."]
    found = findings(GOOD_FORM, text_acta(lines), fields={"legal_rep_name": "Ana Luis Rojas"})
    assert "legal_rep_not_in_acta" in codes(found)


def test_the_form_fields_and_signature_reach_the_stored_summary():
    summary = scan_checks.reading_summary(GOOD_FORM.reading)
    assert summary["engine"].startswith("tesseract") and summary["pages_read"] == 1 and summary["confidence"] == 92
    assert summary["signature"] == {"found": True, "ink": 0.025, "label": "Firma del representante legal", "page": 1}
    assert summary["found"]["nit"] == {"value": "890905211-1", "confidence": 92}
    assert summary["found"]["entity"]["value"] == "Alcaldía de Prueba"
    assert summary["found"]["name"]["value"] == "María Fernanda Gómez Ruiz"
    assert len(scan_checks.reading_summary(reading(ACTA_LINES * 40))["text"]) == 2000


def test_any_counted_scan_not_read_is_said_the_identity_document_by_its_own_check():
    kinds = ("identity_document", "declaration")
    files = [scan("cedula.jpg", None), scan("declaracion responsabilidad.jpg", None)]
    classified, notes = classify_all(files, RULES.documents, kinds)
    exam = Examination(classified, notes, "persona@example.org", [], [], required=kinds)
    found = scan_checks.check_scans_read(exam, RULES)
    assert [(f.code, f.document) for f in found] == [("scan_not_read", "declaracion responsabilidad.jpg")]


def test_a_page_askew_under_two_degrees_still_reads_its_lines_in_order():
    # Pages under 2 degrees are not straightened: across a line 1,000 px
    # wide a 1.7 degree skew drops the line 30 px, more than the 40 px
    # between lines minus a word's height. Sorted by height alone the
    # title's words fell among the next lines' (seed 6522 of the bench).
    import math

    straight = reading(FORM_LINES, signature=signed())
    slope = math.tan(math.radians(1.7))

    def as_scanned(w):  # 150 dpi: lines 28 px apart, words 15 px tall, the page turned 1.7 degrees
        x0, y0, x1, _y1 = 2 * w.box[0], w.box[1], 2 * w.box[2], w.box[3]
        rise = slope * (x1 - x0)  # the box holds the whole tilted word
        middle = 100 + (y0 - 100) * 28 // 40 + 7.5 + slope * (x0 + x1) / 2
        return dataclasses.replace(w, box=(x0, round(middle - 7.5 - rise / 2), x1, round(middle + 7.5 + rise / 2)))

    straight = dataclasses.replace(straight, words=tuple(
        dataclasses.replace(w, box=(2 * w.box[0], 100 + (w.box[1] - 100) * 28 // 40, 2 * w.box[2],
                                    100 + (w.box[1] - 100) * 28 // 40 + 15)) for w in straight.words))
    askew = tuple(as_scanned(w) for w in reading(FORM_LINES).words)
    tilted = dataclasses.replace(straight, words=askew)
    assert [t.text for t in scan_checks.tokens_of(tilted)] == [t.text for t in scan_checks.tokens_of(straight)]
    assert findings(scan("formato_firmado.jpg", tilted, ink_ppm=60_000), GOOD_ACTA) == []
