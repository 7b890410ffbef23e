"""Radicado numbering and the quarantine: gapless, concurrent, never lost."""

import multiprocessing
import stat

from helpdesk import quarantine, tickets
from helpdesk.store import Store

from . import mails
from .conftest import Embedded


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


def test_database_and_raw_store_are_owner_only(embedded):
    embedded.deliver(mails.request())
    embedded.run_once()
    db_mode = stat.S_IMODE(embedded.config.database_path.stat().st_mode)
    raw_files = list(embedded.config.raw_dir.rglob("*.eml"))
    assert db_mode == 0o600
    assert raw_files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in raw_files)
    out_files = list((embedded.root / "outbox").glob("*.eml"))
    assert out_files and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in out_files)


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
