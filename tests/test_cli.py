"""The CLI through a real subprocess: exit codes, Spanish output, JSON shapes."""

import json
from pathlib import Path

import pytest

from . import mails
from .conftest import Embedded, copy_checkout, run_helpdesk

ROOT = Path(__file__).resolve().parent.parent


def helpdesk(*args, cwd=None):
    return run_helpdesk(*args, cwd=cwd)


def test_run_once_tickets_and_show_json(tmp_path):
    env = Embedded(tmp_path)
    env.deliver(mails.request(subject="Reinicio de clave – Alcaldía"))
    cfg = str(env.config_path)
    result = helpdesk("--config", cfg, "run", "--once")
    assert result.returncode == 0, result.stderr
    assert "Mensajes procesados: 1" in result.stdout

    listing = json.loads(helpdesk("--config", cfg, "tickets", "--json").stdout)
    [ticket] = listing
    for key in ("radicado", "state", "sender", "subject", "entity_name", "entity_nit", "legal_rep_name",
                "legal_rep_email", "created_at", "updated_at"):
        assert key in ticket
    assert ticket["subject"] == "Reinicio de clave – Alcaldía"

    shown = json.loads(helpdesk("--config", cfg, "show", ticket["radicado"], "--json").stdout)
    for key in ("accounts", "documents", "problems", "warnings", "messages"):
        assert key in shown
    # The ack, then the examination's verdict: no documents were attached.
    assert [(m["direction"], m["kind"]) for m in shown["messages"]] == [("in", "request"), ("out", "ack"), ("out", "correction")]
    assert shown["state"] == "needs_correction"
    assert {p["code"] for p in shown["problems"]} == {"missing_signed_form", "missing_excel_form", "missing_acta_posesion"}
    assert set(shown["messages"][0]) >= {"direction", "message_id", "from", "to", "subject", "kind", "at"}

    text = helpdesk("--config", cfg, "show", ticket["radicado"]).stdout
    assert "Estado:" in text and "requiere corrección" in text


def test_show_unknown_radicado_exits_1_with_one_line(tmp_path):
    env = Embedded(tmp_path)
    result = helpdesk("--config", str(env.config_path), "show", "GEL-2026-999999")
    assert result.returncode == 1
    assert result.stderr.strip() == "Error: no existe el radicado GEL-2026-999999"


def test_failed_and_retry_commands(tmp_path):
    from .test_store import broken_templates

    templates = broken_templates(tmp_path)
    env = Embedded(tmp_path, replies={"templates": str(templates)})
    env.deliver(mails.request())
    cfg = str(env.config_path)
    assert helpdesk("--config", cfg, "run", "--once").returncode == 0
    listed = helpdesk("--config", cfg, "failed")
    assert "#1" in listed.stdout and "helpdesk retry" in listed.stdout
    assert helpdesk("--config", cfg, "retry", "1").returncode == 1  # still broken
    (templates / "ack.txt.j2").write_text("Radicado {{ radicado }}\n", encoding="utf-8")
    result = helpdesk("--config", cfg, "retry", "1")
    assert result.returncode == 0 and "procesado (new_ticket" in result.stdout
    # Examined at once, not at the next cycle: the ack, then the verdict (no documents attached).
    assert "estado: requiere corrección" in result.stdout
    assert "No hay mensajes en cuarentena." in helpdesk("--config", cfg, "failed").stdout
    assert env.kinds() == ["ack", "correction"]


def test_demo_runs_from_a_fresh_copy_without_servers(tmp_path):
    copy = tmp_path / "clone"
    copy_checkout(copy)  # what a clone holds: not a developer's venvs and caches (100+ MB here)
    result = helpdesk("demo", cwd=copy)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "radicado GEL-" in out and "acuse de recibo" in out
    assert "mensaje ya procesado" in out and "mensaje automático" in out
    assert "respuesta unida al radicado" in out
    assert "el dígito de verificación es 0, no 7" in out
    outbox = sorted(p.name.split("-", 1)[1] for p in (copy / "var" / "demo" / "outbox").glob("*.eml"))
    assert outbox == ["accepted.eml", "accepted.eml", "ack.eml", "ack.eml", "correction.eml", "correction.eml"]
    assert out.count("pendiente de aprobación") == 2


def test_form_template_writes_the_official_blank_form(tmp_path):
    import openpyxl

    target = tmp_path / "formato.xlsx"
    result = helpdesk("form-template", str(target))
    assert result.returncode == 0 and "Formato escrito" in result.stdout
    wb = openpyxl.load_workbook(target)
    assert wb.sheetnames == ["Solicitud", "Instrucciones"]
    ws = wb["Solicitud"]
    labels = {c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    assert {"1.1 Datos de la entidad", "1.2 Datos del representante legal",
            "2. Cuentas a las que se solicita reinicio de clave", "NIT", "Correo electrónico", "Tipo", "Cuenta"} <= labels
    lists = [dv.formula1 for dv in ws.data_validations.dataValidation]
    assert '"Correo electrónico,Usuario de página web"' in lists
    assert any("Cédula de ciudadanía" in f for f in lists)
    # Cargo offers the four legal representatives of seed 000, warning on any other value.
    [cargo_row] = [c.row for c in ws["A"] if c.value == "Cargo"]
    [cargo] = [dv for dv in ws.data_validations.dataValidation if f"B{cargo_row}" in str(dv.sqref)]
    assert cargo.formula1 == ('"Alcalde,Gobernador,Presidente del Concejo municipal,'
                              'Presidente de la Asamblea departamental"')
    assert cargo.errorStyle == "warning"
    assert "Nunca le pediremos su contraseña" in " ".join(str(c.value) for c in wb["Instrucciones"]["A"])
    # The printed form says where to sign: a line, and under it the label
    # the scan's reading finds the signature by, apart from the accounts.
    [label_row] = [c.row for c in ws["A"] if c.value == "Firma del representante legal"]
    [header_row] = [c.row for c in ws["A"] if c.value == "Tipo"]
    assert label_row > header_row + 10 and ws.cell(label_row - 1, 1).border.bottom.style == "thin"
    bad = helpdesk("form-template", str(tmp_path / "formato.pdf"))
    assert bad.returncode == 2 and "xlsx" in bad.stderr


def test_a_command_forked_by_the_suite_answers_as_a_fresh_interpreter_does(tmp_path):
    """conftest.run_helpdesk forks most commands from a process that already
    imported helpdesk (tests/cli_zygote.py): the same exit code, stdout and
    stderr as ``python -m helpdesk``, with the environment and folder given."""
    import os
    import subprocess
    import sys

    from . import cli_zygote

    env = Embedded(tmp_path / "desk")
    env.deliver(mails.request(subject="Clave – Alcaldía"))
    env.run_once()
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "HELPDESK_CONFIG": str(env.config_path)}
    assert cli_zygote.usable(environment)
    codes = {}
    for args, cwd in ((["tickets"], tmp_path), (["show", "GEL-2026-999999"], tmp_path), (["--help"], ROOT),
                      (["queue", "--config", "no-existe.toml"], tmp_path), (["aprobar"], tmp_path)):
        forked = cli_zygote.run(args, cwd, environment, None, 60)
        fresh = subprocess.run([sys.executable, "-m", "helpdesk", *args], capture_output=True, text=True, cwd=cwd,
                               env=environment, timeout=60)
        assert (forked.returncode, forked.stdout, forked.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)
        codes[args[0]] = forked.returncode
        if args == ["tickets"]:
            assert "1 solicitud." in forked.stdout  # the desk of HELPDESK_CONFIG, from the environment given
    assert codes == {"tickets": 0, "show": 1, "--help": 0, "queue": 2, "aprobar": 2}
    for run in (lambda: cli_zygote.run(["--help"], tmp_path / "no-existe", environment, None, 60),
                lambda: subprocess.run([sys.executable, "-m", "helpdesk", "--help"], cwd=tmp_path / "no-existe")):
        with pytest.raises(FileNotFoundError):  # a folder that does not exist: as subprocess says it
            run()
    # What Python reads at start cannot be changed in a fork: a fresh interpreter runs it.
    assert not cli_zygote.usable({**environment, "PYTHONTZPATH": ""})
