"""PDF digital signatures (issue 23 item 5, CONTRACT 11): validated with
pyHanko in the document worker, judged by signature_invalid and
signature_signer_differs, shown by ``show``.

The signed PDFs are made here, with pyHanko and a throwaway CA built with
cryptography; four come from pyHanko's own test suite (MIT licence, see
tests/data/signatures/README.md). Facts are read through the real worker
process, as the service reads them.
"""

from __future__ import annotations

import datetime
import io
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from helpdesk import config as config_mod
from helpdesk.documents.classify import classify_all
from helpdesk.documents.worker import Worker
from helpdesk.errors import ConfigError
from helpdesk.examination.checks import Examination, load_rules, run_checks
from helpdesk.examination.signature_checks import same_person
from helpdesk.findings import PROBLEM, WARNING
from helpdesk.rules import load_all

from . import docfiles, forms, mails
from .conftest import Embedded, run_helpdesk, write_config

DATA = Path(__file__).parent / "data" / "signatures"
RULES = load_all()
# The standard form's legal representative (tests/forms.py) and a stranger.
LEGAL_REP_CERT_NAME = "GOMEZ RUIZ MARIA FERNANDA"  # as a Colombian CA writes it: surnames first, no accents
STRANGER = "Pedro Antonio Pérez Castaño"
FORM_LINES = ["FORMATO DE SOLICITUD DE REINICIO DE CLAVE", "1.2 Datos del representante legal",
              "María Fernanda Gómez Ruiz", "Firmado digitalmente por el representante legal"]
ACTA_LINES = ["ACTA DE POSESIÓN No. 001", "En Medellín, a 2 de enero, se presentó ante el despacho",
              "MARÍA FERNANDA GÓMEZ RUIZ, quien tomó posesión del cargo de Alcaldesa."]
CA_NAME = "AC Pruebas Firmas Digitales"
PDF = "application/pdf"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# -- a throwaway CA and its signers ---------------------------------------


@dataclass(frozen=True)
class Pki:
    ca_pem: bytes
    signers: dict  # common name -> pyHanko SimpleSigner


def _certificate(subject: str, issuer: str, public_key, signing_key, ca: bool):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    usage = (x509.KeyUsage(False, False, False, False, False, True, True, False, False) if ca
             else x509.KeyUsage(True, True, False, False, False, False, False, False, False))
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .sign(signing_key, hashes.SHA256()))


@pytest.fixture(scope="module")
def pki() -> Pki:
    return make_pki()


def make_pki() -> Pki:
    """A CA and two signers: the legal representative's certificate and a stranger's."""
    from asn1crypto import keys, x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    der = serialization.Encoding.DER
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate(CA_NAME, CA_NAME, ca_key.public_key(), ca_key, ca=True)
    ca_asn1 = x509.Certificate.load(ca.public_bytes(der))
    made = {}
    for name in (LEGAL_REP_CERT_NAME, STRANGER):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(name, CA_NAME, key.public_key(), ca_key, ca=False)
        made[name] = signers.SimpleSigner(
            signing_cert=x509.Certificate.load(cert.public_bytes(der)),
            signing_key=keys.PrivateKeyInfo.load(key.private_bytes(
                der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())),
            cert_registry=SimpleCertificateStore.from_certs([ca_asn1]))
    return Pki(ca.public_bytes(serialization.Encoding.PEM), made)


def sign(pki: Pki, data: bytes, signer: str = LEGAL_REP_CERT_NAME) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    out = signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(data)),
                           signers.PdfSignatureMetadata(field_name="FirmaRepresentanteLegal"),
                           signer=pki.signers[signer])
    return out.getvalue()


def append_update(signed: bytes) -> bytes:
    """An incremental update after signing that adds a line to the page
    (as a PDF editor saves a change): the signed bytes stay intact."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    content = writer.add_object(generic.StreamObject(stream_data=b"BT /F1 12 Tf 72 500 Td (otra@gmail.com) Tj ET"))
    writer.add_stream_to_page(0, content)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def signed_form(pki: Pki, signer: str = LEGAL_REP_CERT_NAME) -> bytes:
    return sign(pki, docfiles.text_pdf(FORM_LINES), signer)


@pytest.fixture(scope="module")
def worker():
    """One real worker process for the module (rules without trust roots)."""
    w = Worker(RULES)
    yield w
    w.close()


def read(worker: Worker, data: bytes, name: str = "formato_firmado.pdf"):
    facts = worker.examine(name, data)
    assert not hasattr(facts, "reason"), facts  # a WorkerFailure
    return facts


def findings_for(worker: Worker, form: bytes, tmp_path) -> list:
    files = [read(worker, form), read(worker, forms.filled_template(tmp_path), "Formato solicitud.xlsx"),
             read(worker, docfiles.text_pdf(ACTA_LINES), "acta_posesion.pdf")]
    classified, notes = classify_all(files, RULES.documents)
    found = run_checks(Examination(classified, notes, mails.ENTITY, [], []), RULES)
    return [f for f in found if f.code != "account_not_an_address"]


def codes(findings, severity: str) -> list[str]:
    return [f.code for f in findings if f.severity == severity]


# -- validation in the worker ---------------------------------------------


def test_pdf_signed_by_a_test_ca_is_valid_whole_and_untrusted_without_roots(pki, worker):
    sig = read(worker, signed_form(pki)).digital_signature
    assert sig is not None
    assert (sig.valid, sig.covers_whole_file, sig.trusted) == (True, True, False)
    assert (sig.signer, sig.issuer, sig.error) == (LEGAL_REP_CERT_NAME, CA_NAME, "")


def test_the_same_signature_is_trusted_when_its_ca_is_in_trust_roots(pki):
    trusting = Worker(replace(RULES, trust_roots_pem=pki.ca_pem))
    try:
        sig = trusting.examine("formato_firmado.pdf", signed_form(pki)).digital_signature
    finally:
        trusting.close()
    assert (sig.valid, sig.covers_whole_file, sig.trusted) == (True, True, True)


def test_a_pdf_without_a_signature_value_has_no_digital_signature(worker):
    assert read(worker, docfiles.unsigned_sig_field_pdf()).digital_signature is None
    assert read(worker, docfiles.text_pdf(FORM_LINES)).digital_signature is None


def test_an_update_appended_after_signing_does_not_cover_the_whole_file(pki, worker, tmp_path):
    changed = append_update(signed_form(pki))
    sig = read(worker, changed).digital_signature
    assert sig.valid and not sig.covers_whole_file  # the signed bytes are intact; what came after is not signed
    assert "modificado después de firmarlo" in sig.error
    found = findings_for(worker, changed, tmp_path)
    assert codes(found, PROBLEM) == ["signed_form_not_scanned", "signature_invalid"]
    [invalid] = [f for f in found if f.code == "signature_invalid"]
    assert invalid.document == "formato_firmado.pdf" and "modificado después de firmarlo" in invalid.detail


def test_a_byte_changed_inside_the_signed_range_makes_it_invalid(pki, worker, tmp_path):
    signed = signed_form(pki)
    at = signed.index(b"stream") + 20  # inside the page's content, well before the signature
    tampered = signed[:at] + bytes([signed[at] ^ 0x01]) + signed[at + 1:]
    sig = read(worker, tampered).digital_signature
    assert not sig.valid
    assert sig.signer == LEGAL_REP_CERT_NAME  # who claims to have signed is still shown
    assert codes(findings_for(worker, tampered, tmp_path), PROBLEM) == ["signed_form_not_scanned", "signature_invalid"]


@pytest.mark.parametrize("name, data", [
    ("garbage CMS in /Contents", lambda: docfiles.signed_pdf()),
    ("all-zero /Contents (pyHanko's coverage-anomalies/base.pdf)", lambda: (DATA / "placeholder-contents.pdf").read_bytes()),
])
def test_a_signature_field_with_a_garbage_value_is_not_valid_and_nothing_crashes(worker, name, data):
    facts = read(worker, data())
    assert facts.readable and facts.pdf.signed
    sig = facts.digital_signature
    assert (sig.valid, sig.covers_whole_file, sig.trusted) == (False, False, False)
    assert "no se puede leer" in sig.error


def test_pyhankos_uncovered_tail_does_not_cover_the_whole_file(worker):
    sig = read(worker, (DATA / "tail-uncovered.pdf").read_bytes()).digital_signature
    assert sig.valid and not sig.covers_whole_file
    assert sig.signer == "Lord Testerino" and not sig.trusted


@pytest.mark.parametrize("fixture, issuer", [
    ("minimal-two-fields-signed-twice.pdf", "Lord Testerino"),  # the first signature is followed by the second's update
    ("certified-with-indirect-refs-in-dir.pdf", "Intermediate CA"),
])
def test_pyhankos_signed_twice_and_certified_pdfs_are_valid_and_whole(worker, fixture, issuer):
    sig = read(worker, (DATA / fixture).read_bytes()).digital_signature
    assert (sig.valid, sig.covers_whole_file, sig.trusted) == (True, True, False)
    assert (sig.signer, sig.issuer) == ("Lord Testerino", issuer)


def test_validation_time_per_signed_pdf(pki, worker, capsys):
    """Measured, not asserted against a target: the worker's own limits bound it."""
    files = {"firmado": signed_form(pki), "modificado": append_update(signed_form(pki)),
             "firmado dos veces": (DATA / "minimal-two-fields-signed-twice.pdf").read_bytes()}
    read(worker, files["firmado"])  # pyHanko imported once per worker
    for label, data in files.items():
        started = time.perf_counter()
        for _ in range(5):
            read(worker, data)
        with capsys.disabled():
            print(f"\n  validation of a {len(data) // 1024} KB PDF ({label}): "
                  f"{(time.perf_counter() - started) / 5 * 1000:.0f} ms a file, through the worker")


# -- the checks ----------------------------------------------------------------


def test_a_valid_whole_signature_counts_as_the_signed_form(pki, worker, tmp_path):
    found = findings_for(worker, signed_form(pki), tmp_path)
    assert codes(found, PROBLEM) == []
    assert "signature_signer_differs" not in codes(found, WARNING)


def test_a_signature_by_someone_else_than_the_legal_rep_is_a_warning(pki, worker, tmp_path):
    found = findings_for(worker, signed_form(pki, STRANGER), tmp_path)
    assert codes(found, PROBLEM) == []  # a valid signature: the form is signed, by someone
    [differs] = [f for f in found if f.code == "signature_signer_differs"]
    assert differs.severity == WARNING and differs.document == "formato_firmado.pdf"
    assert STRANGER in differs.detail and "María Fernanda Gómez Ruiz" in differs.detail
    assert RULES.trust.warnings["signature_signer_differs"].weight == "alto"


@pytest.mark.parametrize("form_name, certificate, same", [
    ("María Fernanda Gómez Ruiz", "GOMEZ RUIZ MARIA FERNANDA", True),  # order, accents and case
    ("María Fernanda Gómez Ruiz", "MARIA FERNANDA GOMEZ RUIZ 52123456", True),  # a cédula in the CN
    ("María Gómez", "MARIA FERNANDA GOMEZ RUIZ", True),  # the form leaves out a name and a surname
    ("María Fernanda Gómez Ruiz", "Maria Fernanda Gomes Ruiz", True),  # one letter in a long word
    ("María Fernanda Gómez Ruiz", "Pedro Antonio Pérez Castaño", False),
    ("María Fernanda Gómez Ruiz", "María Fernanda Castaño", False),  # the same first names are not the person
    ("Ana de la Torre", "JUAN DE LA TORRE", False),  # particles say nothing
])
def test_names_are_compared_tolerantly(form_name, certificate, same):
    assert same_person(form_name, certificate) is same


# -- configuration --------------------------------------------------------------


def test_a_missing_or_broken_trust_roots_file_is_named_at_start(tmp_path, pki):
    path = write_config(tmp_path / "config.toml", {"documents": {"trust_roots": "ca.pem"}})
    with pytest.raises(ConfigError, match="documents.trust_roots"):
        load_rules(config_mod.load(path))
    (tmp_path / "ca.pem").write_text("no es un certificado\n")
    with pytest.raises(ConfigError, match="documents.trust_roots.*PEM"):
        load_rules(config_mod.load(path))
    (tmp_path / "ca.pem").write_bytes(pki.ca_pem)
    assert load_rules(config_mod.load(path)).trust_roots_pem == pki.ca_pem


# -- end to end: mail in, the real worker, show ----------------------------------


def test_show_prints_and_json_carries_the_digital_signature(pki, tmp_path):
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "ca.pem").write_bytes(pki.ca_pem)
    env = Embedded(tmp_path / "env", documents={"trust_roots": "ca.pem"})
    try:
        env.deliver(mails.request(attachments=[
            ("formato_firmado.pdf", signed_form(pki), PDF),
            ("Formato solicitud.xlsx", forms.filled_template(tmp_path), XLSX),
            ("acta_posesion.pdf", docfiles.text_pdf(ACTA_LINES), PDF)]))
        env.deliver(mails.request(sender="otra@alcaldia-prueba.gov.co", attachments=[
            ("formato_firmado.pdf", append_update(signed_form(pki)), PDF),
            ("Formato solicitud.xlsx", forms.filled_template(tmp_path), XLSX),
            ("acta_posesion.pdf", docfiles.text_pdf(ACTA_LINES), PDF)]))
        good, changed = (o.radicado for o in env.run_once())
        shown = json.loads(run_helpdesk("--config", env.config_path, "show", good, "--json", timeout=60).stdout)
        [form] = [d for d in shown["documents"] if d["filename"] == "formato_firmado.pdf"]
        assert form["digital_signature"] == {"valid": True, "covers_whole_file": True, "signer": LEGAL_REP_CERT_NAME,
                                             "issuer": CA_NAME, "trusted": True}
        assert [p["code"] for p in shown["problems"]] == []
        assert all("digital_signature" not in d for d in shown["documents"] if d["filename"] != "formato_firmado.pdf")
        text = run_helpdesk("--config", env.config_path, "show", good, timeout=60).stdout
        assert (f"Firma digital: {LEGAL_REP_CERT_NAME}, emitida por {CA_NAME}; válida: sí; "
                "cubre todo el archivo: sí; de confianza") in text

        shown = json.loads(run_helpdesk("--config", env.config_path, "show", changed, "--json", timeout=60).stdout)
        [form] = [d for d in shown["documents"] if d["filename"] == "formato_firmado.pdf"]
        assert form["digital_signature"]["covers_whole_file"] is False and form["digital_signature"]["valid"] is True
        assert "signature_invalid" in [p["code"] for p in shown["problems"]]
        correction = [m for m in env.sent() if m["X-Helpdesk-Kind"] == "correction"]
        assert len(correction) == 1 and changed in correction[0]["Subject"]
        body = correction[0].get_body(("plain",)).get_content()
        assert "La firma digital del archivo «formato_firmado.pdf» no es válida" in body
    finally:
        env.daemon.close()
        env.store.close()
