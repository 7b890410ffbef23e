"""Every earlier schema version upgrades to the current one, keeping its data."""

import sqlite3

import pytest

from helpdesk.store import MIGRATIONS, Store, _apply

SEED = {
    # version -> statements valid at that version, run before upgrading
    1: ["INSERT INTO tickets(radicado, state, sender, requester, subject, created_at, updated_at) "
        "VALUES ('GEL-2026-000001', 'received', 'a@b.gov.co', 'a@b.gov.co', 'x', '2026-01-01', '2026-01-01')",
        "INSERT INTO radicado_sequence(year, last) VALUES (2026, 1)"],
}


def build(path, version: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:version], start=1):
        _apply(conn, script)  # as Store runs them: a trigger's body holds semicolons
        for statement in SEED.get(number, []):  # the data of that version, which later ones carry on
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.close()


@pytest.mark.parametrize("version", range(len(MIGRATIONS) + 1))
def test_upgrade_from_every_earlier_version(tmp_path, version):
    db = tmp_path / "helpdesk.db"
    build(db, version)
    store = Store(db, tmp_path / "raw")
    assert store.one("PRAGMA user_version")[0] == len(MIGRATIONS)
    columns = {r["name"] for r in store.query("PRAGMA table_info(tickets)")}
    assert {"examine_pending", "form_json", "claimed_by", "nit_number"} <= columns
    assert "raw_purged_at" in {r["name"] for r in store.query("PRAGMA table_info(messages)")}
    assert store.one("SELECT count(*) FROM daemon_status")[0] == 0
    if version >= 1:
        row = store.one("SELECT radicado, state, examine_pending FROM tickets")
        assert tuple(row) == ("GEL-2026-000001", "received", 0)
        with store.transaction() as conn:
            from helpdesk.tickets import allocate_radicado

            assert allocate_radicado(conn, "GEL", 2026) == "GEL-2026-000002"
            # A procedure's own prefix starts its own sequence.
            assert allocate_radicado(conn, "CTA", 2026, own_prefix=True) == "CTA-2026-000001"
        assert store.one("SELECT procedure FROM tickets")[0] == "reinicio-claves"  # what every old ticket was
    store.close()
    # Opening again changes nothing.
    again = Store(db, tmp_path / "raw")
    assert again.one("PRAGMA user_version")[0] == len(MIGRATIONS)
    again.close()
