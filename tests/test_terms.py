"""Legal terms end to end (CONTRACT 12, Ley 1755 de 2015), with an injected
clock: HELPDESK_NOW (store.now) sets the time of the daemon here and of the
CLI in its subprocesses, so weeks pass in seconds.

The dates are counted by hand on Colombia's 2026-2027 calendar (holidays:
8 and 25 December, 1 and 11 January, 17 August)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

import pytest

from helpdesk import localtime
from helpdesk.errors import ConfigError
from helpdesk.operations import metrics
from helpdesk.rules import load_all
from helpdesk.terms.office import office_of

from . import forms, mails
from .conftest import Embedded, embedded_sections, run_helpdesk, write_config
from .test_e2e_documents import documents

BOGOTA = localtime.zone("America/Bogota")
NOTIFY = "coordinacion@entidad.gov.co"


def at(monkeypatch, local: str) -> None:
    """Set the clock to ``local`` (YYYY-MM-DD HH:MM), Bogotá's time."""
    moment = datetime.fromisoformat(local).replace(tzinfo=BOGOTA)
    monkeypatch.setenv("HELPDESK_NOW", moment.isoformat())


@pytest.fixture
def env(tmp_path, monkeypatch):
    # OCR off: the scans of the test documents are left for staff
    # (scan_not_read), so a complete request is pending_approval whatever
    # the OCR engine reads.
    monkeypatch.setenv("HELPDESK_NOW", "2026-12-01T15:00:00+00:00")
    helpdesk = Embedded(tmp_path / "hd", documents={"ocr": False},
                        terms={"notify": [NOTIFY], "digest_hour": 8})
    yield helpdesk
    helpdesk.daemon.close()
    helpdesk.store.close()


def complete_request(env: Embedded, tmp_path) -> bytes:
    return mails.request(attachments=documents(tmp_path, excel=forms.filled_template(tmp_path)))


def open_ticket(env: Embedded, raw: bytes, state: str) -> str:
    env.deliver(raw)
    [outcome] = env.run_once()
    assert env.store.one("SELECT state FROM tickets WHERE radicado = ?", (outcome.radicado,))[0] == state
    return outcome.radicado


def cli(env: Embedded, *args):
    return run_helpdesk("--config", env.config_path, *args, timeout=60)


def shown(env: Embedded, radicado: str) -> dict:
    result = cli(env, "show", radicado, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def of_kind(env: Embedded, kind: str) -> list:
    return [m for m in env.sent() if m["X-Helpdesk-Kind"] == kind]


# -- the due date ----------------------------------------------------------

def test_a_night_request_is_of_its_local_day_and_the_ack_names_its_due_date(env, tmp_path, monkeypatch):
    # Thursday 3 December 2026, 20:00 in Bogotá: already Friday in UTC. Day 1
    # is Friday 4; 8 and 25 December are holidays: day 15 is Monday 28.
    at(monkeypatch, "2026-12-03 20:00")
    radicado = open_ticket(env, complete_request(env, tmp_path), "pending_approval")
    [ack] = env.acks()
    assert "será respondida a más tardar el 28 de diciembre de 2026" in text_of(ack)
    view = shown(env, radicado)
    assert view["due"] == "2026-12-28" and view["business_days_left"] == 15


def test_a_request_on_saturday_counts_from_monday_and_is_overdue_the_business_day_after(env, tmp_path,
                                                                                          monkeypatch):
    # Saturday 5 December: Monday 7 is day 1, day 15 is Tuesday 29.
    at(monkeypatch, "2026-12-05 10:00")
    radicado = open_ticket(env, complete_request(env, tmp_path), "pending_approval")
    assert shown(env, radicado)["due"] == "2026-12-29"
    at(monkeypatch, "2026-12-29 09:00")
    queue = cli(env, "queue", "--json")
    [item] = json.loads(queue.stdout)
    assert (item["due"], item["business_days_left"]) == ("2026-12-29", 0)
    at(monkeypatch, "2026-12-30 09:00")
    assert shown(env, radicado)["business_days_left"] == -1
    screen = cli(env, "queue").stdout
    assert "vencida hace 1 día hábil" in screen and "\x1b[" not in screen  # no colour codes on a pipe


def test_a_holiday_bridge_is_skipped(env, tmp_path, monkeypatch):
    # Friday 14 August 2026, then the weekend and Monday 17 (Asunción): day 1
    # is Tuesday 18, day 15 Monday 7 September.
    at(monkeypatch, "2026-08-14 11:00")
    radicado = open_ticket(env, complete_request(env, tmp_path), "pending_approval")
    assert shown(env, radicado)["due"] == "2026-09-07"
    at(monkeypatch, "2026-08-17 11:00")
    assert shown(env, radicado)["business_days_left"] == 15  # the holiday spent none


def test_queue_lists_the_most_urgent_first(env, tmp_path, monkeypatch):
    at(monkeypatch, "2026-12-01 10:00")
    older = open_ticket(env, complete_request(env, tmp_path), "pending_approval")
    at(monkeypatch, "2026-12-02 10:00")
    newer = open_ticket(env, complete_request(env, tmp_path), "pending_approval")
    assert cli(env, "extend", older, "--by", "Ana", "--days", "3", "--reason", "Proveedor externo").returncode == 0
    at(monkeypatch, "2026-12-03 10:00")
    order = [t["radicado"] for t in json.loads(cli(env, "queue", "--json").stdout)]
    assert order == [newer, older]  # the older one was extended past the newer's due date


# -- the correction pause ----------------------------------------------------

def test_the_clock_stops_in_correction_and_resumes_with_the_days_spent(env, tmp_path, monkeypatch):
    # Tuesday 1 December, complete: due Wednesday 23. Staff ask for a
    # correction on Thursday 3 (2 days spent); the entity answers on
    # Wednesday 9: the 13 days left run from Thursday 10, to Tuesday 29.
    at(monkeypatch, "2026-12-01 10:00")
    radicado = open_ticket(env, complete_request(env, tmp_path), "pending_approval")
    assert shown(env, radicado)["due"] == "2026-12-23"
    at(monkeypatch, "2026-12-03 16:00")
    result = cli(env, "correct", radicado, "--by", "Ana", "--reason", "La firma no es legible")
    assert result.returncode == 0, result.stderr
    view = shown(env, radicado)
    assert view["state"] == "needs_correction" and view["due"] is None and view["business_days_left"] is None
    at(monkeypatch, "2026-12-09 10:00")
    [correction] = [raw for raw, m in zip(env.sent_raw(), env.sent()) if m["X-Helpdesk-Kind"] == "correction"]
    env.deliver(mails.reply_to(correction, attachments=documents(tmp_path, excel=forms.filled_template(tmp_path))))
    env.run_once()
    view = shown(env, radicado)
    assert view["state"] == "pending_approval" and view["due"] == "2026-12-29"


def test_reminder_then_withdrawal_after_the_correction_month_and_reopen(env, tmp_path, monkeypatch):
    # A request without documents on Friday 4 December: the correction goes
    # at once; the limit is Monday 4 January 2027, the reminder from
    # Thursday 24 December (31, 30, 29, 28 and 24: 25 and 1 are holidays).
    at(monkeypatch, "2026-12-04 10:00")
    radicado = open_ticket(env, mails.request(headers={"Reply-To": "otra@alcaldia-prueba.gov.co"}),
                           "needs_correction")
    assert of_kind(env, "correction")
    assert shown(env, radicado)["correction_limit"] == "2027-01-04"
    at(monkeypatch, "2026-12-23 18:00")
    env.run_once()
    assert not of_kind(env, "correction_reminder")
    at(monkeypatch, "2026-12-24 09:00")
    env.run_once()
    [reminder] = of_kind(env, "correction_reminder")
    assert reminder["To"] == "otra@alcaldia-prueba.gov.co"  # the requester, as for this procedure's correction
    assert "4 de enero de 2027" in text_of(reminder)
    at(monkeypatch, "2026-12-28 09:00")
    env.run_once()
    assert len(of_kind(env, "correction_reminder")) == 1  # once
    at(monkeypatch, "2027-01-04 23:00")
    env.run_once()
    assert env.store.one("SELECT state FROM tickets WHERE radicado = ?", (radicado,))[0] == "needs_correction"
    at(monkeypatch, "2027-01-05 07:00")
    env.run_once()
    assert shown(env, radicado)["state"] == "withdrawn"
    [withdrawn] = of_kind(env, "withdrawn")
    body = text_of(withdrawn)
    assert "queda cerrada y archivada" in body and "recurso de reposición" in body and "mensaje nuevo" in body
    env.run_once()
    assert len(of_kind(env, "withdrawn")) == 1
    result = cli(env, "reopen", radicado, "--by", "Ana")
    assert result.returncode == 0, result.stderr
    assert shown(env, radicado)["state"] in ("received", "needs_correction")


def test_a_handover_procedure_reminds_and_withdraws_to_the_from_address(tmp_path, monkeypatch):
    # desbloqueo hands over an account: reminders and verdicts go to From,
    # never to a Reply-To (CONTRACT 13).
    monkeypatch.setenv("HELPDESK_NOW", "2026-12-04T15:00:00+00:00")
    env = Embedded(tmp_path / "hd", documents={"ocr": False},
                   procedures={"desbloqueo": {"addresses": ["desbloqueo@entidad.gov.co"]}})
    try:
        raw = mails.request(headers={"Reply-To": "tercero@otro.example", "Delivered-To": "desbloqueo@entidad.gov.co"})
        env.deliver(raw)
        [outcome] = env.run_once()
        row = env.store.one("SELECT state, procedure FROM tickets WHERE radicado = ?", (outcome.radicado,))
        assert tuple(row) == ("needs_correction", "desbloqueo")
        at(monkeypatch, "2026-12-24 09:00")
        env.run_once()
        at(monkeypatch, "2027-01-05 09:00")
        env.run_once()
        sent = {m["X-Helpdesk-Kind"]: m["To"] for m in env.sent()}
        assert sent["correction_reminder"] == mails.ENTITY and sent["withdrawn"] == mails.ENTITY
    finally:
        env.daemon.close()
        env.store.close()


# -- extensions -------------------------------------------------------------

def test_extend_moves_the_due_date_tells_the_requester_and_refuses_too_long_or_too_late(env, tmp_path,
                                                                                        monkeypatch):
    at(monkeypatch, "2026-12-03 20:00")
    radicado = open_ticket(env, complete_request(env, tmp_path), "pending_approval")  # due 28 December
    at(monkeypatch, "2026-12-21 10:00")
    too_long = cli(env, "extend", radicado, "--by", "Ana", "--days", "16", "--reason", "Proveedor externo")
    assert too_long.returncode == 1 and "término inicial de 15 días hábiles" in too_long.stderr
    assert shown(env, radicado)["due"] == "2026-12-28" and not of_kind(env, "term_extended")
    ok = cli(env, "extend", radicado, "--by", "Ana Pérez", "--days", "5", "--reason", "El proveedor responde en enero")
    assert ok.returncode == 0, ok.stderr
    view = shown(env, radicado)
    assert view["due"] == "2027-01-05"  # 29, 30, 31 December, 4 and 5 January
    assert any(e["action"] == "término ampliado" and "Ana Pérez" in e["actor"] for e in view["events"])
    [extended] = of_kind(env, "term_extended")
    assert "5 de enero de 2027" in text_of(extended) and "El proveedor responde en enero" in text_of(extended)
    again = cli(env, "extend", radicado, "--by", "Ana", "--days", "11", "--reason", "Más tiempo")
    assert again.returncode == 1  # 5 of the 15 already used: 10 left
    assert again.stderr.splitlines() == [
        f"Error: la solicitud {radicado} solo puede ampliarse 10 días hábiles más: la ampliación no puede superar "
        "el término inicial de 15 días hábiles (ya se amplió 5) (Ley 1755 de 2015, art. 14 parágrafo); no se "
        "cambió nada"]
    at(monkeypatch, "2027-01-05 10:00")
    late = cli(env, "extend", radicado, "--by", "Ana", "--days", "1", "--reason", "Más tiempo")
    assert late.returncode == 1 and shown(env, radicado)["due"] == "2027-01-05"
    assert env.count("SELECT count(*) FROM term_extensions") == 1


# -- staff are warned ---------------------------------------------------------

def test_the_digest_goes_once_a_day_at_its_hour_even_after_a_restart(env, tmp_path, monkeypatch):
    at(monkeypatch, "2026-12-03 20:00")
    soon = open_ticket(env, complete_request(env, tmp_path), "pending_approval")  # due 28 December
    at(monkeypatch, "2026-12-04 10:00")
    later = open_ticket(env, complete_request(env, tmp_path), "pending_approval")  # due 29 December
    at(monkeypatch, "2026-12-23 07:30")  # before digest_hour
    env.run_once()
    assert not of_kind(env, "terms_digest")
    at(monkeypatch, "2026-12-23 08:05")
    env.run_once()
    [digest] = of_kind(env, "terms_digest")
    body = text_of(digest)
    assert digest["To"] == NOTIFY and body.index(soon) < body.index(later)
    assert "faltan 2 días hábiles" in body
    env.daemon.close()
    env.store.close()
    restarted = Embedded(env.root, documents={"ocr": False}, terms={"notify": [NOTIFY], "digest_hour": 8})
    try:
        at(monkeypatch, "2026-12-23 15:00")
        restarted.run_once()
        assert len(of_kind(restarted, "terms_digest")) == 1
        at(monkeypatch, "2026-12-24 08:00")
        restarted.run_once()
        assert len(of_kind(restarted, "terms_digest")) == 2
    finally:
        restarted.daemon.close()
        restarted.store.close()
        env.store = restarted.store  # the fixture closes these again, harmlessly
        env.daemon = restarted.daemon


def test_metrics_count_overdue_and_due_soon_and_stats_the_share_answered_in_term(env, tmp_path, monkeypatch):
    at(monkeypatch, "2026-12-03 20:00")
    answered = open_ticket(env, complete_request(env, tmp_path), "pending_approval")  # due 28 December
    at(monkeypatch, "2026-12-04 10:00")
    late = open_ticket(env, complete_request(env, tmp_path), "pending_approval")  # due 29 December
    at(monkeypatch, "2026-12-28 10:00")
    assert cli(env, "approve", answered, "--by", "Ana", "--yes").returncode == 0
    office = office_of(env.config, load_all(env.config.rules_dir).procedures)
    text = metrics.render(env.store, office, env.config.terms.warn_days)
    assert "helpdesk_tickets_overdue 0" in text and "helpdesk_tickets_due_soon 1" in text
    at(monkeypatch, "2026-12-30 10:00")
    text = metrics.render(env.store, office, env.config.terms.warn_days)
    assert "helpdesk_tickets_overdue 1" in text
    assert cli(env, "reject", late, "--by", "Ana", "--reason", "No corresponde").returncode == 0
    stats = cli(env, "stats", "--days", "30")
    line = next(l for l in stats.stdout.splitlines() if "término" in l)
    assert "50 % (1 de 2)" in line
    assert "trámite reinicio-claves: 50 % (1 de 2)" in stats.stdout and "mes 2026-12: 50 %" in stats.stdout


# -- configuration and migration ----------------------------------------------

def test_an_unknown_country_or_a_bad_extra_holiday_is_named(tmp_path):
    from helpdesk import config as config_mod

    for site, key in (({"country": "XX"}, "site.country"), ({"extra_holidays": ["2026-13-01"]},
                                                           "site.extra_holidays[0]")):
        path = write_config(tmp_path / "c.toml", embedded_sections(site=site))
        with pytest.raises(ConfigError, match=key.replace("[", r"\[")):
            config_mod.load(path)


def test_tickets_of_an_earlier_version_get_their_due_date_from_their_history(tmp_path):
    from helpdesk.store import MIGRATIONS, Store
    from helpdesk.terms.calendar import Calendar
    from helpdesk.terms.due import histories, term_of

    from .test_migrations import build

    path = tmp_path / "old.db"
    build(path, len(MIGRATIONS) - 1)
    conn = sqlite3.connect(path, isolation_level=None)
    # Received Tuesday 1 December, asked for a correction by staff on
    # Thursday 3, answered on Wednesday 9: due Tuesday 29 (as the live clock).
    conn.execute("INSERT INTO tickets(id, radicado, state, sender, requester, subject, created_at, updated_at) "
                 "VALUES (7, 'GEL-2026-000007', 'pending_approval', 'a@b.gov.co', 'a@b.gov.co', 'x', "
                 "'2026-12-01T15:00:00+00:00', '2026-12-09T15:00:00+00:00')")
    for when, action, detail in (("2026-12-01T15:00:01+00:00", "documentos examinados",
                                  "estado: pendiente de aprobación; problemas: 0"),
                                 ("2026-12-03T21:00:00+00:00", "corrección pedida", "La firma"),
                                 ("2026-12-09T15:00:00+00:00", "respuesta recibida", "RE: x"),
                                 ("2026-12-09T15:00:05+00:00", "documentos examinados",
                                  "estado: pendiente de aprobación; problemas: 0")):
        conn.execute("INSERT INTO events(ticket_id, at, actor, action, detail) VALUES (7, ?, 'sistema', ?, ?)",
                     (when, action, detail))
    conn.close()
    store = Store(path, tmp_path / "raw")
    try:
        history = histories(store.conn, {"reinicio-claves": 15}, [7])[7]
        assert term_of(history, Calendar("CO"), BOGOTA).due.isoformat() == "2026-12-29"
    finally:
        store.close()


def test_the_requesters_extra_month_to_correct_is_granted_once_and_moves_the_withdrawal(env, monkeypatch):
    # Art. 17: asked for before the month ends, up to one month more.
    at(monkeypatch, "2026-12-04 10:00")
    radicado = open_ticket(env, mails.request(), "needs_correction")  # limit 4 January 2027
    at(monkeypatch, "2026-12-24 10:00")
    env.run_once()  # the first month's reminder
    at(monkeypatch, "2026-12-30 10:00")
    stopped = cli(env, "extend", radicado, "--by", "Ana", "--days", "5", "--reason", "Proveedor")
    assert stopped.returncode == 1 and "suspendido" in stopped.stderr  # no term runs while a correction is owed
    granted = cli(env, "extend", radicado, "--by", "Ana", "--correction-month", "--reason", "La alcaldía lo pidió")
    assert granted.returncode == 0, granted.stderr
    [notice] = of_kind(env, "term_extended")
    assert "4 de febrero de 2027" in text_of(notice) and "La alcaldía lo pidió" in text_of(notice)
    twice = cli(env, "extend", radicado, "--by", "Ana", "--correction-month", "--reason", "Otra vez")
    assert twice.returncode == 1 and len(of_kind(env, "term_extended")) == 1
    at(monkeypatch, "2027-01-05 10:00")
    env.run_once()
    assert shown(env, radicado)["state"] == "needs_correction"
    assert len(of_kind(env, "correction_reminder")) == 1  # the first month's only
    at(monkeypatch, "2027-01-28 10:00")  # 5 business days before 4 February: 28, 29, 1, 2, 3
    env.run_once()
    assert len(of_kind(env, "correction_reminder")) == 2 and "4 de febrero de 2027" in text_of(
        of_kind(env, "correction_reminder")[-1])
    at(monkeypatch, "2027-02-05 10:00")
    env.run_once()
    assert shown(env, radicado)["state"] == "withdrawn"


def test_queue_colours_an_overdue_ticket_red_in_a_terminal(env, tmp_path, monkeypatch):
    import os
    import sys

    import pexpect

    from .conftest import ROOT

    at(monkeypatch, "2026-12-05 10:00")
    open_ticket(env, complete_request(env, tmp_path), "pending_approval")  # due 29 December
    at(monkeypatch, "2026-12-30 09:00")
    child = pexpect.spawn(sys.executable, ["-m", "helpdesk", "--config", str(env.config_path), "queue"],
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, encoding="utf-8", timeout=30)
    child.expect(pexpect.EOF)
    screen = child.before
    assert "\x1b[31m" in screen and "vencida hace 1 día hábil" in screen
