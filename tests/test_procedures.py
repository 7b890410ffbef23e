"""Procedures as data (issue 12, CONTRACT §9): a procedure is a folder of
rules/procedures/ naming its documents, checks, action and radicado prefix;
a request is routed by the address it was sent to, and its ticket keeps its
procedure. The second procedure here is a test one: what matters is that
nothing in the code knows its name."""

from __future__ import annotations

import json
import shutil
from datetime import datetime

from helpdesk.rules import RULES_DIR

from . import forms, mails
from .conftest import Embedded, embedded_sections, run_helpdesk, write_config
from .test_e2e_documents import XLSX

PRUEBA = """
name = "Trámite de prueba"
radicado_prefix = "PRB"
documents = ["excel_form"]
checks = ["documents_present", "readable", "form_fields"]
action = "reset"
result_to = "legal_rep_email"
"""
PRUEBA_ADDRESS = "prueba@entidad.gov.co"
YEAR = datetime.now().year


def rules_with(tmp_path, name: str, text: str):
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules)
    (rules / "procedures" / name).mkdir()
    (rules / "procedures" / name / "procedure.toml").write_text(text, encoding="utf-8")
    return rules


def two_procedures(tmp_path) -> Embedded:
    rules = rules_with(tmp_path, "prueba", PRUEBA)
    return Embedded(tmp_path / "h", rules={"path": str(rules)},
                    procedures={"prueba": {"addresses": [PRUEBA_ADDRESS.upper()]}})


def sent_to(address: str, header: str = "To", **kwargs) -> bytes:
    raw = mails.request(**kwargs)
    if header == "To":
        return raw.replace(f"To: {mails.SUPPORT}".encode(), f"To: {address}".encode(), 1)
    return f"{header}: {address}\r\n".encode() + raw


def helpdesk(env: Embedded, *args):
    return run_helpdesk("--config", env.config_path, *args, timeout=60)


def test_a_request_goes_to_the_procedure_of_the_address_it_was_sent_to(tmp_path):
    env = two_procedures(tmp_path)
    excel = forms.filled_template(tmp_path)
    env.deliver(sent_to(PRUEBA_ADDRESS, attachments=[("formato.xlsx", excel, XLSX)]))
    env.deliver(mails.request(sender="otra@alcaldia-prueba.gov.co"))
    # Sent with Bcc: only the server's Delivered-To names our address.
    env.deliver(sent_to(PRUEBA_ADDRESS, "Delivered-To", sender="bcc@alcaldia-prueba.gov.co"))
    env.run_once()
    rows = {r["radicado"]: (r["procedure"], r["state"]) for r in env.store.query(
        "SELECT radicado, procedure, state FROM tickets")}
    assert rows == {
        # Its documents and checks are its own: only the Excel form is asked for.
        f"PRB-{YEAR}-000001": ("prueba", "pending_approval"),
        # The default procedure keeps its own gapless sequence.
        f"GEL-{YEAR}-000001": ("reinicio-claves", "needs_correction"),
        f"PRB-{YEAR}-000002": ("prueba", "needs_correction"),
    }
    problems = {(r["radicado"][-1], r["code"]) for r in env.store.query(
        "SELECT t.radicado, f.code FROM findings f JOIN tickets t ON t.id = f.ticket_id "
        "WHERE t.radicado LIKE 'PRB%' AND f.severity = 'problem'")}
    assert problems == {("2", "missing_excel_form")}  # never the signed form or the acta


def test_a_reply_stays_with_its_tickets_procedure(tmp_path):
    env = two_procedures(tmp_path)
    env.deliver(sent_to(PRUEBA_ADDRESS))
    env.run_once()
    # Answered to the default address (the ack's Reply-To), by Message-ID and by the subject tag.
    env.deliver(mails.reply_to(env.acks_raw()[0]))
    env.deliver(mails.request(subject=f"Re: [Radicado PRB-{YEAR}-000001] documentos"))
    outcomes = env.run_once()
    assert [o.action for o in outcomes] == ["joined", "joined"]
    assert env.store.one("SELECT count(*), min(procedure) FROM tickets")[:] == (1, "prueba")


def test_tickets_show_queue_and_procedures_name_the_procedure(tmp_path):
    env = two_procedures(tmp_path)
    env.deliver(sent_to(PRUEBA_ADDRESS))
    env.deliver(mails.request(sender="otra@alcaldia-prueba.gov.co"))
    env.run_once()
    listed = json.loads(helpdesk(env, "tickets", "--procedure", "prueba", "--json").stdout)
    assert [(t["radicado"], t["procedure"]) for t in listed] == [(f"PRB-{YEAR}-000001", "prueba")]
    unknown = helpdesk(env, "tickets", "--procedure", "nada")
    assert unknown.returncode == 2 and "no existe el trámite «nada»; hay: cambio-correo, cuentas-correo, desbloqueo, prueba, reinicio-claves" in unknown.stderr
    assert "Trámite:       Trámite de prueba (prueba)" in helpdesk(env, "show", f"PRB-{YEAR}-000001").stdout
    assert json.loads(helpdesk(env, "show", f"GEL-{YEAR}-000001", "--json").stdout)["procedure"] == "reinicio-claves"
    procedures = {p["id"]: p for p in json.loads(helpdesk(env, "procedures", "--json").stdout)}
    assert procedures["prueba"]["addresses"] == [PRUEBA_ADDRESS] and procedures["prueba"]["documents"] == ["excel_form"]
    assert procedures["reinicio-claves"]["default"] is True and procedures["reinicio-claves"]["addresses"] == []
    assert procedures["reinicio-claves"]["documents"] == ["signed_form", "excel_form", "acta_posesion"]


def test_a_broken_procedure_is_refused_with_its_file_and_key_and_a_reload_keeps_the_old_set(tmp_path):
    env = two_procedures(tmp_path)
    broken = tmp_path / "rules" / "procedures" / "prueba" / "procedure.toml"
    broken.write_text(PRUEBA.replace('"form_fields"]', '"form_fields", "adivinar"]'), encoding="utf-8")
    check = helpdesk(env, "check")
    assert check.returncode == 1
    assert f"{broken}: checks: comprobación desconocida «adivinar»" in check.stdout
    assert env.daemon.reload() is False  # the daemon started with the good file keeps it
    assert env.daemon.rules.procedures["prueba"].checks == ("documents_present", "readable", "form_fields")
    broken.write_text(PRUEBA.replace("action = ", "accion = "), encoding="utf-8")
    run = helpdesk(env, "run", "--once")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert f"{broken}: accion: clave desconocida" in run.stderr


def test_a_configured_procedure_that_does_not_exist_is_named_by_its_key(tmp_path):
    config = write_config(tmp_path / "config.toml", embedded_sections(
        procedures={"cuentas": {"addresses": ["cuentas@entidad.gov.co"]}}))
    check = run_helpdesk("--config", config, "check", timeout=60)
    assert check.returncode == 1
    assert "procedures.cuentas: no existe el trámite «cuentas» (hay: cambio-correo, cuentas-correo, desbloqueo, reinicio-claves)" in check.stdout


def test_the_blank_form_of_a_procedure(tmp_path):
    env = two_procedures(tmp_path)
    written = helpdesk(env, "form-template", str(tmp_path / "f.xlsx"), "--procedure", "reinicio-claves")
    assert written.returncode == 0 and (tmp_path / "f.xlsx").exists()
    # A procedure that reads the rules folder's form writes that one.
    shared = helpdesk(env, "form-template", str(tmp_path / "g.xlsx"), "--procedure", "prueba")
    assert shared.returncode == 0 and (tmp_path / "g.xlsx").read_bytes()[:2] == b"PK"
    # One that asks for no spreadsheet has no blank form.
    (tmp_path / "rules" / "procedures" / "prueba" / "procedure.toml").write_text(
        PRUEBA.replace('["excel_form"]', '["signed_form"]'), encoding="utf-8")
    none = helpdesk(env, "form-template", str(tmp_path / "h.xlsx"), "--procedure", "prueba")
    assert none.returncode == 1 and "el trámite prueba no tiene un formato en blanco" in none.stderr


def test_a_procedure_overrides_the_emails_it_needs_in_its_own_template_folder(tmp_path):
    from helpdesk.config import Config

    templates = tmp_path / "templates"
    shutil.copytree(Config().templates_dir, templates)
    (templates / "prueba").mkdir()
    (templates / "prueba" / "ack.txt.j2").write_text(
        "Trámite de prueba, radicado {{ radicado }}.\n{% include \"_footer.txt.j2\" -%}\n", encoding="utf-8")
    rules = rules_with(tmp_path, "prueba", PRUEBA)
    env = Embedded(tmp_path / "h", rules={"path": str(rules)}, replies={"templates": str(templates)},
                   procedures={"prueba": {"addresses": [PRUEBA_ADDRESS]}})
    env.deliver(sent_to(PRUEBA_ADDRESS))
    env.deliver(mails.request(sender="otra@alcaldia-prueba.gov.co"))
    env.run_once()
    acks = {m["X-Helpdesk-Radicado"]: m for m in env.acks()}
    own = acks[f"PRB-{YEAR}-000001"]
    assert own.get_body(("plain",)).get_content().startswith(f"Trámite de prueba, radicado PRB-{YEAR}-000001.")
    assert "Hemos recibido su solicitud" in own.get_body(("html",)).get_content()  # not overridden: the shared one
    assert "Hemos recibido su solicitud" in acks[f"GEL-{YEAR}-000001"].get_body(("plain",)).get_content()
    # check renders the override with sample data too, and names it when it fails.
    (templates / "prueba" / "ack.txt.j2").write_text("{{ no_existe }}\n", encoding="utf-8")
    check = helpdesk(env, "check")
    assert check.returncode == 1 and "prueba/ack.txt.j2" in check.stdout


def test_a_procedure_words_its_own_problems(tmp_path):
    rules = rules_with(tmp_path, "prueba", PRUEBA)
    (rules / "procedures" / "prueba" / "problems.toml").write_text(
        '[problems.missing_excel_form]\ntext = "Para este trámite adjunte la hoja de cálculo diligenciada."\n',
        encoding="utf-8")
    env = Embedded(tmp_path / "h", rules={"path": str(rules)}, procedures={"prueba": {"addresses": [PRUEBA_ADDRESS]}})
    env.deliver(sent_to(PRUEBA_ADDRESS))
    env.deliver(mails.request(sender="otra@alcaldia-prueba.gov.co"))
    env.run_once()
    corrections = {m["X-Helpdesk-Radicado"]: m.get_body(("plain",)).get_content()
                   for m in env.sent() if m["X-Helpdesk-Kind"] == "correction"}
    assert "Para este trámite adjunte la hoja de cálculo diligenciada." in corrections[f"PRB-{YEAR}-000001"]
    shared = corrections[f"GEL-{YEAR}-000001"]
    assert "Falta el formato de solicitud en Excel (.xlsx)" in shared and "Para este trámite" not in shared


def test_a_procedure_prefix_equal_to_the_default_one_is_refused(tmp_path):
    rules = rules_with(tmp_path, "prueba", PRUEBA.replace('"PRB"', '"gel"'))
    config = write_config(tmp_path / "config.toml", embedded_sections(rules={"path": str(rules)}))
    check = run_helpdesk("--config", config, "check", timeout=60)
    assert check.returncode == 1 and "radicado_prefix: «GEL» es el de [radicado] prefix" in check.stdout
