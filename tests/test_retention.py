"""The retention policy: the original mail of tickets closed long ago goes,
the records stay, and nothing still needed is ever removed.

Tickets reach their states through the real pipeline and staff commands;
age is simulated by moving their timestamps back with SQL."""

import hashlib
import json
import os
import re
import sqlite3
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest

from helpdesk import localtime
from helpdesk.config import from_dict
from helpdesk.errors import ConfigError
from helpdesk.intake import quarantine
from helpdesk.operations import retention
from helpdesk.staff import decisions as staff
from helpdesk.store import iso, now

from . import mails
from .conftest import Embedded, run_helpdesk
from .test_staff import pending

PURGED_LINE = "adjuntos eliminados por la política de retención el "


@pytest.fixture
def env(tmp_path):
    helpdesk = Embedded(tmp_path / "helpdesk")
    yield helpdesk
    helpdesk.daemon.close()
    helpdesk.store.close()


def helpdesk_cli(env: Embedded, *args, extra_env=None) -> subprocess.CompletedProcess:
    return run_helpdesk("--config", env.config_path, *args, env=extra_env)


def resolved(env: Embedded, tmp_path) -> str:
    radicado = pending(env, tmp_path)
    staff.approve(env.store, env.config, env.daemon.renderer, radicado, "Ana", lambda credentials: True)
    env.daemon.deliver()
    return radicado


def needs_correction(env: Embedded, sender: str = mails.ENTITY) -> str:
    env.deliver(mails.request(sender=sender, body="Sin adjuntos."))
    [outcome] = env.run_once()
    assert state(env, outcome.radicado) == "needs_correction"
    return outcome.radicado


def rejected(env: Embedded) -> str:
    radicado = needs_correction(env)
    staff.reject(env.store, env.config, env.daemon.renderer, radicado, "Ana", "No corresponde")
    env.daemon.deliver()
    return radicado


def state(env: Embedded, radicado: str) -> str:
    return env.store.one("SELECT state FROM tickets WHERE radicado = ?", (radicado,))[0]


def age(env: Embedded, radicado: str, days: int) -> None:
    """Move a ticket, its messages and its outbox rows ``days`` into the past."""
    stamp = iso(now() - timedelta(days=days))
    with env.store.transaction() as conn:
        (ticket_id,) = conn.execute("SELECT id FROM tickets WHERE radicado = ?", (radicado,)).fetchone()
        conn.execute("UPDATE tickets SET created_at = ?, updated_at = ? WHERE id = ?", (stamp, stamp, ticket_id))
        conn.execute("UPDATE messages SET at = ? WHERE ticket_id = ?", (stamp, ticket_id))
        conn.execute("UPDATE outbox SET created_at = ?, sent_at = CASE WHEN sent_at IS NULL THEN NULL ELSE ? END "
                     "WHERE ticket_id = ?", (stamp, stamp, ticket_id))


def raw_files(env: Embedded, radicado: str) -> list[Path]:
    rows = env.store.query("SELECT m.sha256 FROM messages m JOIN tickets t ON t.id = m.ticket_id "
                           "WHERE t.radicado = ? AND m.direction = 'in'", (radicado,))
    return [env.store.raw_path(r["sha256"]) for r in rows]


def files_snapshot(env: Embedded) -> dict[str, str]:
    return {str(p.relative_to(env.config.raw_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(env.config.raw_dir.rglob("*")) if p.is_file()}


def db_snapshot(env: Embedded) -> list[str]:
    return list(env.store.conn.iterdump())


def records(env: Embedded, radicado: str) -> dict[str, list]:
    """Every audit row of a ticket, to prove that purging keeps them."""
    (ticket_id,) = env.store.one("SELECT id FROM tickets WHERE radicado = ?", (radicado,))
    return {table: [tuple(r) for r in env.store.query(f"SELECT * FROM {table} WHERE ticket_id = ? ORDER BY id",
                                                        (ticket_id,))]
            for table in ("documents", "findings", "resets")}


def test_original_mail_of_a_ticket_resolved_longer_ago_than_the_policy_is_removed_and_the_records_kept(env, tmp_path):
    radicado = resolved(env, tmp_path)
    age(env, radicado, 400)
    [raw] = raw_files(env, radicado)
    assert raw.exists()
    before = records(env, radicado)
    assert before["documents"] and before["resets"]
    events_before = env.count("SELECT count(*) FROM events e JOIN tickets t ON t.id = e.ticket_id "
                              "WHERE t.radicado = ?", (radicado,))

    report = retention.purge(env.store, env.config)

    assert not raw.exists()
    assert [(i.reason, i.radicado) for i in report.items] == [(retention.CLOSED_TICKET, radicado)]
    assert report.bytes > 0
    row = env.store.one("SELECT sha256, raw_purged_at FROM messages WHERE ticket_id = "
                        "(SELECT id FROM tickets WHERE radicado = ?) AND direction = 'in'", (radicado,))
    assert row["sha256"] == raw.stem and row["raw_purged_at"]
    assert records(env, radicado) == before
    events = env.store.query("SELECT e.action, e.detail FROM events e JOIN tickets t ON t.id = e.ticket_id "
                             "WHERE t.radicado = ? ORDER BY e.id", (radicado,))
    assert len(events) == events_before + 1
    assert events[-1]["action"] == retention.EVENT and "365 días" in events[-1]["detail"]
    assert state(env, radicado) == "resolved"


def test_a_ticket_closed_less_long_ago_than_the_policy_keeps_its_mail(env, tmp_path):
    old = rejected(env)
    recent = rejected(env)
    age(env, old, 366)
    age(env, recent, 300)

    retention.purge(env.store, env.config)

    assert not any(p.exists() for p in raw_files(env, old))
    assert all(p.exists() for p in raw_files(env, recent))
    assert env.count("SELECT count(*) FROM messages WHERE raw_purged_at IS NOT NULL") == 1


def test_an_open_ticket_keeps_its_mail_however_old(env):
    radicado = needs_correction(env)
    age(env, radicado, 5000)

    plan = retention.plan(env.store, env.config, now())

    assert plan.items == ()
    retention.apply(env.store, env.config, plan)
    assert all(p.exists() for p in raw_files(env, radicado))


def test_a_file_named_by_an_open_quarantine_entry_is_kept_until_the_entry_is_resolved(env, tmp_path):
    radicado = rejected(env)
    age(env, radicado, 400)
    [raw] = raw_files(env, radicado)
    quarantine.add(env.store, raw.stem, "INBOX/7", "RuntimeError: prueba")

    plan = retention.plan(env.store, env.config, now())
    assert plan.items == () and plan.held == 1
    retention.apply(env.store, env.config, plan)
    assert raw.exists()
    assert env.count("SELECT count(*) FROM messages WHERE raw_purged_at IS NOT NULL") == 0

    [entry] = quarantine.listing(env.store)
    quarantine.resolve(env.store, entry.id)
    retention.purge(env.store, env.config)
    assert not raw.exists()


def test_a_file_also_named_by_a_message_of_an_open_ticket_is_kept(env):
    closed = rejected(env)
    open_ticket = needs_correction(env, sender="otra@alcaldia-prueba.gov.co")
    age(env, closed, 400)
    [raw] = raw_files(env, closed)
    # Content addressing: the same bytes recorded on another ticket, still open.
    with env.store.transaction() as conn:
        conn.execute("INSERT INTO messages(direction, dedup_key, message_id, sha256, ticket_id, kind, at) "
                     "SELECT 'in', 'test:shared', '<shared@test>', ?, id, 'reply', ? FROM tickets WHERE radicado = ?",
                     (raw.stem, iso(), open_ticket))

    report = retention.purge(env.store, env.config)

    assert report.items == ()
    assert raw.exists()
    assert env.count("SELECT count(*) FROM messages WHERE raw_purged_at IS NOT NULL") == 0


def test_dry_run_changes_no_file_and_no_row(env, tmp_path):
    radicado = resolved(env, tmp_path)
    age(env, radicado, 400)
    files, rows = files_snapshot(env), db_snapshot(env)

    result = helpdesk_cli(env, "purge", "--dry-run")

    assert result.returncode == 0, result.stderr
    assert radicado in result.stdout and "No se cambió nada (--dry-run)" in result.stdout
    last = result.stdout.splitlines()[-1]
    assert re.fullmatch(r"Se eliminaría 1 elemento de 1 solicitud, \d+\.\d MB\. "
                        r"No se cambió nada \(--dry-run\)\.", last)
    assert files_snapshot(env) == files
    assert db_snapshot(env) == rows


def test_purge_command_removes_and_says_how_much(env, tmp_path):
    radicado = rejected(env)
    age(env, radicado, 400)

    result = helpdesk_cli(env, "purge")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Política de retención: solicitudes cerradas: más de 365 días")
    assert any(re.fullmatch(rf"{radicado}  1 correo recibido  \d+\.\d MB", line) for line in lines)
    assert re.fullmatch(r"Eliminado 1 elemento de 1 solicitud, \d+\.\d MB liberados\.", lines[-1])
    assert not any(p.exists() for p in raw_files(env, radicado))


def test_a_second_run_is_a_no_op(env, tmp_path):
    radicado = rejected(env)
    age(env, radicado, 400)
    first = retention.purge(env.store, env.config)
    assert len(first.items) == 1
    files, rows = files_snapshot(env), db_snapshot(env)

    second = retention.purge(env.store, env.config)

    assert second.items == () and second.skipped == 0
    assert files_snapshot(env) == files and db_snapshot(env) == rows
    assert "Nada que eliminar." in helpdesk_cli(env, "purge").stdout


def test_show_save_attachments_and_backup_work_after_a_purge(env, tmp_path):
    radicado = resolved(env, tmp_path)
    age(env, radicado, 400)
    retention.purge(env.store, env.config)
    today = iso()[:10]

    as_json = helpdesk_cli(env, "show", radicado, "--json")
    assert as_json.returncode == 0, as_json.stderr
    view = json.loads(as_json.stdout)
    assert view["attachments_purged_at"].startswith(today)
    # Screens show the time in [site] timezone (Bogotá), JSON keeps UTC.
    purged = localtime.show(view["attachments_purged_at"], localtime.zone("America/Bogota"))

    shown = helpdesk_cli(env, "show", radicado)
    assert shown.returncode == 0, shown.stderr
    assert f"Adjuntos:      {PURGED_LINE}{purged}" in shown.stdout

    assert [m["raw_purged_at"][:10] for m in view["messages"] if m["direction"] == "in"] == [today]
    assert {d["filename"] for d in view["documents"]} >= {"formato_firmado.pdf", "acta_posesion.pdf"}

    folder = tmp_path / "adjuntos"
    saved = helpdesk_cli(env, "show", radicado, "--save-attachments", str(folder))
    assert saved.returncode == 0, saved.stderr
    assert f"{PURGED_LINE}{purged}" in saved.stdout and "0 adjuntos guardados" not in saved.stdout
    assert list(folder.iterdir()) == []

    backup = helpdesk_cli(env, "backup", str(tmp_path / "copia"))
    assert backup.returncode == 0, backup.stderr


def test_retrying_a_quarantine_entry_whose_mail_was_purged_says_so(env):
    radicado = rejected(env)
    age(env, radicado, 400)
    [raw] = raw_files(env, radicado)
    quarantine.add(env.store, raw.stem, "INBOX/7", "RuntimeError: prueba")
    [entry] = quarantine.listing(env.store)
    quarantine.resolve(env.store, entry.id)
    retention.purge(env.store, env.config)
    assert not raw.exists()

    result = helpdesk_cli(env, "retry", str(entry.id))

    assert result.returncode == 1
    assert f"el correo original del mensaje #{entry.id} fue eliminado por la política de retención" in result.stderr
    assert "Traceback" not in result.stderr


def test_mail_tied_to_no_ticket_goes_after_unlinked_days(env):
    env.deliver(mails.request(sender="vacaciones@otra.gov.co", headers={"Auto-Submitted": "auto-replied"}))
    env.deliver(mails.request(sender="lista@otra.gov.co", headers={"List-Id": "<boletin.otra.gov.co>"}))
    assert [o.action for o in env.run_once()] == ["ignored", "ignored"]
    rows = env.store.query("SELECT id, sha256 FROM messages WHERE ticket_id IS NULL ORDER BY id")
    assert len(rows) == 2
    with env.store.transaction() as conn:
        conn.execute("UPDATE messages SET at = ? WHERE id = ?", (iso(now() - timedelta(days=91)), rows[0]["id"]))
        conn.execute("UPDATE messages SET at = ? WHERE id = ?", (iso(now() - timedelta(days=80)), rows[1]["id"]))

    report = retention.purge(env.store, env.config)

    assert [(i.reason, i.radicado) for i in report.items] == [(retention.UNLINKED, None)]
    assert not env.store.raw_path(rows[0]["sha256"]).exists()
    assert env.store.raw_path(rows[1]["sha256"]).exists()


def test_the_unrecorded_file_of_a_second_delivery_goes_once_it_is_unlinked_days_old(env):
    env.deliver(mails.request(message_id="<dos-veces@alcaldia-prueba.gov.co>", body="Primera copia."))
    env.run_once()
    env.deliver(mails.request(message_id="<dos-veces@alcaldia-prueba.gov.co>", body="Segunda copia, otro camino."))
    assert [o.action for o in env.run_once()] == ["duplicate"]
    recorded = {r[0] for r in env.store.query("SELECT sha256 FROM messages WHERE sha256 IS NOT NULL")}
    [stray] = [p for p in env.config.raw_dir.rglob("*.eml") if p.stem not in recorded]

    assert retention.purge(env.store, env.config).items == ()  # fresh: it may be a message being recorded
    assert stray.exists()
    old = time.time() - 91 * 86400
    os.utime(stray, (old, old))
    report = retention.purge(env.store, env.config)

    assert [(i.reason, i.sha256) for i in report.items] == [(retention.ORPHAN, stray.stem)]
    assert not stray.exists()
    assert all(env.store.raw_path(sha).exists() for sha in recorded)


def test_a_crash_after_the_commit_leaves_files_the_next_run_removes(env):
    radicado = rejected(env)
    age(env, radicado, 400)
    [raw] = raw_files(env, radicado)

    crashed = helpdesk_cli(env, "purge", extra_env={"HELPDESK_CRASH_AT": "retention_after_commit"})

    assert crashed.returncode == -9
    assert raw.exists()  # marked purged, not yet unlinked: nothing the database calls readable is missing
    assert env.count("SELECT count(*) FROM messages WHERE raw_purged_at IS NOT NULL") == 1
    assert helpdesk_cli(env, "show", radicado).returncode == 0
    report = retention.purge(env.store, env.config)
    assert [(i.reason, i.sha256) for i in report.items] == [(retention.LEFTOVER, raw.stem)]
    assert not raw.exists()


def test_bodies_of_delivered_emails_are_kept_by_default_and_erased_with_outbox_days(tmp_path):
    kept = Embedded(tmp_path / "kept")
    radicado = rejected(kept)
    age(kept, radicado, 400)
    retention.purge(kept.store, kept.config)
    assert kept.count("SELECT count(*) FROM outbox WHERE length(raw) = 0") == 0

    erased = Embedded(tmp_path / "erased", retention={"outbox_days": 60})
    radicado = rejected(erased)
    age(erased, radicado, 400)
    before = erased.store.query("SELECT id, fingerprint FROM outbox ORDER BY id")
    assert len(before) == 3 and all(r["fingerprint"] for r in before)  # ack, correction, rejected: delivered

    report = retention.purge(erased.store, erased.config)

    assert sorted(i.reason for i in report.items) == [retention.CLOSED_TICKET, *[retention.OUTBOX_BODY] * 3]
    after = erased.store.query("SELECT id, fingerprint, length(raw) AS size, status FROM outbox ORDER BY id")
    assert [(r["id"], r["fingerprint"]) for r in after] == [(r["id"], r["fingerprint"]) for r in before]
    assert all(r["size"] == 0 and r["status"] == "sent" for r in after)
    for env in (kept, erased):
        env.daemon.close()
        env.store.close()


def test_a_plan_made_before_a_new_reference_appeared_removes_nothing_it_needs(env):
    radicado = rejected(env)
    age(env, radicado, 400)
    [raw] = raw_files(env, radicado)
    plan = retention.plan(env.store, env.config, now())
    assert len(plan.items) == 1
    quarantine.add(env.store, raw.stem, "INBOX/9", "RuntimeError: llegó después del plan")

    report = retention.apply(env.store, env.config, plan)

    assert report.items == () and report.skipped == 1
    assert raw.exists()


def test_defaults_and_zero_keeps_forever(tmp_path, env):
    defaults = from_dict({}, tmp_path / "config.toml").retention
    assert (defaults.closed_ticket_days, defaults.unlinked_days, defaults.outbox_days) == (365, 90, 0)
    config = from_dict({"retention": {"closed_ticket_days": 0, "unlinked_days": 0}}, tmp_path / "config.toml")
    radicado = rejected(env)
    age(env, radicado, 4000)
    assert retention.plan(env.store, config, now()).items == ()


@pytest.mark.parametrize("key, value, message", [
    ("closed_ticket_days", -1, "se esperaba un número no negativo"),
    ("closed_ticket_days", 1.5, "se esperaba un número entero"),
    ("closed_ticket_days", "365", "se esperaba un número entero"),
    ("closed_ticket_days", True, "se esperaba un número entero"),
    ("closed_ticket_days", 10, "mínimo 30 días (0 conserva para siempre)"),
    ("unlinked_days", 3, "mínimo 7 días"),
    ("outbox_days", 29, "mínimo 30 días"),
    ("keep_days", 30, "clave desconocida"),
])
def test_bad_retention_values_are_refused_naming_the_key(tmp_path, key, value, message):
    with pytest.raises(ConfigError) as info:
        from_dict({"retention": {key: value}}, tmp_path / "config.toml")
    assert f"config.toml: retention.{key}: " in str(info.value) and message in str(info.value)


def test_the_running_daemon_applies_the_policy_without_being_asked(env, tmp_path):
    from .test_daemon import DaemonProcess, wait_until

    old = resolved(env, tmp_path)
    recent = resolved(env, tmp_path / "second")
    age(env, old, 400)
    [old_raw], [recent_raw] = raw_files(env, old), raw_files(env, recent)
    daemon = DaemonProcess(env.config_path)
    try:
        assert wait_until(lambda: not old_raw.exists(), 20), daemon.output()
    finally:
        assert daemon.stop() == 0
    assert recent_raw.exists()
    [line] = [ln for ln in daemon.output().splitlines() if "event=purged" in ln]
    assert f"radicado={old}" in line


def test_a_backup_that_overlaps_the_daily_purge_is_complete_and_marks_what_went(env, tmp_path, monkeypatch):
    from helpdesk.operations import backup

    radicado = resolved(env, tmp_path)
    age(env, radicado, 400)
    [raw] = raw_files(env, radicado)
    real_copy = backup._copy_tree

    def purge_then_copy(src, dst):
        # The daemon's daily run lands between the database snapshot and the file copy.
        retention.purge(env.store, env.config)
        return real_copy(src, dst)

    monkeypatch.setattr(backup, "_copy_tree", purge_then_copy)
    manifest = backup.backup(env.config, tmp_path / "copia")
    assert not raw.exists() and manifest["tickets"] >= 1
    copy = sqlite3.connect(tmp_path / "copia" / "helpdesk.db")
    [(purged_at,)] = copy.execute("SELECT raw_purged_at FROM messages WHERE sha256 = ?", (raw.stem,)).fetchall()
    copy.close()
    assert purged_at  # the copy says the mail is gone, so restoring it needs no file


def test_an_old_unrecorded_file_stored_again_is_fresh_and_an_older_plan_spares_it(env):
    env.deliver(mails.request(message_id="<otra-vez@alcaldia-prueba.gov.co>", body="Primera copia."))
    env.run_once()
    env.deliver(mails.request(message_id="<otra-vez@alcaldia-prueba.gov.co>", body="Segunda copia."))
    env.run_once()
    recorded = {r[0] for r in env.store.query("SELECT sha256 FROM messages WHERE sha256 IS NOT NULL")}
    [stray] = [p for p in env.config.raw_dir.rglob("*.eml") if p.stem not in recorded]
    old = time.time() - 91 * 86400
    os.utime(stray, (old, old))
    plan = retention.plan(env.store, env.config, now())
    assert [i.sha256 for i in plan.items] == [stray.stem]

    # The same bytes arrive again: stored (fresh again), then recorded by the daemon's commit.
    assert env.store.save_raw(stray.read_bytes()) == stray.stem
    assert retention.plan(env.store, env.config, now()).items == ()
    with env.store.transaction() as conn:
        conn.execute("INSERT INTO messages(direction, dedup_key, message_id, sha256, kind, at) "
                     "VALUES ('in', 'otra-vez-3', 'otra-vez@alcaldia-prueba.gov.co', ?, 'auto_reply', ?)",
                     (stray.stem, iso()))
    report = retention.apply(env.store, env.config, plan)

    assert report.items == () and stray.exists()
