"""Radicado numbering and the quarantine: gapless, concurrent, never lost."""

import multiprocessing
import os
import stat
from pathlib import Path

from helpdesk import tickets
from helpdesk.intake import quarantine
from helpdesk.store import Store

from . import mails
from .conftest import Embedded, embedded_sections, run_helpdesk, write_config


def _allocate(db_path: str, raw_dir: str, count: int, queue) -> None:
    store = Store(__import__("pathlib").Path(db_path), __import__("pathlib").Path(raw_dir))
    got = []
    for _ in range(count):
        with store.transaction() as conn:
            got.append(tickets.allocate_radicado(conn, "GEL", 2026))
    queue.put(got)


def test_two_processes_allocate_gapless_unique_radicados(tmp_path):
    Store(tmp_path / "h.db", tmp_path / "raw").close()  # schema first
    queue = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_allocate, args=(str(tmp_path / "h.db"), str(tmp_path / "raw"), 300, queue))
             for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    numbers = sorted(int(r.rsplit("-", 1)[1]) for got in results for r in got)
    assert numbers == list(range(1, 601))


def test_rolled_back_transaction_leaves_no_gap(tmp_path):
    store = Store(tmp_path / "h.db", tmp_path / "raw")
    with store.transaction() as conn:
        assert tickets.allocate_radicado(conn, "GEL", 2026) == "GEL-2026-000001"
    try:
        with store.transaction() as conn:
            tickets.allocate_radicado(conn, "GEL", 2026)
            raise RuntimeError("crash inside the transaction")
    except RuntimeError:
        pass
    with store.transaction() as conn:
        assert tickets.allocate_radicado(conn, "GEL", 2026) == "GEL-2026-000002"
        assert tickets.allocate_radicado(conn, "GEL", 2027) == "GEL-2027-000001"


def test_database_and_raw_store_are_shared_with_the_group_only_whatever_the_umask(tmp_path):
    # A staff member's usual umask (022) would leave files the daemon, in
    # the same group, cannot write; the service's own (0007) is looser.
    old = os.umask(0o022)
    try:
        env = Embedded(tmp_path / "data" / "helpdesk")
        env.deliver(mails.request())
        env.run_once()
        held_open = [Path(f"{env.config.database_path}{suffix}") for suffix in ("-wal", "-shm")]
        modes = {p: stat.S_IMODE(p.stat().st_mode) for p in held_open}
        env.daemon.close()
        env.store.close()
    finally:
        os.umask(old)
    database = env.config.database_path
    raw_files = list(env.config.raw_dir.rglob("*.eml"))
    assert stat.S_IMODE(database.stat().st_mode) == 0o660
    assert modes == {p: 0o660 for p in held_open}
    assert raw_files and all(stat.S_IMODE(f.stat().st_mode) == 0o660 for f in raw_files)
    # Folders the store made: group-writable and setgid, so a file anyone
    # makes in them belongs to their group; nothing for other users.
    made = [env.config.raw_dir, *{f.parent for f in raw_files}]
    assert all(stat.S_IMODE(d.stat().st_mode) == 0o2770 for d in made)
    out_files = list((env.root / "outbox").glob("*.eml"))
    assert out_files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in out_files)


def test_store_leaves_an_existing_folder_as_its_administrator_made_it(tmp_path):
    os.chmod(tmp_path, 0o750)
    Store(tmp_path / "helpdesk.db", tmp_path / "raw").close()
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o750


def test_schema_differences_name_what_another_build_left_out(tmp_path):
    store = Store(tmp_path / "helpdesk.db", tmp_path / "raw")
    assert store.schema_differences() == []
    # Same user_version, other schema: what a migration of the same number
    # from another build, or an edit by hand, leaves behind.
    with store.transaction() as conn:
        conn.execute("DROP INDEX tickets_nit")
        conn.execute("ALTER TABLE tickets DROP COLUMN claimed_at")
        conn.execute("DROP TABLE resets")
    assert store.schema_differences() == [
        "falta la columna tickets.claimed_at", "falta el índice tickets_nit", "falta la tabla resets"]
    store.close()
    config = write_config(tmp_path / "config.toml", embedded_sections(storage={"database": "helpdesk.db"}))
    result = run_helpdesk("--config", config, "check", cwd=tmp_path)
    assert result.returncode == 1
    assert "FALLA base de datos" in result.stdout and "falta la tabla resets" in result.stdout


def test_raw_bytes_are_stored_before_processing(embedded):
    raw = mails.request()
    embedded.deliver(raw)
    embedded.run_once()
    [row] = embedded.store.query("SELECT sha256 FROM messages WHERE direction = 'in'")
    assert embedded.store.load_raw(row["sha256"]) == raw


def broken_templates(root):
    """A template with an error, as an operator's bad edit would leave it."""
    import shutil
    from pathlib import Path

    src = Path(__file__).resolve().parent.parent / "templates"
    dst = root / "templates"
    shutil.copytree(src, dst)
    (dst / "ack.txt.j2").write_text("Radicado {{ radicado }} {{ variable_que_no_existe }}\n", encoding="utf-8")
    return dst


def test_failing_message_is_quarantined_does_not_block_and_can_be_retried(tmp_path):
    templates = broken_templates(tmp_path)
    env = Embedded(tmp_path, replies={"templates": str(templates)})
    env.deliver(mails.request(subject="primera"))
    env.deliver(mails.request(subject="segunda", headers={"Auto-Submitted": "auto-replied"}))
    outcomes = env.run_once()
    # The first fails (its ack cannot render); the robot behind it is handled.
    assert [o.action for o in outcomes] == ["quarantined", "ignored"]
    assert env.count("SELECT count(*) FROM tickets") == 0  # rolled back: no radicado used
    [item] = quarantine.listing(env.store)
    assert "variable_que_no_existe" in item.error
    assert not list((tmp_path / "inbox" / "new").iterdir())  # moved, not blocking

    # The operator fixes the template, then retries.
    (templates / "ack.txt.j2").write_text("Radicado {{ radicado }}\n", encoding="utf-8")
    fixed = Embedded(tmp_path, replies={"templates": str(templates)})
    outcome = fixed.daemon.retry(item)
    fixed.daemon.deliver()
    assert outcome.action == "new_ticket" and outcome.radicado.endswith("-000001")
    assert quarantine.listing(fixed.store) == []
    assert len(fixed.sent()) == 1
