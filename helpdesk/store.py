"""SQLite schema, migrations and transactions; the raw-mail store.

Every write goes through ``Store.transaction()``, which opens ``BEGIN
IMMEDIATE``: the write lock is taken at the start, so two processes never
deadlock half-way through a message (sqlite-utils' ``atomic()`` opens a
deferred transaction, measured to fail under concurrency). The database runs
in WAL mode so readers (the staff CLI) never block the daemon.

Raw inbound messages are files named by their SHA-256, written atomically
(temporary file, fsync, rename) *before* anything parses them: whatever
happens afterwards, the bytes that arrived can be read again.

The database, its folder and the raw store are shared with a group, never
with everyone: staff run their commands as themselves, members of the
service's group (README, "Install as a service"), and those commands write
the database as the daemon does.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

# Modes of what the store creates, set explicitly rather than left to the
# umask: a staff member's usual 022 would leave a file the daemon cannot
# write. SQLite gives -wal and -shm the database file's mode. A folder is
# setgid, so what anyone creates in it belongs to the folder's group.
SHARED_FILE_MODE = 0o660
SHARED_DIR_MODE = 0o2770

# Each entry upgrades the schema by one version; never edit a released one.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE tickets (
        id INTEGER PRIMARY KEY,
        radicado TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        sender TEXT NOT NULL,
        requester TEXT NOT NULL,
        subject TEXT NOT NULL,
        entity_name TEXT,
        entity_nit TEXT,
        legal_rep_name TEXT,
        legal_rep_email TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE radicado_sequence (
        year INTEGER PRIMARY KEY,
        last INTEGER NOT NULL
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        dedup_key TEXT UNIQUE,
        message_id TEXT,
        sha256 TEXT,
        ticket_id INTEGER REFERENCES tickets(id),
        kind TEXT NOT NULL,
        from_addr TEXT,
        to_addr TEXT,
        subject TEXT,
        at TEXT NOT NULL
    );
    CREATE INDEX messages_message_id ON messages(message_id);
    CREATE INDEX messages_ticket ON messages(ticket_id);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        ticket_id INTEGER REFERENCES tickets(id),
        kind TEXT NOT NULL,
        message_id TEXT NOT NULL UNIQUE,
        mail_from TEXT NOT NULL,
        rcpt_to TEXT NOT NULL,
        raw BLOB NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'sent', 'failed', 'bounced')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        deadline TEXT NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT
    );
    CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
    CREATE INDEX outbox_rcpt ON outbox(rcpt_to, created_at);
    CREATE TABLE findings (
        id INTEGER PRIMARY KEY,
        ticket_id INTEGER NOT NULL REFERENCES tickets(id),
        severity TEXT NOT NULL CHECK (severity IN ('problem', 'warning')),
        code TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        document TEXT,
        at TEXT NOT NULL
    );
    CREATE INDEX findings_ticket ON findings(ticket_id);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        ticket_id INTEGER REFERENCES tickets(id),
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX events_ticket ON events(ticket_id);
    CREATE TABLE inbox_state (
        folder TEXT PRIMARY KEY,
        uidvalidity INTEGER NOT NULL,
        last_uid INTEGER NOT NULL
    );
    CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL,
        source_ref TEXT NOT NULL,
        error TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
        attempts INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    """,
    # 2: document examination.
    """
    ALTER TABLE tickets ADD COLUMN examine_pending INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tickets ADD COLUMN form_json TEXT;
    ALTER TABLE findings ADD COLUMN source TEXT NOT NULL DEFAULT 'intake';
    CREATE TABLE documents (
        id INTEGER PRIMARY KEY,
        ticket_id INTEGER NOT NULL REFERENCES tickets(id),
        message_id INTEGER NOT NULL REFERENCES messages(id),
        part INTEGER NOT NULL,
        filename TEXT NOT NULL,
        kind TEXT,
        how TEXT NOT NULL DEFAULT '',
        type TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        error TEXT NOT NULL DEFAULT '',
        counted INTEGER NOT NULL DEFAULT 0,
        facts_json TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX documents_ticket ON documents(ticket_id);
    CREATE INDEX tickets_examine ON tickets(examine_pending) WHERE examine_pending = 1;
    """,
    # 3: staff decisions and resets.
    """
    ALTER TABLE tickets ADD COLUMN claimed_by TEXT;
    ALTER TABLE tickets ADD COLUMN claimed_at TEXT;
    ALTER TABLE outbox ADD COLUMN sensitive INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE outbox ADD COLUMN fingerprint TEXT;
    CREATE TABLE resets (
        id INTEGER PRIMARY KEY,
        ticket_id INTEGER NOT NULL REFERENCES tickets(id),
        account TEXT NOT NULL,
        backend TEXT NOT NULL,
        ok INTEGER NOT NULL,
        error TEXT NOT NULL DEFAULT '',
        actor TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX resets_ticket ON resets(ticket_id);
    """,
    # 4: the NIT's digits, indexed, so the duplicate check reads only the
    # tickets of the same entity (it read every open ticket: O(n) each).
    """
    ALTER TABLE tickets ADD COLUMN nit_number TEXT;
    CREATE INDEX tickets_nit ON tickets(nit_number);
    """,
    # 5: operations. raw_purged_at marks a raw message removed by the
    # retention policy (the row, its hash and the audit stay); daemon_status
    # holds what monitoring asks of a running daemon (last successful poll,
    # consecutive failures), readable by `helpdesk stats` from another process.
    """
    ALTER TABLE messages ADD COLUMN raw_purged_at TEXT;
    CREATE TABLE daemon_status (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    """,
    # 6: the figures (stats, metrics file) group the outbox by kind and
    # status and join it by ticket. Without covering indexes every read
    # walked the table, and those columns sit after the raw email in each
    # row, so SQLite followed every body's overflow pages to reach them.
    """
    CREATE INDEX outbox_kind_status ON outbox(kind, status);
    CREATE INDEX outbox_ticket ON outbox(ticket_id, kind, created_at, sent_at);
    """,
    # 7: `helpdesk retry` hands a quarantined message to the process that
    # holds the database's lock (the one processor, CONTRACT §8): it sets
    # retry_requested_at; the holder retries it, clears the request and
    # records retried_at and the outcome (JSON) for the command waiting.
    """
    ALTER TABLE quarantine ADD COLUMN retry_requested_at TEXT;
    ALTER TABLE quarantine ADD COLUMN retried_at TEXT;
    ALTER TABLE quarantine ADD COLUMN retry_outcome TEXT;
    CREATE INDEX quarantine_retry ON quarantine(retry_requested_at) WHERE retry_requested_at IS NOT NULL;
    """,
    # 8: follow_up marks a ticket on which the entity wrote something that no
    # automatic rule answered (CONTRACT §1, on any state): it stays set until
    # a person answers (helpdesk reply) or decides. It replaces the
    # 'follow_up' warning finding, which could not be cleared.
    """
    ALTER TABLE tickets ADD COLUMN follow_up INTEGER NOT NULL DEFAULT 0;
    UPDATE tickets SET follow_up = 1 WHERE id IN (SELECT ticket_id FROM findings WHERE code = 'follow_up');
    DELETE FROM findings WHERE code = 'follow_up';
    CREATE INDEX tickets_follow_up ON tickets(follow_up) WHERE follow_up = 1;
    """,
    # 9: the overall daily cap on automatic replies counts today's rows of
    # the outbox at every message: by date, not by walking the table.
    """
    CREATE INDEX outbox_created ON outbox(created_at, kind);
    """,
    # 10: follow_up_since: the first message (messages.id) still waiting on
    # a flagged ticket, so that `queue` shows what waits even when an
    # automatic email came after it. A flagged ticket of an older version
    # waits from its first message after our last email, else its latest.
    """
    ALTER TABLE tickets ADD COLUMN follow_up_since INTEGER;
    UPDATE tickets SET follow_up_since = coalesce(
        (SELECT min(m.id) FROM messages m WHERE m.ticket_id = tickets.id AND m.direction = 'in'
            AND m.kind IN ('request', 'reply', 'no_sender')
            AND m.id > coalesce((SELECT max(o.id) FROM messages o WHERE o.ticket_id = tickets.id
                                 AND o.direction = 'out'), 0)),
        (SELECT max(m.id) FROM messages m WHERE m.ticket_id = tickets.id AND m.direction = 'in'
            AND m.kind IN ('request', 'reply', 'no_sender')))
    WHERE follow_up = 1;
    """,
    # 11: headers_only: a message read for its headers only (over
    # max_message_bytes or max_parts). The examination skips it instead of
    # loading and counting it again, while intake may hold another as large.
    """
    ALTER TABLE messages ADD COLUMN headers_only INTEGER NOT NULL DEFAULT 0;
    """,
    # 12: trust signals. entities: the directory (directory.py), by NIT,
    # imported from a list or learned from approvals. messages.auth_json:
    # what our own receiving server's Authentication-Results said
    # (intake/authresults.py), for show and the sender_not_authenticated warning.
    """
    CREATE TABLE entities (
        nit TEXT PRIMARY KEY,
        name TEXT NOT NULL DEFAULT '',
        department TEXT NOT NULL DEFAULT '',
        municipality TEXT NOT NULL DEFAULT '',
        domains TEXT NOT NULL DEFAULT '[]',
        source TEXT NOT NULL,
        last_legal_rep_email TEXT,
        last_approved_at TEXT,
        last_radicado TEXT,
        updated_at TEXT NOT NULL
    );
    ALTER TABLE messages ADD COLUMN auth_json TEXT;
    """,
    # 13: procedures (CONTRACT §9). Every ticket records its procedure;
    # those of earlier versions were all the password reset. A procedure
    # with a radicado prefix of its own numbers its tickets apart, gapless
    # per prefix and year; '' is [radicado] prefix, the sequence so far.
    """
    ALTER TABLE tickets ADD COLUMN procedure TEXT NOT NULL DEFAULT 'reinicio-claves';
    CREATE INDEX tickets_procedure ON tickets(procedure);
    CREATE TABLE radicado_sequence_new (
        prefix TEXT NOT NULL,
        year INTEGER NOT NULL,
        last INTEGER NOT NULL,
        PRIMARY KEY (prefix, year)
    );
    INSERT INTO radicado_sequence_new(prefix, year, last) SELECT '', year, last FROM radicado_sequence;
    DROP TABLE radicado_sequence;
    ALTER TABLE radicado_sequence_new RENAME TO radicado_sequence;
    """,
    # 14: the register of corporate accounts (seed 002's FT-GTI-002): one
    # row per account with its present state, and every change to it.
    """
    CREATE TABLE corporate_accounts (
        account TEXT PRIMARY KEY COLLATE NOCASE,
        official_name TEXT NOT NULL DEFAULT '',
        official_document TEXT NOT NULL DEFAULT '',
        official_position TEXT NOT NULL DEFAULT '',
        office TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL CHECK (state IN ('activa', 'deshabilitada', 'eliminada')),
        created_at TEXT,
        modified_at TEXT,
        closed_at TEXT,
        radicado TEXT,
        decided_by TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL DEFAULT 'helpdesk',
        updated_at TEXT NOT NULL
    );
    CREATE TABLE corporate_account_changes (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL COLLATE NOCASE,
        action TEXT NOT NULL,
        radicado TEXT,
        decided_by TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        at TEXT NOT NULL
    );
    CREATE INDEX corporate_account_changes_account ON corporate_account_changes(account);
    """,
    # 15: reset by link and self-service (CONTRACT §10): single-use links
    # (only the token's hash), SMS codes (hashed), the web audit and the
    # attempts the rate limits count.
    """
    CREATE TABLE reset_links (
        id INTEGER PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        ticket_id INTEGER REFERENCES tickets(id),
        account TEXT NOT NULL,
        account_type TEXT NOT NULL DEFAULT '',
        scope_json TEXT,
        purpose TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        claimed_at TEXT,
        used_at TEXT,
        replaced_at TEXT
    );
    CREATE INDEX reset_links_account ON reset_links(account);
    CREATE INDEX reset_links_ticket ON reset_links(ticket_id);
    CREATE TABLE recovery_codes (
        id INTEGER PRIMARY KEY,
        identifier TEXT NOT NULL,
        account TEXT NOT NULL,
        code_hash TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_at TEXT,
        replaced_at TEXT
    );
    CREATE INDEX recovery_codes_identifier ON recovery_codes(identifier);
    CREATE TABLE web_events (
        id INTEGER PRIMARY KEY,
        event TEXT NOT NULL,
        link_id INTEGER,
        ticket_id INTEGER,
        account TEXT NOT NULL DEFAULT '',
        identifier TEXT NOT NULL DEFAULT '',
        client TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT '',
        at TEXT NOT NULL
    );
    CREATE INDEX web_events_ticket ON web_events(ticket_id);
    CREATE TABLE web_attempts (key TEXT NOT NULL, at TEXT NOT NULL);
    CREATE INDEX web_attempts_key ON web_attempts(key, at);
    """,
    # Automatic emails queued per day (UTC), kept as they are queued: the
    # daily cap counted the day's outbox rows for every email, which grew
    # with a backlog (6 ms per message after 3,000 of them).
    """
    CREATE TABLE automatic_emails_per_day (day TEXT PRIMARY KEY, queued INTEGER NOT NULL);
    INSERT INTO automatic_emails_per_day(day, queued)
        SELECT substr(created_at, 1, 10), count(*) FROM outbox WHERE kind IN ('ack', 'correction', 'accepted')
        GROUP BY substr(created_at, 1, 10);
    """,
    # Issue 22 (CONTRACT 13): a link staff took back (helpdesk revoke, or a
    # reject of a link_sent ticket) or that the owner's cancel killed is
    # marked revoked; and a change of registered email waits in
    # email_changes for its confirmation and its hold, the old owner's
    # cancel link stored there only as its hash.
    """
    ALTER TABLE reset_links ADD COLUMN revoked_at TEXT;
    CREATE TABLE email_changes (
        id INTEGER PRIMARY KEY,
        ticket_id INTEGER NOT NULL REFERENCES tickets(id),
        account TEXT NOT NULL,
        old_email TEXT NOT NULL,
        new_email TEXT NOT NULL,
        cancel_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        confirm_by TEXT NOT NULL,
        apply_after TEXT NOT NULL,
        confirmed_at TEXT,
        claimed_at TEXT,
        claimed_by TEXT,
        applied_at TEXT,
        ended_at TEXT,
        ended_why TEXT
    );
    CREATE INDEX email_changes_ticket ON email_changes(ticket_id);
    CREATE INDEX email_changes_due ON email_changes(apply_after) WHERE applied_at IS NULL AND ended_at IS NULL;
    """,
    # Issue 22 item 6 and 8 (helpdesk web): an SMS code belongs to the step
    # (the browser) that asked for it, so a stranger's guesses never spend
    # the owner's code, and it remembers the registered email that is told
    # of the password change; a link remembers where its use is told
    # (password_changed); the global budgets' refusals (a metric, one
    # warning per hour); the indexes the retention policy deletes by.
    """
    ALTER TABLE recovery_codes ADD COLUMN step_hash TEXT NOT NULL DEFAULT '';
    ALTER TABLE recovery_codes ADD COLUMN email TEXT NOT NULL DEFAULT '';
    CREATE TABLE link_notices (link_id INTEGER PRIMARY KEY REFERENCES reset_links(id), email TEXT NOT NULL);
    CREATE TABLE web_budgets (
        budget TEXT PRIMARY KEY,
        refused INTEGER NOT NULL DEFAULT 0,
        last_refused_at TEXT,
        warned_at TEXT
    );
    CREATE INDEX web_attempts_at ON web_attempts(at);
    CREATE INDEX web_events_at ON web_events(at);
    CREATE INDEX recovery_codes_expires ON recovery_codes(expires_at);
    """,
    # Issue 24 (CONTRACT 12, legal terms). ticket_clock: every state a
    # ticket enters, with its time, written by the database itself (the
    # triggers), so that the term's clock (helpdesk/terms/due.py) sees every
    # change whichever module makes it; entering needs_correction again (a
    # new correction asked) is recorded too, since it restarts the month the
    # requester has to answer. Tickets of earlier versions get theirs from
    # the audit trail (the examination's verdict, staff decisions).
    # term_extensions: helpdesk extend, of the entity's term ('term', art. 14
    # parágrafo) or of the requester's month to correct ('correction', the
    # extra month art. 17 lets the requester ask for). terms_digests:
    # the day whose staff digest was queued, written in the transaction that
    # queues it, so that it goes once a day across restarts.
    """
    CREATE TABLE ticket_clock (
        id INTEGER PRIMARY KEY,
        ticket_id INTEGER NOT NULL REFERENCES tickets(id),
        at TEXT NOT NULL,
        state TEXT NOT NULL
    );
    CREATE INDEX ticket_clock_ticket ON ticket_clock(ticket_id, id);
    CREATE TRIGGER ticket_clock_state AFTER UPDATE OF state ON tickets
        WHEN NEW.state IS NOT OLD.state OR NEW.state = 'needs_correction'
    BEGIN
        INSERT INTO ticket_clock(ticket_id, at, state) VALUES (NEW.id, NEW.updated_at, NEW.state);
    END;
    INSERT INTO ticket_clock(ticket_id, at, state)
        SELECT ticket_id, at, CASE
            WHEN action = 'documentos examinados' AND detail LIKE 'estado: requiere corrección%' THEN 'needs_correction'
            WHEN action = 'documentos examinados' AND detail LIKE 'estado: pendiente de aprobación%'
                THEN 'pending_approval'
            WHEN action = 'documentos examinados' THEN 'received'
            WHEN action = 'corrección pedida' THEN 'needs_correction'
            WHEN action IN ('rechazada', 'revocada') THEN 'rejected'
            WHEN action = 'aprobada' AND detail LIKE '%enlace%' THEN 'link_sent'
            WHEN action IN ('aprobada', 'resuelta', 'correo registrado cambiado') THEN 'resolved'
            WHEN action = 'cambio de correo cancelado' THEN 'pending_approval'
            ELSE 'received' END
        FROM events
        WHERE ticket_id IS NOT NULL AND action IN ('documentos examinados', 'corrección pedida', 'rechazada',
            'revocada', 'aprobada', 'resuelta', 'correo registrado cambiado', 'cambio de correo cancelado',
            'solicitud reabierta')
        ORDER BY id;
    CREATE TABLE term_extensions (
        id INTEGER PRIMARY KEY,
        ticket_id INTEGER NOT NULL REFERENCES tickets(id),
        kind TEXT NOT NULL DEFAULT 'term' CHECK (kind IN ('term', 'correction')),
        days INTEGER NOT NULL,
        due_before TEXT NOT NULL,
        due_after TEXT NOT NULL,
        reason TEXT NOT NULL,
        actor TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX term_extensions_ticket ON term_extensions(ticket_id);
    CREATE TABLE terms_digests (day TEXT PRIMARY KEY, tickets INTEGER NOT NULL, at TEXT NOT NULL);
    """,
]


def now() -> datetime:
    """The time every record and every term is taken from.

    ``HELPDESK_NOW`` (an ISO 8601 time, e.g. ``2026-12-24T14:00:00+00:00``)
    fixes it, for the tests of the legal terms only (tests/test_terms.py):
    they cross weekends, holidays and months in seconds. Never set it in
    service: every time written would be that one."""
    fixed = os.environ.get("HELPDESK_NOW")
    if fixed:
        return datetime.fromisoformat(fixed).astimezone(timezone.utc)
    return datetime.now(timezone.utc)


def iso(dt: datetime | None = None) -> str:
    return (dt or now()).isoformat(timespec="seconds")


class Store:
    """One SQLite connection plus the raw-mail folder."""

    def __init__(self, database: Path, raw_dir: Path):
        make_shared_dir(database.parent)
        self.raw_dir = raw_dir
        _create_shared(database)
        # isolation_level=None: we issue BEGIN ourselves, so sqlite3 never
        # opens a hidden deferred transaction behind our back.
        self.conn = sqlite3.connect(str(database), timeout=30, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        # Deleted content (a delivered reset email's body) is overwritten
        # with zeros, not left in free pages of the file.
        self.conn.execute("PRAGMA secure_delete=ON")
        self._migrate()

    def close(self) -> None:
        self.conn.close()

    def _migrate(self) -> None:
        with self.transaction():
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                _apply(self.conn, script)
                self.conn.execute(f"PRAGMA user_version = {number}")

    def schema_differences(self) -> list[str]:
        """What this database lacks of the schema that MIGRATIONS build, in Spanish.

        ``PRAGMA user_version`` only counts migrations: a file migrated by
        another build of helpdesk whose migration of the same number did
        something else, or edited by hand, has the right number and fails
        later, half-way through a message, on a missing column. sqlite-utils
        reads both schemas (tables, columns, indexes) for the comparison.
        """
        # Imported here: only check asks, and sqlite-utils costs 50 ms of
        # every start of the daemon and of each staff command.
        import sqlite_utils

        actual_db = sqlite_utils.Database(self.conn)
        expected = sqlite_utils.Database(memory=True)
        for script in MIGRATIONS:
            _apply(expected.conn, script)
        differences = []
        for table in expected.tables:
            actual = actual_db.table(table.name)
            if not actual.exists():
                differences.append(f"falta la tabla {table.name}")
                continue
            columns = actual.columns_dict
            differences += [f"falta la columna {table.name}.{c}" for c in table.columns_dict if c not in columns]
            indexes = {index.name for index in actual.indexes}
            differences += [f"falta el índice {index.name}" for index in table.indexes
                            if index.name not in indexes and not index.name.startswith("sqlite_autoindex_")]
        expected.close()
        return differences

    def scrub_log(self) -> bool:
        """Checkpoint the WAL and truncate it to zero bytes, so that no old
        page version (a password) stays in ``helpdesk.db-wal``. False when a
        reader held an old snapshot and the log could not be emptied yet
        (the next scrub or SQLite's own checkpoint finishes the job)."""
        busy, _log, _done = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return busy == 0

    @contextlib.contextmanager
    def transaction(self):
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def query(self, sql: str, params=()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def one(self, sql: str, params=()) -> sqlite3.Row | None:
        return self.conn.execute(sql, params).fetchone()

    # -- raw-mail store -------------------------------------------------

    def save_raw(self, raw: bytes) -> str:
        """Store raw message bytes durably; return their SHA-256."""
        digest = hashlib.sha256(raw).hexdigest()
        target = self.raw_path(digest)
        if target.exists():
            # Fresh again: retention removes a file no row names only once
            # it is old, and this one is about to be named.
            os.utime(target)
            return digest
        make_shared_dir(target.parent)
        tmp = target.with_name(f".{digest}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, SHARED_FILE_MODE)
        try:
            # Group-writable too: storing the same message again touches it
            # (utime), whoever stored it first.
            os.fchmod(fd, SHARED_FILE_MODE)
            view = memoryview(raw)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        fsync_dir(target.parent)
        return digest

    def load_raw(self, digest: str) -> bytes:
        return self.raw_path(digest).read_bytes()

    def raw_path(self, digest: str) -> Path:
        return self.raw_dir / digest[:2] / f"{digest}.eml"


def _apply(conn: sqlite3.Connection, script: str) -> None:
    """Run one migration's statements inside the caller's transaction
    (executescript would commit it first). A piece ending in ";" is run
    once SQLite calls it complete: a trigger's body holds semicolons."""
    statement = ""
    for piece in script.split(";"):
        statement += piece + ";"
        if sqlite3.complete_statement(statement):
            if statement.strip(" \n;"):
                conn.execute(statement)
            statement = ""


def make_shared_dir(path: Path) -> None:
    """``mkdir -p`` whose new folders get SHARED_DIR_MODE; an existing
    folder keeps the mode its administrator gave it."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:
            continue  # another process made it meanwhile, with the same mode
        os.chmod(folder, SHARED_DIR_MODE)


def _create_shared(path: Path) -> None:
    """Create the database file group-shared before SQLite opens it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SHARED_FILE_MODE)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, SHARED_FILE_MODE)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
