"""Running the service: logs (text and JSON), SIGHUP reload, stats, the
metrics file, and a failing mailbox reported loudly."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import shutil
import signal
import subprocess
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from helpdesk.operations import logs
from helpdesk.rules import RULES_DIR
from helpdesk.staff import decisions as staff

from . import mails
from .conftest import USER, Embedded, embedded_sections, maildir_deliver, networked_sections, run_helpdesk, write_config
from .test_daemon import DaemonProcess, wait_until

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = ROOT / "templates"


def helpdesk(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return run_helpdesk(*args, env=env)


def metric_samples(path: Path) -> dict[tuple[str, tuple], float]:
    """Parse the file with Prometheus' own parser: (name, labels) -> value."""
    samples = {}
    for family in text_string_to_metric_families(path.read_text(encoding="utf-8")):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


# -- logs -----------------------------------------------------------------

def test_json_logs_are_one_object_a_line_with_radicado_and_message_id(tmp_path):
    env = Embedded(tmp_path)
    env.deliver(mails.request(message_id="<pedido-1@alcaldia-prueba.gov.co>"))
    result = helpdesk("--config", str(env.config_path), "run", "--once", "--log-format", "json")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]  # every line is JSON
    assert records and all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    [intake] = [r for r in records if r.get("event") == "new_ticket"]
    [radicado] = [r["radicado"] for r in env.store.query("SELECT radicado FROM tickets")]
    assert intake["radicado"] == radicado
    assert intake["message_id"] == "pedido-1@alcaldia-prueba.gov.co"
    assert intake["level"] == "info"
    # The requester's address is personal data: the log names tickets, not people.
    assert mails.ENTITY not in result.stderr


def test_text_logs_carry_the_same_context(tmp_path):
    env = Embedded(tmp_path)
    env.deliver(mails.request(message_id="<pedido-2@alcaldia-prueba.gov.co>"))
    result = helpdesk("--config", str(env.config_path), "run", "--once")
    assert result.returncode == 0, result.stderr
    [line] = [ln for ln in result.stderr.splitlines() if " new_ticket" in ln]
    [radicado] = [r["radicado"] for r in env.store.query("SELECT radicado FROM tickets")]
    assert f"radicado={radicado}" in line
    assert "message_id=<pedido-2@alcaldia-prueba.gov.co>" in line
    assert line[:4].isdigit()  # a timestamp, since stderr is not journald here


def test_a_secret_that_reaches_a_log_message_is_masked():
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    logger = logging.getLogger("helpdesk.test_mask")
    handler = Keep()
    logger.addHandler(handler)
    try:
        logs.register_secret("s3cr3t-Clave-IMAP")
        logger.error("login failed: server said %s", "AUTH s3cr3t-Clave-IMAP rejected", extra={"radicado": "GEL-2026-000001"})
    finally:
        logger.removeHandler(handler)
    for formatter in (logs.TextFormatter(with_time=True), logs.JsonFormatter()):
        line = formatter.format(records[0])
        assert "s3cr3t-Clave-IMAP" not in line
        assert logs.MASK in line and "GEL-2026-000001" in line


def test_imap_and_smtp_logs_name_the_ticket_never_the_password_or_the_requester(tmp_path, dovecot, smtp_server):
    root = tmp_path / "h"
    root.mkdir()
    password = dovecot.password(USER)
    path = write_config(root / "config.toml", networked_sections(dovecot, smtp_server))
    dovecot.append(USER, mails.request(message_id="<pedido-3@alcaldia-prueba.gov.co>"))
    result = helpdesk("--config", str(path), "run", "--once", "--log-level", "DEBUG", "--log-format", "json")
    assert result.returncode == 0, result.stderr
    assert password not in result.stderr and password not in result.stdout
    assert logs.MASK not in result.stderr  # never reached a line at all, not even masked
    assert mails.ENTITY not in result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()]
    [intake] = [r for r in records if r.get("event") == "new_ticket"]
    sent = [r for r in records if r.get("event") == "sent"]
    assert sorted(r["kind"] for r in sent) == ["ack", "correction"]
    assert all(r["radicado"] == intake["radicado"] and r["message_id"] for r in sent)


# -- SIGHUP -----------------------------------------------------------------

def _emails(outbox: Path) -> dict[str, tuple[str, str]]:
    """File name of each delivered email -> (its kind, its plain-text body)."""
    texts = {}
    for path in sorted(outbox.glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        texts[path.name] = (msg["X-Helpdesk-Kind"], msg.get_body(("plain",)).get_content())
    return texts


def test_sighup_reloads_templates_and_rules_and_keeps_the_old_ones_when_broken(tmp_path):
    templates, rules = tmp_path / "templates", tmp_path / "rules"
    shutil.copytree(TEMPLATES_DIR, templates)
    shutil.copytree(RULES_DIR, rules)
    root = tmp_path / "h"
    root.mkdir()
    path = write_config(root / "config.toml", embedded_sections(
        replies={"templates": str(templates)}, rules={"path": str(rules)}))
    outbox = root / "outbox"

    def deliver(subject: str) -> None:
        maildir_deliver(root / "inbox", mails.request(subject=subject))

    def emails_with(kind: str, text: str) -> int:
        return sum(1 for k, body in _emails(outbox).values() if k == kind and text in body)

    def count(kind: str) -> int:
        return sum(1 for k, _ in _emails(outbox).values() if k == kind)

    daemon = DaemonProcess(path)
    try:
        deliver("primera")
        assert wait_until(lambda: count("correction") == 1, 20), daemon.output()

        # Edited on disk, but not reloaded yet: still the old wording.
        ack = templates / "ack.txt.j2"
        ack.write_text(ack.read_text(encoding="utf-8") + "\nTEXTO NUEVO DEL ACUSE\n", encoding="utf-8")
        problems = rules / "problems.toml"
        problems.write_text(problems.read_text(encoding="utf-8").replace(
            "Falta el formato de solicitud firmado", "REGLA NUEVA: falta el formato firmado"), encoding="utf-8")
        deliver("segunda")
        assert wait_until(lambda: count("correction") == 2, 20), daemon.output()
        assert emails_with("ack", "TEXTO NUEVO DEL ACUSE") == 0
        assert emails_with("correction", "REGLA NUEVA") == 0

        daemon.proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: "rules and templates reloaded" in daemon.output(), 10), daemon.output()
        deliver("tercera")
        assert wait_until(lambda: count("correction") == 3, 20), daemon.output()
        assert emails_with("ack", "TEXTO NUEVO DEL ACUSE") == 1
        assert emails_with("correction", "REGLA NUEVA") == 1

        # A broken template: the reload is refused and the daemon goes on with the last good set.
        (templates / "correction.txt.j2").write_text("{% if %}\n", encoding="utf-8")
        daemon.proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: "reload refused" in daemon.output(), 10), daemon.output()
        deliver("cuarta")
        assert wait_until(lambda: count("correction") == 4, 20), daemon.output()
        assert emails_with("correction", "REGLA NUEVA") == 2
        assert daemon.proc.poll() is None
    finally:
        code = daemon.stop()
    assert code == 0, daemon.output()
    assert "correction.txt.j2" in daemon.output()  # the error names the file
    assert "Traceback" not in daemon.output()


# -- stats and metrics --------------------------------------------------------

def _three_tickets(tmp_path) -> Embedded:
    env = Embedded(tmp_path)
    for n in range(3):
        env.deliver(mails.request(subject=f"solicitud {n}"))
    env.run_once()
    return env


def test_stats_counts_states_days_steps_and_failures(tmp_path):
    env = _three_tickets(tmp_path)
    with env.store.transaction() as conn:
        # One delivery failed for good, one ticket is old.
        conn.execute("UPDATE outbox SET status = 'failed', last_error = '550 no existe' "
                     "WHERE id = (SELECT min(id) FROM outbox WHERE kind = 'correction')")
        conn.execute("UPDATE tickets SET created_at = '2020-01-01T00:00:00+00:00' WHERE id = 1")
    result = helpdesk("--config", str(env.config_path), "stats", "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["by_state"]["needs_correction"] == 3
    assert sum(figures["per_day"].values()) == 2  # the old one is outside the 14 days
    assert figures["ages"]["needs_correction"]["count"] == 3
    assert figures["ages"]["needs_correction"]["oldest"] > 365 * 86400
    assert figures["steps"]["ack_sent"]["count"] == 2
    assert figures["steps"]["examined"]["count"] == 2
    assert figures["steps"]["reset_sent"]["count"] == 0
    assert figures["delivery_failures"] == 1
    assert figures["daemon"]["last_poll_ok_at"] is not None

    text = helpdesk("--config", str(env.config_path), "stats")
    assert text.returncode == 0, text.stderr
    assert "requiere corrección" in text.stdout and "fallidos: 1" in text.stdout
    assert "helpdesk outbox" in text.stdout


def test_metrics_file_is_valid_prometheus_text_matching_the_records(tmp_path):
    env = _three_tickets(tmp_path)
    started = time.time()
    result = helpdesk("--config", str(env.config_path), "run", "--once")
    assert result.returncode == 0, result.stderr
    samples = metric_samples(tmp_path / "metrics.prom")
    assert samples[("helpdesk_tickets", (("state", "needs_correction"),))] == 3
    assert samples[("helpdesk_messages_received_total", (("kind", "request"),))] == 3
    sent_acks = env.store.one("SELECT count(*) FROM outbox WHERE kind = 'ack' AND status = 'sent'")[0]
    assert samples[("helpdesk_emails", (("kind", "ack"), ("status", "sent")))] == sent_acks == 3
    assert samples[("helpdesk_emails_queued_total", (("kind", "ack"),))] == 3
    types = {f.name: f.type for f in text_string_to_metric_families((tmp_path / "metrics.prom").read_text())}
    # Counters only ever grow (rate() reads a fall as a restart); what can fall is a gauge.
    assert types["helpdesk_emails_queued"] == types["helpdesk_messages_received"] == "counter"
    assert types["helpdesk_emails"] == types["helpdesk_tickets"] == types["helpdesk_outbox_backlog"] == "gauge"
    assert samples[("helpdesk_outbox_backlog", ())] == 0
    assert started - 2 <= samples[("helpdesk_last_successful_poll_timestamp_seconds", ())] <= time.time() + 1
    assert samples[("helpdesk_poll_failures_consecutive", ())] == 0


def test_metrics_disabled_writes_no_file(tmp_path):
    env = Embedded(tmp_path, metrics={"enabled": False})
    result = helpdesk("--config", str(env.config_path), "run", "--once")
    assert result.returncode == 0, result.stderr
    assert not list(tmp_path.rglob("*.prom"))


# -- a mailbox that keeps failing -------------------------------------------

def test_poll_that_keeps_failing_is_logged_every_time_and_counted(tmp_path, dovecot, smtp_server):
    root = tmp_path / "h"
    root.mkdir()
    path = write_config(root / "config.toml", networked_sections(
        dovecot, smtp_server, inbox={"password": "clave-equivocada"}))
    daemon = DaemonProcess(path, "--log-format", "json")
    try:
        assert wait_until(lambda: daemon.output().count('"event": "poll_failed"') >= 3, 30), daemon.output()
    finally:
        assert daemon.stop() == 0
    failures = [json.loads(line) for line in daemon.output().splitlines() if '"poll_failed"' in line]
    assert all(r["level"] == "error" for r in failures)
    assert [int(r["message"].split("(")[1].split()[0]) for r in failures[:3]] == [1, 2, 3]
    samples = metric_samples(root / "metrics.prom")
    assert samples[("helpdesk_poll_failures_consecutive", ())] >= 3
    assert samples[("helpdesk_poll_failures_total", ())] >= 3
    assert samples[("helpdesk_last_successful_poll_timestamp_seconds", ())] == 0

    shown = helpdesk("--config", str(path), "stats")
    assert "ATENCIÓN" in shown.stdout and "consultas fallidas seguidas" in shown.stdout

    # With the right password the next poll succeeds and the count goes back to zero.
    write_config(path, networked_sections(dovecot, smtp_server))
    assert helpdesk("--config", str(path), "run", "--once").returncode == 0
    samples = metric_samples(root / "metrics.prom")
    assert samples[("helpdesk_poll_failures_consecutive", ())] == 0
    assert samples[("helpdesk_last_successful_poll_timestamp_seconds", ())] > 0
    assert "ATENCIÓN" not in helpdesk("--config", str(path), "stats").stdout


# -- what a reload swaps ----------------------------------------------------

def test_a_replaced_worker_uses_the_daemons_rules_not_the_files_on_disk():
    import dataclasses

    import psutil

    from helpdesk.documents.examine import FileFacts
    from helpdesk.documents.worker import Worker
    from helpdesk.rules import load_all

    from . import docfiles

    on_disk = load_all(RULES_DIR)
    assert on_disk.documents.limits.max_zip_members < 60
    # The daemon's rules (as loaded at start or on SIGHUP) differ from the disk's.
    rules = dataclasses.replace(on_disk, documents=dataclasses.replace(
        on_disk.documents, limits=dataclasses.replace(on_disk.documents.limits, max_zip_members=100)))
    worker = Worker(rules)
    try:
        pids = set()
        for _ in range(2):
            facts = worker.examine("documentos.zip", docfiles.many_members_zip(60))
            assert isinstance(facts, FileFacts) and "máximo" not in (facts.error or ""), facts
            pids.add(worker.pid)
            # Killed between two files: the next file goes to a new worker,
            # without being blamed for the death of the old one.
            process = psutil.Process(worker.pid)
            process.kill()
            process.wait(5)
        assert len(pids) == 2
    finally:
        worker.close()


def test_reload_refuses_unreadable_or_missing_templates_and_keeps_the_old_ones(tmp_path, caplog):
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, templates)
    env = Embedded(tmp_path / "h", replies={"templates": str(templates)})
    renderer = env.daemon.renderer
    (templates / "ack.txt.j2").write_bytes("Señor alcalde".encode("cp1252"))
    assert env.daemon.reload() is False
    assert "ack.txt.j2: no está en UTF-8" in caplog.text
    (templates / "ack.txt.j2").unlink()
    assert env.daemon.reload() is False
    assert "ack.txt.j2: falta la plantilla" in caplog.text
    assert env.daemon.renderer is renderer
    env.deliver(mails.request())
    [outcome] = env.run_once()
    assert outcome.replies == ["ack"] and env.sent()  # still answered, with the last good templates


def test_sighup_during_imap_idle_reloads_at_once(tmp_path, dovecot, smtp_server):
    root = tmp_path / "h"
    root.mkdir()
    path = write_config(root / "config.toml", networked_sections(dovecot, smtp_server))
    daemon = DaemonProcess(path)
    try:
        daemon.wait_connected()
        time.sleep(1)  # in IDLE now, which restarts only every 600 s
        daemon.proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: "rules and templates reloaded" in daemon.output(), 5), daemon.output()
        dovecot.append(USER, mails.request())
        assert smtp_server.wait_for(1, timeout=10), daemon.output()
    finally:
        assert daemon.stop() == 0


def test_stats_durations_and_percentile_read_as_a_person_expects():
    from helpdesk.operations import stats

    assert [stats.duration(s) for s in (None, 42, 240, 7500, 3 * 86400 + 4 * 3600)] == \
        ["-", "42 s", "4 min", "2 h 5 min", "3 d 4 h"]
    assert stats._percentile(list(range(1, 11)), 0.9) == 9  # nearest rank, not the maximum
    assert stats._percentile([5.0], 0.9) == 5.0
    assert stats._percentile([], 0.9) is None


# -- systemd's notification protocol ------------------------------------------

def test_daemon_speaks_sd_notify_ready_reloading_watchdog_and_stopping(tmp_path):
    import socket
    import tempfile

    # A real datagram socket where systemd would listen (paths must stay short).
    folder = Path(tempfile.mkdtemp(prefix="hd-notify-"))
    address = str(folder / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(0.2)
    received: list[str] = []

    def collect_until(predicate, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                received.extend(sock.recv(4096).decode("utf-8").split("\n"))
            except socket.timeout:
                pass
            if predicate():
                return True
        return predicate()

    env = Embedded(tmp_path)
    daemon = DaemonProcess(env.config_path, extra_env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1000000"})
    try:
        assert collect_until(lambda: "READY=1" in received, 15), daemon.output()
        assert any(f.startswith("STATUS=Atendiendo el buzón") for f in received)
        # Idle, yet alive: a ping at least every half second of the 1 s asked for.
        pings = received.count("WATCHDOG=1")
        assert collect_until(lambda: received.count("WATCHDOG=1") >= pings + 3, 5), received
        daemon.proc.send_signal(signal.SIGHUP)
        assert collect_until(lambda: "RELOADING=1" in received and received.count("READY=1") == 2, 10), received
        last_ready = max(i for i, field in enumerate(received) if field == "READY=1")
        assert received.index("RELOADING=1") < last_ready  # ready again after the reload
    finally:
        code = daemon.stop()
        collect_until(lambda: "STOPPING=1" in received, 5)
        sock.close()
        shutil.rmtree(folder, ignore_errors=True)
    assert code == 0, daemon.output()
    assert "STOPPING=1" in received


def test_sd_notify_does_nothing_outside_systemd(monkeypatch):
    from helpdesk.operations import sdnotify

    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    monkeypatch.setenv("WATCHDOG_PID", "1")  # another process's watchdog, not ours
    assert sdnotify.notify("READY=1") is False
    assert sdnotify.Watchdog().interval is None


def test_a_template_folder_without_a_newer_kind_takes_that_kind_from_the_package(tmp_path):
    # A folder customised before an upgrade lacks the kinds added since
    # (reply): the service starts and sends them with the shipped ones; a
    # kind the folder has only some parts of stays an error.
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, templates)
    (templates / "ack.txt.j2").write_text("Radicado propio: {{ radicado }}\n", encoding="utf-8")
    for part in ("subject", "txt", "html"):
        (templates / f"reply.{part}.j2").unlink()
    env = Embedded(tmp_path / "h", replies={"templates": str(templates)})
    assert env.daemon.renderer.shipped_kinds == ("reply",)
    env.deliver(mails.request())
    [outcome] = env.run_once()
    assert env.sent()[0].get_body(("plain",)).get_content().startswith(f"Radicado propio: {outcome.radicado}")
    staff.reply(env.store, env.config, env.daemon.renderer, outcome.radicado, "Ana", "Seguimos revisando.")
    env.daemon.deliver()
    assert "Seguimos revisando." in env.sent()[-1].get_body(("plain",)).get_content()
    check = run_helpdesk("--config", env.config_path, "check", timeout=60)
    assert "la carpeta no tiene las de reply: se usan las incluidas en helpdesk" in check.stdout
    (templates / "ack.html.j2").unlink()
    assert env.daemon.reload() is False  # half a kind is a mistake
