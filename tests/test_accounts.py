"""The account administration procedure (seed 002, ``cuentas-correo``) on the
embedded defaults: the FT-GTI-006 form read by its labels, its checks
against the register of corporate accounts, approval with the manual and
command backends (a deletion confirmed twice), the result emails and the
FT-GTI-002 register (``helpdesk cuentas``, its export). The same flow
against Dovecot, aiosmtpd and slapd is tests/test_e2e_accounts.py."""

from __future__ import annotations

import json
import sys
from datetime import datetime

import openpyxl
import pytest

from . import docfiles, forms, mails
from .conftest import Embedded, embedded_sections, run_helpdesk, write_config
from .test_e2e_documents import XLSX

PDF = "application/pdf"

CUENTAS = "cuentas@putumayo.gov.co"
OFFICE = "hacienda@putumayo.gov.co"
YEAR = datetime.now().year


def account_mail(tmp_path, sender: str = OFFICE, signed: bool = True, **changes) -> bytes:
    attachments = [("FT-GTI-006.xlsx", forms.account_request(tmp_path, **changes), XLSX)]
    if signed:
        attachments.append(("FT-GTI-006 firmado.pdf",
                            docfiles.scan_pdf(["FORMATO DE SOLICITUD FT-GTI-006", "Firma del jefe"]), PDF))
    raw = mails.request(sender=sender, subject="Solicitud de cuenta de correo", attachments=attachments)
    # As our receiving server hands it over: an account order proves its
    # sender only by our server's DMARC pass (CONTRACT §13).
    raw = (f"Authentication-Results: {AUTHSERV}; dmarc=pass header.from={sender.partition('@')[2]}\r\n".encode()
           + raw)
    return raw.replace(f"To: {mails.SUPPORT}".encode(), f"To: {CUENTAS}".encode(), 1)


AUTHSERV = "mx.putumayo.gov.co"


def office(tmp_path, **overrides) -> Embedded:
    return Embedded(tmp_path / "h", procedures={"cuentas-correo": {"addresses": [CUENTAS]}},
                    accounts={"domains": ["putumayo.gov.co"], **overrides}, inbox={"authserv_id": AUTHSERV})


def helpdesk(env: Embedded, *args, input_text: str | None = None):
    return run_helpdesk("--config", env.config_path, *args, input_text=input_text, timeout=60)


def radicado(n: int) -> str:
    return f"CTA-{YEAR}-{n:06d}"


def problems(env: Embedded, rad: str) -> set[tuple[str, str]]:
    return {(r["code"], r["detail"]) for r in env.store.query(
        "SELECT f.code, f.detail FROM findings f JOIN tickets t ON t.id = f.ticket_id "
        "WHERE t.radicado = ? AND f.severity = 'problem'", (rad,))}


def emails_of(env: Embedded, kind: str) -> list:
    return [m for m in env.sent() if m["X-Helpdesk-Kind"] == kind]


def text(message) -> str:
    return message.get_body(("plain",)).get_content()


def test_a_creation_request_is_read_by_its_own_form_and_accepted(tmp_path):
    env = office(tmp_path)
    env.deliver(account_mail(tmp_path))
    env.run_once()
    row = env.store.one("SELECT * FROM tickets")
    assert (row["radicado"], row["procedure"], row["state"]) == (radicado(1), "cuentas-correo", "pending_approval")
    # Listings show the office, the official and where the result goes.
    assert (row["entity_name"], row["legal_rep_name"], row["legal_rep_email"]) == (
        "Secretaría de Hacienda", "Juan Carlos Pérez Rosero", "juanperez.rosero@gmail.com")
    ack = emails_of(env, "ack")[0]
    assert "creación, modificación o eliminación de una cuenta de correo institucional" in text(ack)
    assert "Google" not in text(ack)  # the reset's self-service reminder is not this procedure's
    accepted = text(emails_of(env, "accepted")[0])
    assert "correo personal de contacto (juanperez.rosero@gmail.com)" in accepted
    # The register is empty: a creation needs no warning about it.
    codes = {r["code"] for r in env.store.query("SELECT code FROM findings")}
    assert "account_register_empty" not in codes


def test_a_wrong_form_gets_each_problem_in_the_procedures_wording(tmp_path):
    env = office(tmp_path)
    env.deliver(account_mail(tmp_path, signed=False,
                             request={"Tipo de solicitud": "Traslado", "Cuenta de correo": "jperez@gmail.com",
                                      "Justificación": ""},
                             official={"Correo electrónico personal de contacto": "juan@@gmail"}))
    env.run_once()
    found = problems(env, radicado(1))
    assert ("missing_signed_form", "formato de solicitud firmado y escaneado") in found
    assert ("missing_field", "Justificación (3)") in found
    assert ("invalid_choice", "Tipo de solicitud (3) dice «Traslado»; escriba Creación, Modificación o Eliminación") \
        in found
    assert ("invalid_email", "Correo personal de contacto del funcionario (2) «juan@@gmail»") in found
    assert ("account_outside_domain", "la cuenta «jperez@gmail.com» no es de putumayo.gov.co") in found
    correction = text(emails_of(env, "correction")[0])
    assert "Falta el formato FT-GTI-006 firmado por el jefe de la dependencia" in correction
    assert "las cuentas institucionales solo se crean en los dominios de la entidad" in correction


def test_a_request_without_the_spreadsheet_gets_the_blank_ft_gti_006(tmp_path):
    env = office(tmp_path)
    raw = mails.request(sender=OFFICE, attachments=[("firmado.pdf", docfiles.scan_pdf(["FORMATO"]), PDF)])
    env.deliver(raw.replace(f"To: {mails.SUPPORT}".encode(), f"To: {CUENTAS}".encode(), 1))
    env.run_once()
    correction = emails_of(env, "correction")[0]
    attached = next(part for part in correction.iter_attachments())
    import io

    ws = openpyxl.load_workbook(io.BytesIO(attached.get_content()))["Solicitud"]
    assert ws["A1"].value.startswith("FT-GTI-006")


def test_approving_a_creation_by_hand_sends_the_password_to_the_official_only(tmp_path):
    env = office(tmp_path)
    env.deliver(account_mail(tmp_path))
    env.run_once()
    shown = helpdesk(env, "approve", radicado(1), "--by", "Ana Pérez", input_text=f"{radicado(1)}\n")
    assert shown.returncode == 0, shown.stderr
    assert "Cree la cuenta jperez@putumayo.gov.co" in shown.stdout
    password = next(line.split()[2] for line in shown.stdout.splitlines() if "Clave temporal:" in line)
    created, = emails_of(env, "account_created")
    assert created["To"] == "juanperez.rosero@gmail.com"
    assert password in text(created) and "cambiarla en el primer inicio de sesión" in text(created)
    notices = emails_of(env, "account_notice")
    assert [m["To"] for m in notices] == [OFFICE]
    assert password not in notices[0].as_string() and "jperez@putumayo.gov.co" in text(notices[0])
    assert "Auto-Submitted" not in created  # a person decided it
    listed = json.loads(helpdesk(env, "cuentas", "--json").stdout)
    assert [(a["account"], a["state"], a["office"], a["radicado"]) for a in listed] == [
        ("jperez@putumayo.gov.co", "activa", "Secretaría de Hacienda", radicado(1))]
    assert listed[0]["decided_by"].startswith("Ana Pérez") and listed[0]["created_at"]
    # Now the account exists: a second creation of it is the office's problem to fix.
    env.deliver(account_mail(tmp_path))
    env.run_once()
    assert ("account_exists", f"la cuenta «jperez@putumayo.gov.co» ya existe (registro {radicado(1)})") in problems(
        env, radicado(2))


def test_a_deletion_asks_for_the_account_typed_out_and_is_recorded(tmp_path):
    env = office(tmp_path)
    env.deliver(account_mail(tmp_path))
    env.run_once()
    assert helpdesk(env, "approve", radicado(1), "--by", "Ana", "--yes").returncode == 0
    env.deliver(account_mail(tmp_path, request={"Tipo de solicitud": "Eliminación",
                                                "Justificación": "Retiro del funcionario"}))
    env.run_once()
    assert env.store.one("SELECT state FROM tickets WHERE radicado = ?", (radicado(2),))[0] == "pending_approval"
    # --yes answers the manual confirmation, never the deletion's.
    refused = helpdesk(env, "approve", radicado(2), "--by", "Ana", "--yes", input_text="sí\n")
    assert refused.returncode == 1 and "Va a ELIMINAR la cuenta jperez@putumayo.gov.co" in refused.stdout
    assert env.store.one("SELECT state FROM tickets WHERE radicado = ?", (radicado(2),))[0] == "pending_approval"
    wrong = helpdesk(env, "approve", radicado(2), "--by", "Ana", "--yes", "--confirm-deletion", "otra@putumayo.gov.co")
    assert wrong.returncode == 1
    done = helpdesk(env, "approve", radicado(2), "--by", "Ana", "--yes", input_text="jperez@putumayo.gov.co\n")
    assert done.returncode == 0, done.stdout + done.stderr
    notices = [m for m in emails_of(env, "account_notice") if m["X-Helpdesk-Radicado"] == radicado(2)]
    assert sorted(m["To"] for m in notices) == sorted(["juanperez.rosero@gmail.com", OFFICE])
    assert all("eliminamos la cuenta de correo institucional jperez@putumayo.gov.co" in text(m) for m in notices)
    listed = json.loads(helpdesk(env, "cuentas", "--json").stdout)
    assert [(a["state"], a["radicado"]) for a in listed] == [("eliminada", radicado(2))]
    assert listed[0]["closed_at"] and listed[0]["created_at"]
    # A deleted account can be neither deleted nor modified again.
    env.deliver(account_mail(tmp_path, request={"Tipo de solicitud": "Modificación", "Cambios solicitados": "Cargo"}))
    env.run_once()
    assert ("account_not_found", "la cuenta «jperez@putumayo.gov.co» está eliminada") in problems(env, radicado(3))


def test_a_modification_must_say_what_changes_and_name_an_active_account(tmp_path):
    env = office(tmp_path)
    env.deliver(account_mail(tmp_path))
    env.run_once()
    assert helpdesk(env, "approve", radicado(1), "--by", "Ana", "--yes").returncode == 0
    env.deliver(account_mail(tmp_path, request={"Tipo de solicitud": "Modificación"}))
    env.deliver(account_mail(tmp_path, request={"Tipo de solicitud": "modificacion", "Cuenta de correo":
                                                "nadie@putumayo.gov.co", "Cambios solicitados": "Cargo"}))
    env.run_once()
    assert ("missing_field", "Cambios solicitados (3, para una modificación)") in problems(env, radicado(2))
    assert ("account_not_found", "la cuenta «nadie@putumayo.gov.co» no está en el registro") in problems(
        env, radicado(3))


def test_the_command_backend_gets_the_action_as_argument_and_the_order_on_stdin(tmp_path):
    log = tmp_path / "orders.jsonl"
    program = tmp_path / "cuentas.py"
    program.write_text("import sys, json\n"
                       f"open({str(log)!r}, 'a').write(json.dumps([sys.argv[1:], json.load(sys.stdin)]) + '\\n')\n",
                       encoding="utf-8")
    env = office(tmp_path, backend="command", command=[sys.executable, str(program)])
    env.deliver(account_mail(tmp_path))
    env.run_once()
    assert helpdesk(env, "approve", radicado(1), "--by", "Ana").returncode == 0
    (argv, order), = [json.loads(line) for line in log.read_text().splitlines()]
    assert argv == ["create"]
    assert order["account"] == "jperez@putumayo.gov.co" and order["official_doc_number"] == "18123456"
    assert order["password"] in text(emails_of(env, "account_created")[0])


def test_a_failing_backend_sends_nothing_and_changes_no_register(tmp_path):
    program = tmp_path / "falla.py"
    program.write_text("import sys\nsys.stderr.write('cuota de cuentas agotada')\nsys.exit(3)\n", encoding="utf-8")
    env = office(tmp_path, backend="command", command=[sys.executable, str(program)])
    env.deliver(account_mail(tmp_path))
    env.run_once()
    before = len(env.sent())
    failed = helpdesk(env, "approve", radicado(1), "--by", "Ana")
    assert failed.returncode == 1 and "cuota de cuentas agotada" in failed.stderr and "Traceback" not in failed.stderr
    assert len(env.sent()) == before
    assert env.store.one("SELECT state FROM tickets")[0] == "pending_approval"
    assert env.store.one("SELECT count(*) FROM corporate_accounts")[0] == 0


def test_an_account_deleted_and_created_again_starts_a_new_life_in_the_register(tmp_path, monkeypatch):
    """FT-GTI-002 (issue 25): created, modified, deleted, then created again
    for someone else, the account's row is the new one's: the new creation
    date, no closing date, no modification date and no holder's data of its
    former life; the history keeps the four changes."""
    from helpdesk import register
    from helpdesk.store import Store

    store = Store(tmp_path / "h.db", tmp_path / "raw")
    orders = [("2026-01-05T14:00:00+00:00", "create", ("Juan Carlos Pérez Rosero", "18123456", "Profesional",
                                                        "Secretaría de Hacienda")),
              ("2026-02-10T15:30:00+00:00", "modify", ("", "", "Profesional especializado", "")),
              ("2026-03-02T16:00:00+00:00", "delete", ("", "", "", "")),
              ("2026-06-01T13:00:00+00:00", "create", ("Luz Marina Benavides", "27123456", "Tesorera", ""))]
    for n, (at, action, (name, document, position, office_name)) in enumerate(orders, start=1):
        monkeypatch.setenv("HELPDESK_NOW", at)
        with store.transaction() as conn:
            register.record(conn, register.AccountChange(action, "JPerez@putumayo.gov.co", name, document, position,
                                                         office_name, radicado(n), "Ana"))
        if action == "delete":  # the closed record keeps its dates and who held it
            closed = register.lookup(store.conn, "jperez@putumayo.gov.co")
            assert (closed.state, closed.official_name, closed.created_at, closed.modified_at, closed.closed_at) == (
                "eliminada", "Juan Carlos Pérez Rosero", orders[0][0], orders[1][0], at)
    [row] = register.listing(store.conn)
    assert row == register.RegisteredAccount(
        account="jperez@putumayo.gov.co", official_name="Luz Marina Benavides", official_document="27123456",
        official_position="Tesorera", office="", state="activa", created_at="2026-06-01T13:00:00+00:00",
        modified_at=None, closed_at=None, radicado=radicado(4), decided_by="Ana")
    assert [(c["action"], c["at"]) for c in register.changes(store.conn)] == [(a, at) for at, a, _ in orders]
    store.close()


def test_the_register_exports_as_the_ft_gti_002_list(tmp_path):
    env = office(tmp_path)
    env.deliver(account_mail(tmp_path))
    env.run_once()
    assert helpdesk(env, "approve", radicado(1), "--by", "Ana Pérez", "--yes").returncode == 0
    target = tmp_path / "registro" / "FT-GTI-002.xlsx"
    assert helpdesk(env, "cuentas", "export", str(target)).returncode == 0
    wb = openpyxl.load_workbook(target)
    sheet = wb["FT-GTI-002"]
    assert sheet["A1"].value == "Lista de correos corporativos FT-GTI-002"
    header = [c.value for c in sheet[3]]
    row = dict(zip(header, [c.value for c in sheet[4]]))
    assert row["Cuenta"] == "jperez@putumayo.gov.co" and row["Estado"] == "activa"
    assert row["Funcionario"] == "Juan Carlos Pérez Rosero" and row["Radicado"] == radicado(1)
    assert row["Decidió"].startswith("Ana Pérez") and row["Fecha de creación"]
    changes = wb["Cambios"]
    assert [c.value for c in changes[2]][1:4] == ["jperez@putumayo.gov.co", "creación", radicado(1)]


def test_the_blank_ft_gti_006_reads_back_by_its_labels(tmp_path):
    env = office(tmp_path)
    target = tmp_path / "blanco.xlsx"
    assert helpdesk(env, "form-template", str(target), "--procedure", "cuentas-correo").returncode == 0
    ws = openpyxl.load_workbook(target)["Solicitud"]
    labels = [r[0].value for r in ws.iter_rows() if r[0].value]
    assert labels[0].startswith("FT-GTI-006")
    assert "3. Solicitud" in labels and "Tipo de solicitud *" in labels
    lists = [dv.formula1 for dv in ws.data_validations.dataValidation]
    assert '"Creación,Modificación,Eliminación"' in lists


@pytest.mark.parametrize("key, value, message", [
    ("action", '"account"\nresult_to = "no_existe"', "result_to: campo desconocido «no_existe» del formato"),
])
def test_a_broken_account_procedure_names_file_and_key(tmp_path, key, value, message):
    import shutil

    from helpdesk.rules import RULES_DIR

    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules)
    path = rules / "procedures" / "cuentas-correo" / "procedure.toml"
    text_ = path.read_text(encoding="utf-8").replace('result_to = "official_email"\n', "")
    path.write_text(text_.replace('action = "account"', f"{key} = {value}"), encoding="utf-8")
    config = write_config(tmp_path / "config.toml", embedded_sections(rules={"path": str(rules)}))
    check = run_helpdesk("--config", config, "check", timeout=60)
    assert check.returncode == 1 and f"{path}: {message}" in check.stdout
