"""``helpdesk backup`` and ``helpdesk restore``: records kept safe (seed 002, §5).

A backup is a folder: ``helpdesk.db`` taken with SQLite's online backup API
(a consistent snapshot even while the daemon writes), then ``raw/`` with
the raw-mail store, then ``manifest.json``. The order makes it consistent:
every raw message is written before the transaction that records it, so
every message the snapshot knows is already on disk when ``raw/`` is
copied; newer raw files that come along are harmless.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

from ..config import Config
from ..errors import Refused
from ..safefiles import create_new
from ..store import SHARED_FILE_MODE, Store, iso, make_shared_dir


def backup(config: Config, target: Path) -> dict:
    if target.exists() and any(target.iterdir()):
        raise Refused(f"{target} ya existe y no está vacía; elija una carpeta nueva")
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    Store(config.database_path, config.raw_dir).close()  # migrated, WAL on
    source = sqlite3.connect(str(config.database_path), timeout=30)
    dest_path = target / "helpdesk.db"
    create_new(dest_path, b"")  # never through a symlink planted in the folder
    dest = sqlite3.connect(str(dest_path))
    try:
        source.backup(dest)
        counts = {table: dest.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                  for table in ("tickets", "messages", "outbox", "events")}
        # A message whose original the retention policy removed needs no file.
        needed = {row[0] for row in dest.execute(
            "SELECT sha256 FROM messages WHERE sha256 IS NOT NULL AND raw_purged_at IS NULL")}
    finally:
        dest.close()
        source.close()
    copied = _copy_tree(config.raw_dir, target / "raw")
    missing = [d for d in needed if not (target / "raw" / d[:2] / f"{d}.eml").exists()]
    if missing:
        missing = _purged_meanwhile(config, dest_path, missing)
    if missing:
        lacking = "falta 1 mensaje" if len(missing) == 1 else f"faltan {len(missing)} mensajes"
        raise Refused(f"{lacking} en el almacén de correo original; la copia está incompleta")
    manifest = {"created_at": iso(), "database": "helpdesk.db", "raw_files": copied, **counts}
    create_new(target / "manifest.json", json.dumps(manifest, indent=2).encode("utf-8"))
    return manifest


def restore(config: Config, source: Path, force: bool = False) -> dict:
    manifest_path = source / "manifest.json"
    if not manifest_path.exists():
        raise Refused(f"{source} no es una copia de helpdesk (falta manifest.json)")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    db = config.database_path
    if db.exists() and not force:
        raise Refused(f"ya existe {db}; detenga el servicio y use --force para reemplazarla")
    make_shared_dir(db.parent)
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    tmp = db.with_name(db.name + ".restoring")
    shutil.copyfile(source / manifest["database"], tmp)
    # Shared with the service's group, as the store makes it: the restore is
    # run by root or a staff member, the daemon then opens it as helpdesk.
    os.chmod(tmp, SHARED_FILE_MODE)
    os.replace(tmp, db)
    _copy_tree(source / "raw", config.raw_dir, shared=True)
    Store(db, config.raw_dir).close()  # upgrades an older backup's schema
    return manifest


def _copy_tree(src: Path, dst: Path, shared: bool = False) -> int:
    """Copy every file not already there (content-addressed: same name, same bytes).

    A backup is private to whoever took it; a restored raw store is shared
    with the service's group, as the store makes it."""
    copied = 0
    if not src.exists():
        return 0
    for path in src.rglob("*.eml"):
        target = dst / path.relative_to(src)
        if target.exists():
            continue
        if shared:
            make_shared_dir(target.parent)
        else:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            shutil.copyfile(path, target)
        except FileNotFoundError:
            continue  # removed by the retention policy while we copied
        os.chmod(target, SHARED_FILE_MODE if shared else 0o600)
        copied += 1
    return copied


def _purged_meanwhile(config: Config, snapshot: Path, missing: list[str]) -> list[str]:
    """Files the daily retention run removed after the snapshot was taken:
    mark them purged in the copy, as the live database already does; return
    the ones that are really missing."""
    live = sqlite3.connect(str(config.database_path), timeout=30)
    copy = sqlite3.connect(str(snapshot))
    still_missing = []
    try:
        for digest in missing:
            purged = live.execute("SELECT max(raw_purged_at) FROM messages WHERE sha256 = ? "
                                  "AND raw_purged_at IS NOT NULL", (digest,)).fetchone()[0]
            if purged is None:
                still_missing.append(digest)
                continue
            with copy:
                copy.execute("UPDATE messages SET raw_purged_at = ? WHERE sha256 = ? AND raw_purged_at IS NULL",
                             (purged, digest))
    finally:
        live.close()
        copy.close()
    return still_missing
