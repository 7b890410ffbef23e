"""Staff screens in Spanish and in the office's time: click's own texts,
state and finding labels, --state in Spanish, --config after the
subcommand, times and stats days in [site] timezone."""

import ast
import importlib
import importlib.metadata
import inspect
import json
import pkgutil
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import pytest

import helpdesk
from helpdesk import cli_es
from helpdesk.operations import stats
from helpdesk.rules import WARNING_CODES, load_documents, load_problems, load_trust
from helpdesk.staff import labels

from . import mails
from .conftest import Embedded, embedded_sections, run_helpdesk, write_config
from .test_staff import high_risk_pending, pending


def test_every_translated_text_is_one_click_still_has():
    # An upgrade of click that rewords a text would silently bring English back.
    source = "".join(inspect.getsource(__import__(name, fromlist=["_"])) for name in cli_es.MODULES)
    missing = [t for t in cli_es.TEXTS if repr(t)[1:-1] not in source and t not in source]
    missing += [p for pair in cli_es.PLURALS for p in pair if p not in source]
    assert missing == []


def test_usage_errors_speak_spanish_and_exit_2(tmp_path):
    env = Embedded(tmp_path)
    cfg = str(env.config_path)
    no_arg = run_helpdesk("--config", cfg, "show")
    assert no_arg.returncode == 2
    assert "Uso: helpdesk show [OPCIONES] RADICADO" in no_arg.stderr and "Falta el argumento" in no_arg.stderr
    unknown = run_helpdesk("--config", cfg, "aprobar")
    assert unknown.returncode == 2 and "No existe el comando 'aprobar'" in unknown.stderr
    missing_option = run_helpdesk("--config", cfg, "reject", "GEL-2026-000001", "--by", "Ana")
    assert missing_option.returncode == 2 and "Falta la opción '--reason'" in missing_option.stderr
    helped = run_helpdesk("approve", "--help")
    assert "Opciones:" in helped.stdout and "Muestra esta ayuda y termina." in helped.stdout
    assert "Usage" not in helped.stdout + no_arg.stderr + unknown.stderr


def test_config_works_after_the_subcommand(tmp_path):
    env = Embedded(tmp_path / "h")
    env.deliver(mails.request())
    env.run_once()
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    listed = run_helpdesk("tickets", "--json", "--config", str(env.config_path), cwd=elsewhere)
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 1
    shown = run_helpdesk("show", "GEL-2026-000001", "--config", str(env.config_path), cwd=elsewhere)
    assert shown.returncode == 0 and "Radicado:      GEL-2026-000001" in shown.stdout


def test_every_command_takes_config_after_it():
    from helpdesk.cli import cli

    assert {name for name, command in cli.commands.items()
            if "--config" not in {o for p in command.params for o in p.opts}} == set()


def test_state_filter_takes_spanish_names_and_the_contract_codes(tmp_path):
    env = Embedded(tmp_path)
    env.deliver(mails.request())
    env.run_once()
    cfg = str(env.config_path)
    for name in ("por-corregir", "requiere corrección", "NEEDS_CORRECTION", "needs_correction"):
        rows = json.loads(run_helpdesk("--config", cfg, "tickets", "--state", name, "--json").stdout)
        assert [r["state"] for r in rows] == ["needs_correction"], name
    assert json.loads(run_helpdesk("--config", cfg, "tickets", "--state", "pendiente", "--json").stdout) == []
    wrong = run_helpdesk("--config", cfg, "tickets", "--state", "abierta")
    assert wrong.returncode == 2 and "no es un estado" in wrong.stderr
    text = run_helpdesk("--config", cfg, "tickets").stdout
    assert "requiere corrección" in text and "needs_correction" not in text


def test_times_show_in_bogota_and_json_keeps_utc(tmp_path):
    env = Embedded(tmp_path)
    env.deliver(mails.request())
    env.run_once()
    with env.store.transaction() as conn:  # arrived at 03:10 UTC: 22:10 the evening before in Bogotá
        conn.execute("UPDATE tickets SET created_at = '2026-11-28T03:10:00+00:00'")
    cfg = str(env.config_path)
    assert "27/11/2026 22:10" in run_helpdesk("--config", cfg, "tickets").stdout
    assert "Recibida:      27/11/2026 22:10" in run_helpdesk("--config", cfg, "show", "GEL-2026-000001").stdout
    [row] = json.loads(run_helpdesk("--config", cfg, "tickets", "--json").stdout)
    assert row["created_at"] == "2026-11-28T03:10:00+00:00"


def test_another_zone_is_used_where_configured(tmp_path):
    env = Embedded(tmp_path, site={"timezone": "Europe/Madrid"})
    env.deliver(mails.request())
    env.run_once()
    with env.store.transaction() as conn:
        conn.execute("UPDATE tickets SET created_at = '2026-11-28T03:10:00+00:00'")
    assert "28/11/2026 04:10" in run_helpdesk("--config", str(env.config_path), "tickets").stdout


def test_an_unknown_zone_is_a_one_line_error_naming_the_key(tmp_path):
    env = Embedded(tmp_path / "ok")
    bad = env.config_path.read_text(encoding="utf-8") + '\n[site]\ntimezone = "America/Bogotá"\n'
    (tmp_path / "bad.toml").write_text(bad, encoding="utf-8")
    result = run_helpdesk("--config", str(tmp_path / "bad.toml"), "tickets")
    assert result.returncode == 2 and "site.timezone" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("zone, day", [("America/Bogota", "2026-11-27"), ("UTC", "2026-11-28")])
def test_stats_count_days_in_the_office_zone(tmp_path, zone, day):
    env = Embedded(tmp_path)
    env.deliver(mails.request())
    env.run_once()
    with env.store.transaction() as conn:
        conn.execute("UPDATE tickets SET created_at = '2026-11-28T03:10:00+00:00'")
    at = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
    figures = stats.compute(env.store, 3, at=at, zone=ZoneInfo(zone))
    assert figures.per_day[day] == 1 and sum(figures.per_day.values()) == 1
    assert f"fechas de {zone}" in "\n".join(stats.report(figures))


def test_click_is_translated_only_through_the_table():
    assert cli_es.gettext("Usage:") == "Uso:"
    assert cli_es.gettext("a text click may add one day") == "a text click may add one day"
    import helpdesk.cli  # noqa: F401  installs the table

    assert click.core._ is cli_es.gettext and click.exceptions.ngettext is cli_es.ngettext


def test_every_zone_works_on_a_machine_without_a_zone_database(tmp_path):
    # PYTHONTZPATH="" hides /usr/share/zoneinfo, as on a slim container:
    # the tzdata package, a dependency of ours, still has every zone.
    assert any(r.startswith("tzdata") for r in importlib.metadata.requires("helpdesk"))
    env = Embedded(tmp_path, site={"timezone": "Europe/Madrid"})
    env.deliver(mails.request())
    env.run_once()
    with env.store.transaction() as conn:
        conn.execute("UPDATE tickets SET created_at = '2026-11-28T03:10:00+00:00'")
    listed = run_helpdesk("--config", str(env.config_path), "tickets", env={"PYTHONTZPATH": ""})
    assert listed.returncode == 0, listed.stderr
    assert "28/11/2026 04:10" in listed.stdout


@pytest.mark.parametrize("name", ["America", "", "/etc/localtime", "../zoneinfo/UTC", "x" * 5000])
def test_a_name_that_is_no_zone_is_a_config_error_not_a_traceback(tmp_path, name):
    # A folder of the database, a path, a name too long for the file system:
    # zoneinfo raises something other than "not found" for each.
    config_path = write_config(tmp_path / "config.toml", embedded_sections(site={"timezone": name}))
    result = run_helpdesk("--config", str(config_path), "tickets")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "site.timezone: zona horaria desconocida" in result.stderr and len(result.stderr.splitlines()) == 1


def test_click_modules_that_translate_are_all_covered():
    # A click release that moves texts into a new module would bring English back there.
    translating = {f"click.{m.name}" for m in pkgutil.iter_modules(click.__path__)
                   if m.name != "_winconsole" and hasattr(importlib.import_module(f"click.{m.name}"), "_")}
    assert translating == set(cli_es.MODULES) | set(cli_es.UNTRANSLATED)


def test_show_and_queue_name_states_and_findings_in_spanish(tmp_path):
    env = Embedded(tmp_path / "h")
    radicado = high_risk_pending(env, tmp_path)
    cfg = str(env.config_path)
    shown = run_helpdesk("--config", cfg, "show", radicado).stdout
    assert "Estado:        pendiente de aprobación" in shown
    assert "  - cambió el correo del representante legal (legal_rep_email_changed): antes a@x.gov.co" in shown
    queued = run_helpdesk("--config", cfg, "queue").stdout
    assert f"{radicado}  hace menos de una hora  pendiente de aprobación" in queued
    assert "cambió el correo del representante legal (legal_rep_email_changed)" in queued
    assert "pending_approval" not in shown + queued
    [item] = json.loads(run_helpdesk("--config", cfg, "queue", "--json").stdout)
    assert item["state"] == "pending_approval" and "legal_rep_email_changed" in {w["code"] for w in item["warnings"]}


def _finding_codes() -> set[str]:
    """Every finding code the package can record: literal codes given to
    Finding(...) or add_finding(...), missing_<kind> for each document kind,
    and the high-risk codes approve looks for."""
    codes = set(load_trust().high_risk()) | set(load_problems()) | {f"missing_{kind}" for kind in load_documents().kinds}
    for path in Path(helpdesk.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                position = {"Finding": 1, "add_finding": 3}.get(node.func.id)
                if position is not None and len(node.args) > position:
                    arg = node.args[position]
                    if isinstance(arg, ast.Constant):
                        codes.add(arg.value)
    return codes


def test_every_finding_code_has_a_spanish_label_and_every_warning_a_weight():
    codes = _finding_codes()
    assert {"unreadable_document", "reply_cap_reached", "missing_acta_posesion"} <= codes  # the scan finds them
    # A problem is labelled in staff/labels.py; a warning, with its weight, in rules/trust.toml.
    assert sorted(c for c in codes if c not in labels.CODE_LABELS and c not in load_trust().warnings) == []
    # ... and every warning the package raises is one rules.WARNING_CODES knows, as the shipped file does.
    assert sorted(c for c in codes if c not in labels.CODE_LABELS and c not in WARNING_CODES) == []
    assert set(load_trust().warnings) == set(WARNING_CODES)


def test_stats_screen_shows_days_for_people(tmp_path):
    env = Embedded(tmp_path)
    env.deliver(mails.request())
    bogota = ZoneInfo("America/Bogota")
    before = datetime.now(bogota).strftime("%d/%m/%Y")
    env.run_once()
    text = run_helpdesk("--config", str(env.config_path), "stats", "--days", "2").stdout
    after = datetime.now(bogota).strftime("%d/%m/%Y")  # the same day, unless midnight passed meanwhile
    assert f"  {before}  1" in text or f"  {after}  1" in text
    assert "requiere corrección" in text and "needs_correction" not in text


# -- counts, ages, empty forms, headings and the next command (issue 25, item 10) --


def test_queue_and_show_count_in_words_and_say_which_command_comes_next(tmp_path):
    env = Embedded(tmp_path / "h")
    radicado = pending(env, tmp_path)
    cfg = str(env.config_path)
    queued = run_helpdesk("--config", cfg, "queue").stdout.splitlines()
    assert queued[0] == "1 solicitud en espera:"
    assert queued[2] == f"{radicado}  hace menos de una hora  pendiente de aprobación"
    assert queued[-1] == f'Siguiente: helpdesk review --by "Su nombre" (las recorre una a una), o helpdesk show {radicado}'
    shown = run_helpdesk("--config", cfg, "show", radicado).stdout.splitlines()
    assert shown[-1] == (f'Siguiente: helpdesk approve {radicado} --by "Su nombre", o helpdesk reject {radicado} '
                         '--by "Su nombre" --reason "…" (o correct, para pedir una corrección)')
    assert run_helpdesk("--config", cfg, "approve", radicado, "--by", "Ana", "--yes").returncode == 0
    shown = run_helpdesk("--config", cfg, "show", radicado).stdout.splitlines()
    assert shown[-1] == (f'Siguiente: nada: la solicitud está cerrada (helpdesk reopen {radicado} --by "Su nombre" '
                         "si la entidad envía documentos nuevos)")


def test_a_ticket_without_a_form_says_so_instead_of_dashes(tmp_path):
    env = Embedded(tmp_path / "h")
    env.deliver(mails.request(body="Buenos días, ¿me pueden llamar?"))
    [outcome] = env.run_once()
    env.deliver(mails.reply_to(env.sent_raw()[-1], body="Sigo esperando su llamada."))
    env.run_once()
    cfg = str(env.config_path)
    queued = run_helpdesk("--config", cfg, "queue").stdout
    block = queued.split(f"\n{outcome.radicado}  ", 1)[1].split("\n\n", 1)[0].splitlines()
    assert block[3:6] == ["  Trámite:       Reinicio de claves de correo electrónico y usuarios de páginas web "
                          "(reinicio-claves)", "  Formato:       sin formulario", "  Advertencias:  0"]
    shown = run_helpdesk("--config", cfg, "show", outcome.radicado).stdout.splitlines()
    assert shown[-1] == (f'Siguiente: helpdesk reply {outcome.radicado} --by "Su nombre" --message "…" '
                         "(responde el mensaje nuevo)")


def test_tickets_has_column_headings(tmp_path):
    import re

    env = Embedded(tmp_path / "h")
    radicado = pending(env, tmp_path)
    cfg = str(env.config_path)
    listed = run_helpdesk("--config", cfg, "tickets").stdout.splitlines()
    assert listed[0] == ("Radicado         Estado                   Recibida          Trámite          "
                         "Remitente                        Entidad             Término")
    shown = run_helpdesk("--config", cfg, "show", radicado).stdout
    received = re.search(r"\nRecibida: +(.+)\n", shown).group(1)
    term = re.search(r"\nTérmino: +(.+)\n", shown).group(1)
    assert re.split(r"  +", listed[1]) == [radicado, "pendiente de aprobación", received, "reinicio-claves",
                                           mails.ENTITY, "Alcaldía de Prueba", term]
    assert listed[2:] == ["", "1 solicitud. Para ver una: helpdesk show RADICADO"]


def test_the_demo_ends_with_the_commands_that_come_next(tmp_path):
    result = run_helpdesk("demo", "--dir", tmp_path / "demo", cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    helpdesk = f"helpdesk --config {tmp_path / 'demo' / 'config.toml'}"
    assert result.stdout.splitlines()[-3:] == [
        f"Siguiente: {helpdesk} queue   (lo que espera una decisión)",
        f"Después:   {helpdesk} show RADICADO   (una solicitud completa)",
        f'           {helpdesk} review --by "Su nombre"   (decidir una a una)']
