"""For who cannot self-serve (issue 14), end to end with real servers: the
requests arrive over IMAP (Dovecot), the answers leave over SMTP
(aiosmtpd), the directory is a real slapd with the ppolicy overlay (a
default policy that locks after three failed binds).

- ``desbloqueo`` (seed 003): an account locked by failed binds is unlocked
  on request from its registered address; the right password then binds.
- ``cambio-correo`` (seed 004): the registered email changes only after
  the confirmation link sent to the new address is used; the old address
  is told, without the new one."""

from __future__ import annotations

import re

import pytest

from . import docfiles, mails
from .conftest import Networked, run_helpdesk
from .web_server import Browser, WebServer, any_port, links_in, web_sections

PASSWORD = "Clave-De-Siempre-41"
CURP = "BEST710209HDFLNB09"


@pytest.fixture
def directory(slapd_ppolicy):
    return slapd_ppolicy


def desk(tmp_path, dovecot, smtp_server, directory, port: int | None = None) -> Networked:
    extra = {"web": web_sections(port)} if port else {}
    return Networked(tmp_path / "h", dovecot, smtp_server, **directory.reset_sections(),
        # A sender is the registered address only with our server's DMARC
        # pass (CONTRACT §13): these requests come through it.
        inbox={"authserv_id": AUTHSERV},
        procedures={"desbloqueo": {"addresses": ["desbloqueo@entidad.gov.co"]},
                    # Applied at the confirmation: the owner's hold is
                    # tested in test_handover_staff.py.
                    "cambio-correo": {"addresses": ["sinfilas@entidad.gov.co"], "hold_hours": 0}}, **extra)


AUTHSERV = "mx.entidad.gov.co"


def to(address: str, raw: bytes) -> bytes:
    return raw.replace(f"To: {mails.SUPPORT}".encode(), f"To: {address}".encode(), 1)


def approve(env: Networked, radicado: str, *options: str):
    return run_helpdesk("--config", env.config_path, "approve", radicado, "--by", "Ana Pérez", *options, timeout=60)


def sent(smtp_server, kind: str) -> list:
    return [m for m in smtp_server.snapshot() if m.message["X-Helpdesk-Kind"] == kind]


def test_an_account_locked_by_failed_binds_is_unlocked_from_its_registered_address(
        tmp_path, dovecot, smtp_server, directory):
    dn = directory.add_user("jperez", "juan.perez@entidad.gov.co", PASSWORD)
    directory.set_attribute(dn, "displayName", "Juan Pérez")  # the holder's name staff compare
    for _ in range(3):
        assert not directory.can_bind(dn, "Adivinanza-1")
    # slapd ignores a fresh lock for the first milliseconds of its second.
    directory.wait_until_lock_applies(dn)
    assert not directory.can_bind(dn, PASSWORD)  # locked: even the right password fails
    assert directory.entry(dn).get("pwdAccountLockedTime")
    env = desk(tmp_path, dovecot, smtp_server, directory)
    env.deliver(to("desbloqueo@entidad.gov.co", mails.request(
        sender="juan.perez@entidad.gov.co", subject="Cuenta bloqueada",
        headers={"Authentication-Results": f"{AUTHSERV}; dmarc=pass header.from=entidad.gov.co"},
        body="Buenos días, mi cuenta quedó bloqueada.\nUsuario: jperez\nNombres y apellidos: Juan Pérez\n"
             "Documento: 18123456\n")))
    [outcome] = env.run_once()
    row = env.store.one("SELECT procedure, state, legal_rep_email FROM tickets")
    assert tuple(row) == ("desbloqueo", "pending_approval", "juan.perez@entidad.gov.co")
    done = approve(env, outcome.radicado)
    assert done.returncode == 0, done.stdout + done.stderr
    assert directory.can_bind(dn, PASSWORD)
    assert "pwdAccountLockedTime" not in directory.entry(dn)
    assert smtp_server.wait_for(3, timeout=10)  # ack, accepted, account_unlocked
    [notice] = sent(smtp_server, "account_unlocked")
    assert notice.rcpt_tos == ["juan.perez@entidad.gov.co"]
    assert "desbloqueamos la cuenta juan.perez@entidad.gov.co" in notice.message.get_body(("plain",)).get_content()


def test_an_unlock_from_another_address_asks_for_the_identity_document_and_the_declaration(
        tmp_path, dovecot, smtp_server, directory):
    directory.add_user("jperez", "juan.perez@entidad.gov.co", PASSWORD)
    env = desk(tmp_path, dovecot, smtp_server, directory)
    env.deliver(to("desbloqueo@entidad.gov.co", mails.request(
        sender="juanito1980@gmail.com", body="Usuario: jperez\nNombre: Juan Pérez\nCédula: 18123456\n")))
    [outcome] = env.run_once()
    codes = {r["code"] for r in env.store.query("SELECT code FROM findings")}
    assert {"missing_identity_document", "missing_declaration", "sender_not_registered"} <= codes
    assert smtp_server.wait_for(2, timeout=10)
    [correction] = sent(smtp_server, "correction")
    assert correction.rcpt_tos == ["juanito1980@gmail.com"]
    text = correction.message.get_body(("plain",)).get_content()
    assert "documento de identidad" in text and "declaración de responsabilidad" in text
    assert "juan.perez@entidad.gov.co" not in text  # the registered address is for staff only
    # With both documents the request waits for staff, who see who wrote.
    env.deliver(mails.reply_to(correction.data, sender="juanito1980@gmail.com", attachments=[
        ("cedula.pdf", docfiles.scan_pdf(["REPUBLICA DE COLOMBIA", "CEDULA DE CIUDADANIA"]), "application/pdf"),
        ("declaracion firmada.pdf", docfiles.scan_pdf(["DECLARACION DE RESPONSABILIDAD"]), "application/pdf")]))
    env.run_once()
    assert env.store.one("SELECT state FROM tickets")[0] == "pending_approval"
    shown = run_helpdesk("--config", env.config_path, "show", outcome.radicado, timeout=60).stdout
    assert "el correo registrado de la cuenta juan.perez@entidad.gov.co es juan.perez@entidad.gov.co" in shown


def test_the_registered_email_changes_only_after_the_new_address_confirms(tmp_path, dovecot, smtp_server, directory):
    dn = directory.add_user("bsanchez", "b.sanchez.viejo@entidad.gov.co", PASSWORD)
    directory.set_attribute(dn, "employeeNumber", CURP)
    directory.set_attribute(dn, "displayName", "Beatriz Sánchez")
    port = any_port()
    env = desk(tmp_path, dovecot, smtp_server, directory, port)
    env.deliver(to("sinfilas@entidad.gov.co", mails.request(
        sender="beatriz.sanchez.nueva@gmail.com", subject="Cambio de correo",
        body=f"CURP: {CURP.lower()}\nNombre: Beatriz Sánchez\nCorreo nuevo: beatriz.sanchez.nueva@gmail.com\n"
             "Teléfono: 477 555 0101\n",
        attachments=[("INE.jpg", docfiles.scan_jpeg(["INSTITUTO NACIONAL ELECTORAL", "CREDENCIAL PARA VOTAR"]),
                      "image/jpeg")])))
    [outcome] = env.run_once()
    assert env.store.one("SELECT state FROM tickets")[0] == "pending_approval", env.store.query(
        "SELECT code, detail FROM findings")
    # From an address that is not the registered one: high risk, approved
    # only once staff have compared the document (CONTRACT §13).
    assert approve(env, outcome.radicado).returncode == 1
    done = approve(env, outcome.radicado, "--acknowledge-warnings")
    assert done.returncode == 0, done.stdout + done.stderr
    assert smtp_server.wait_for(3, timeout=10)
    [confirm] = sent(smtp_server, "email_change_confirm")
    assert confirm.rcpt_tos == ["beatriz.sanchez.nueva@gmail.com"]
    assert directory.entry(dn)["mail"] == ["b.sanchez.viejo@entidad.gov.co"]  # nothing changes before the confirmation
    [url] = links_in(confirm.message.get_body(("plain",)).get_content(), f"http://127.0.0.1:{port}")
    with WebServer(env.config, port):
        browser = Browser()
        page = browser.get(url)
        assert page.status == 200 and "beatriz.sanchez.nueva@gmail.com" in page.text
        confirmed = browser.post(url, {"csrf": page.hidden("csrf")})
        assert confirmed.status == 200 and "Su nuevo correo quedó registrado" in confirmed.text
        assert browser.get(url).status == 410
    assert directory.entry(dn)["mail"] == ["beatriz.sanchez.nueva@gmail.com"]
    env.run_once()  # the daemon delivers what the page queued
    assert smtp_server.wait_for(4, timeout=10)
    [notice] = sent(smtp_server, "email_changed_notice")
    assert notice.rcpt_tos == ["b.sanchez.viejo@entidad.gov.co"]
    assert "nueva@gmail.com" not in notice.data.decode("utf-8", "replace")  # the new address is not revealed
    assert re.search(r"si usted no lo solicitó", notice.message.get_body(("plain",)).get_content(), re.I)
    assert env.store.one("SELECT state FROM tickets")[0] == "resolved"


def test_an_invalid_curp_gets_a_correction(tmp_path, dovecot, smtp_server, directory):
    env = desk(tmp_path, dovecot, smtp_server, directory)
    env.deliver(to("sinfilas@entidad.gov.co", mails.request(
        sender="alguien@gmail.com", body="CURP: BEST710209HDFLNB08\nNombre: B\nCorreo nuevo: b@gmail.com\n"
                                          "Teléfono: 1\n")))
    env.run_once()
    problems = {(r["code"], r["detail"]) for r in env.store.query("SELECT code, detail FROM findings "
                                                                    "WHERE severity = 'problem'")}
    assert ("invalid_identifier", "«BEST710209HDFLNB08»: el dígito verificador debe ser 9, no 8") in problems
    assert ("missing_identity_document", "documento de identidad escaneado") in problems


def test_the_optional_spreadsheet_of_an_unlock_has_a_blank_form_that_reads_back(tmp_path):
    import openpyxl

    from helpdesk.documents.excel import read_form
    from helpdesk.rules import load_all

    from .forms import to_bytes

    target = tmp_path / "desbloqueo.xlsx"
    done = run_helpdesk("form-template", str(target), "--procedure", "desbloqueo", cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    wb = openpyxl.load_workbook(target)
    ws = wb["Solicitud"]
    for row in ws.iter_rows():
        label = (row[0].value or "").removesuffix(" *")
        value = {"Usuario": "jperez", "Nombres y apellidos": "Juan Pérez", "Documento": "18123456"}.get(label)
        if value:
            ws.cell(row[0].row, 2, value)
    form = read_form(to_bytes(wb), load_all().procedures["desbloqueo"].form)
    assert form.fields == {"account": "jperez", "person_name": "Juan Pérez", "doc_number": "18123456"}
