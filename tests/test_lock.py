"""One processor per database (CONTRACT §8): a second `run` or `run --once`
beside a running daemon exits 1 naming it and touches nothing; the kernel
frees the lock when the holder dies; a brief holder is waited for."""

import json
import os
import signal
import time

from helpdesk import lock
from helpdesk.intake import quarantine
from helpdesk.store import Store

from . import mails
from .conftest import USER, Embedded, embedded_sections, networked_sections, run_helpdesk, write_config
from .test_daemon import DaemonProcess, wait_until


def start_daemon(path) -> DaemonProcess:
    daemon = DaemonProcess(path)
    daemon.wait_connected()
    return daemon


def test_a_second_daemon_and_a_run_once_beside_it_send_nothing_and_exit_1(tmp_path, dovecot, smtp_server):
    root = tmp_path / "h"
    root.mkdir()
    path = write_config(root / "config.toml", networked_sections(dovecot, smtp_server))
    first = start_daemon(path)
    try:
        for n in range(3):
            dovecot.append(USER, mails.request(sender=f"u{n}@alcaldia-prueba.gov.co"))
        # Each request: its ack, then the correction (no documents attached).
        assert smtp_server.wait_for(6, timeout=20), first.output()
        record = json.loads((root / "helpdesk.db.lock").read_text())
        assert record["pid"] == first.proc.pid and record["role"] == "run"

        dovecot.append(USER, mails.request(sender="tarde@alcaldia-prueba.gov.co"))
        second = DaemonProcess(path)
        assert second.wait(20) == 1
        once = run_helpdesk("--config", path, "run", "--once", timeout=20)
        assert once.returncode == 1

        line = f"ya hay una instancia en marcha (pid {first.proc.pid})"
        assert second.output().strip() == f"Error: {line}"
        assert once.stderr.strip() == f"Error: {line}" and once.stdout == ""
        # The fourth request is answered once, by the first daemon alone.
        assert smtp_server.wait_for(8, timeout=20)
        time.sleep(2)
        assert len(smtp_server.snapshot()) == 8
        # Neither logged in, so no failed poll reached the first one's status.
        assert "connected to IMAP" not in second.output()
        assert _status(root).keys() == {"last_poll_ok_at", "poll_failures"}
    finally:
        assert first.stop() == 0


def _status(root) -> dict:
    store = Store(root / "helpdesk.db", root / "raw")
    try:
        return {r["key"]: r["value"] for r in store.query("SELECT key, value FROM daemon_status")}
    finally:
        store.close()


def test_the_lock_is_free_again_once_the_daemon_is_killed(tmp_path, dovecot, smtp_server):
    root = tmp_path / "h"
    root.mkdir()
    path = write_config(root / "config.toml", networked_sections(dovecot, smtp_server))
    first = start_daemon(path)
    first.proc.send_signal(signal.SIGKILL)
    first.wait()
    dovecot.append(USER, mails.request())
    after = run_helpdesk("--config", path, "run", "--once", timeout=60)
    assert after.returncode == 0, after.stderr
    assert "Mensajes procesados: 1" in after.stdout
    assert smtp_server.wait_for(2, timeout=10)
    assert (root / "helpdesk.db.lock").read_text() == ""  # released: nobody holds it


def test_refused_before_the_database_or_the_mailbox_is_created(tmp_path):
    """The lock is taken first: the refused instance creates no database,
    no Maildir, no status row."""
    path = write_config(tmp_path / "config.toml", embedded_sections())
    with lock.acquire(tmp_path / "helpdesk.db", lock.DAEMON):
        result = run_helpdesk("--config", path, "run", "--once", timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: ya hay una instancia en marcha (pid {os.getpid()})"
    assert not (tmp_path / "helpdesk.db").exists() and not (tmp_path / "inbox").exists()
    assert oct((tmp_path / "helpdesk.db.lock").stat().st_mode & 0o777) == oct(lock.MODE)


def test_a_daemon_starting_while_a_staff_command_holds_the_lock_waits_for_it(tmp_path):
    path = write_config(tmp_path / "config.toml", embedded_sections())
    held = lock.acquire(tmp_path / "helpdesk.db", lock.STAFF)
    daemon = DaemonProcess(path, "--once")
    try:
        time.sleep(3)
        # Waiting, not refused, and not started behind the holder's back.
        assert daemon.proc.poll() is None, daemon.output()
        assert not (tmp_path / "helpdesk.db").exists()
    finally:
        held.release()
    assert daemon.wait(60) == 0, daemon.output()
    assert (tmp_path / "helpdesk.db").exists()


def test_retry_beside_a_running_daemon_is_handed_to_it_and_examined_at_once(tmp_path):
    """`retry` never processes beside the daemon: it asks it, and the daemon,
    polling its Maildir only every minute, answers within seconds, examines
    the ticket at once, and the command reports the outcome."""
    env = Embedded(tmp_path, inbox={"poll_seconds": 60})
    sha256 = env.store.save_raw(mails.request(subject="reintento"))
    quarantine.add(env.store, sha256, "maildir:new/1", "RuntimeError: corregido desde entonces")
    [item] = quarantine.listing(env.store)
    env.daemon.close()
    env.store.close()
    daemon = DaemonProcess(env.config_path)
    try:
        lock_file = tmp_path / "helpdesk.db.lock"
        assert wait_until(lambda: lock_file.exists() and '"run"' in lock_file.read_text(), 15), daemon.output()
        time.sleep(1)  # its first cycle is over: it waits for the next poll, a minute away
        started = time.monotonic()
        result = run_helpdesk("--config", env.config_path, "retry", str(item.id), timeout=60)
        assert result.returncode == 0, result.stderr
        assert time.monotonic() - started < 15
    finally:
        assert daemon.stop() == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"Reprocesado por el servicio en marcha (pid {daemon.proc.pid})."
    radicado = f"GEL-{time.gmtime().tm_year}-000001"
    assert lines[1] == f"#{item.id}: procesado (new_ticket, {radicado}); estado: requiere corrección"
    assert env.kinds() == ["ack", "correction"]
    assert "quarantined" not in daemon.output() and "Traceback" not in daemon.output()


def test_a_staff_command_reports_its_own_email_not_a_newer_one_queued_meanwhile(networked):
    # The service's examination thread queues verdicts at any moment: what
    # the command says must be about the row it queued, not the newest row.
    from helpdesk.outgoing.replies import Renderer
    from helpdesk.staff import decisions as staff
    from helpdesk.staff import handover

    for n in range(2):
        networked.deliver(mails.request(sender=f"u{n}@alcaldia-prueba.gov.co", subject=f"pedido {n}"))
    networked.run_once()  # two tickets, each asked for its documents
    first, second = [r["radicado"] for r in networked.store.query("SELECT radicado FROM tickets ORDER BY id")]
    renderer = Renderer(networked.config)
    decided = staff.reject(networked.store, networked.config, renderer, first, "Ana", "No corresponde")
    staff.reply(networked.store, networked.config, renderer, second, "Ana", "Seguimos revisando")  # newer
    networked.smtp.add_responses("250 2.0.0 OK", "550 5.1.1 Buzón inexistente")

    delivery = handover.deliver_queued(networked.store, networked.config, decided.outbox_id)

    assert (delivery.status, delivery.message()) == ("sent", "Correo enviado.")
    statuses = {r["kind"]: r["status"] for r in networked.store.query(
        "SELECT kind, status FROM outbox WHERE kind IN ('rejected', 'reply')")}
    assert statuses == {"rejected": "sent", "reply": "failed"}
