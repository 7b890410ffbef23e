"""The retention policy: which raw mail is due for removal, and removing it.

Records (seed 002, section 5) are kept; the bulky copies of what entities
sent are not kept forever. ``plan`` decides, reading only; ``apply`` removes
what a plan lists. ``helpdesk purge --dry-run`` prints a plan, ``helpdesk
purge`` and the daemon (once a day) apply one.

What goes, per ``[retention]`` (0 keeps forever):

- the raw inbound messages (so the attachments) of tickets ``resolved`` or
  ``rejected`` more than ``closed_ticket_days`` ago, when the message itself
  is that old too (a late follow-up waits its own turn);
- raw messages tied to no ticket (auto-replies, bounces of nothing we sent,
  lists) older than ``unlinked_days``, and raw files no row names at all
  (the second copy of a message delivered twice) whose file is that old;
- with ``outbox_days``, the bodies of delivered emails of closed tickets
  (their SHA-256 ``fingerprint`` stays, as for reset emails);
- helpdesk web's rows (issue 22, item 8: a dead link opened 500 times a
  second wrote a row each time, and nothing ever removed them):
  ``web_events`` of no ticket (self-service lookups, sends, codes,
  refusals) older than ``web_events_days`` (180: they hold identifiers and
  client addresses, personal data, and half a year covers an owner who
  learns late that a change was not theirs); ``web_attempts`` older than a
  day (the rate limits and budgets count one hour); ``recovery_codes``, and
  the addresses a link's use is told (``link_notices``), a day after they
  expired (a dead code or link is useless; what happened stays in
  ``web_events``). A ticket's own web events stay with the ticket.

What stays: every row (messages keep their SHA-256 and get
``raw_purged_at``), tickets, form fields, document metadata, findings,
events and resets; each ticket's history gains one event saying what was
removed and when.

The raw store is content-addressed, so one file can be named by several
rows: a file is removed only when every message row naming it is due and no
open quarantine entry names it; otherwise it is held and counted.

Crash safety. The rows are marked in one transaction and the files unlinked
after its commit. A crash in between leaves files whose every row is marked
purged: harmless, and the next run removes them (``LEFTOVER``). The reverse
order could leave a row the database believes readable with no file, which
is the one state every reader must never meet. ``apply`` checks each item
again inside the transaction (``BEGIN IMMEDIATE`` holds the write lock), so
a plan made earlier, or a purge running beside the daemon, never removes a
file that became referenced meanwhile.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from .. import wording
from ..config import Config
from ..faults import crash_point
from ..store import Store, iso, now
from ..tickets import REJECTED, RESOLVED, record_event

log = logging.getLogger(__name__)

CLOSED_STATES = (RESOLVED, REJECTED)

# Why an item is due; printed by ``helpdesk purge``.
CLOSED_TICKET = "closed_ticket"  # raw inbound mail of a ticket closed long ago
UNLINKED = "unlinked"  # raw inbound mail tied to no ticket
ORPHAN = "orphan"  # raw file no row names (a duplicate delivery's bytes)
LEFTOVER = "leftover"  # raw file of rows already marked purged (a crash after the commit)
OUTBOX_BODY = "outbox_body"  # body of a delivered email of a ticket closed long ago

# helpdesk web's rows that are only useful for a while (see the docstring).
WEB_ATTEMPTS_KEPT = timedelta(days=1)  # the longest window counted is an hour
WEB_EXPIRED_KEPT = timedelta(days=1)  # codes and link notices, after they expired

ACTOR = "sistema"
_HEX = frozenset("0123456789abcdef")
EVENT = "adjuntos eliminados por retención"


@dataclass(frozen=True)
class Item:
    """One thing to remove: a raw file (by SHA-256) or an outbox row's body."""

    reason: str
    sha256: str  # the raw file's name, or the outbox row's fingerprint
    radicado: str | None
    bytes: int
    message_rows: tuple[int, ...] = ()  # messages.id to mark raw_purged_at
    outbox_row: int | None = None  # outbox.id whose body is erased


@dataclass(frozen=True)
class WebRows:
    """helpdesk web's rows due, counted; removed by their cutoffs."""

    events: int = 0  # web_events of no ticket older than web_events_days
    attempts: int = 0  # web_attempts older than WEB_ATTEMPTS_KEPT
    codes: int = 0  # recovery_codes expired more than WEB_EXPIRED_KEPT ago
    notices: int = 0  # link_notices of links expired that long ago
    events_before: str = ""  # the cutoffs ("" : that kind is kept)
    attempts_before: str = ""
    expired_before: str = ""

    @property
    def total(self) -> int:
        return self.events + self.attempts + self.codes + self.notices


@dataclass(frozen=True)
class Plan:
    at: str  # the "now" the cutoffs were computed from
    items: tuple[Item, ...]
    held: int = 0  # due files kept because something retained still names them
    web: WebRows = WebRows()

    @property
    def bytes(self) -> int:
        return sum(i.bytes for i in self.items)


@dataclass(frozen=True)
class Report:
    items: tuple[Item, ...]  # what was removed
    skipped: int = 0  # plan items found unsafe or already done at apply time

    @property
    def bytes(self) -> int:
        return sum(i.bytes for i in self.items)

    @property
    def tickets(self) -> int:
        return len({i.radicado for i in self.items if i.radicado})


def purge(store: Store, config: Config) -> Report:
    """Plan and apply now: what the daemon calls once a day."""
    return apply(store, config, plan(store, config, now()))


def plan(store: Store, config: Config, at: datetime) -> Plan:
    """What the policy removes at ``at``; reads only."""
    policy = config.retention
    live, purged, quarantined = _references(store.conn)
    due: dict[str, list] = defaultdict(list)  # sha256 -> [(message id, radicado or None)]
    if policy.closed_ticket_days:
        cutoff = iso(at - timedelta(days=policy.closed_ticket_days))
        for row in store.query(
            "SELECT m.id, m.sha256, t.radicado FROM messages m JOIN tickets t ON t.id = m.ticket_id "
            "WHERE m.direction = 'in' AND m.sha256 IS NOT NULL AND m.raw_purged_at IS NULL "
            f"AND t.state IN ({_marks(CLOSED_STATES)}) AND t.updated_at < ? AND m.at < ? ORDER BY m.id",
            (*CLOSED_STATES, cutoff, cutoff),
        ):
            due[row["sha256"]].append((row["id"], row["radicado"]))
    if policy.unlinked_days:
        cutoff = iso(at - timedelta(days=policy.unlinked_days))
        for row in store.query(
            "SELECT id, sha256 FROM messages WHERE direction = 'in' AND ticket_id IS NULL AND sha256 IS NOT NULL "
            "AND raw_purged_at IS NULL AND at < ? ORDER BY id",
            (cutoff,),
        ):
            due[row["sha256"]].append((row["id"], None))

    items: list[Item] = []
    held = 0
    for sha, rows in due.items():
        ids = {r[0] for r in rows}
        if live[sha] - ids or sha in quarantined:
            held += 1  # another retained message, or an open quarantine entry, still needs the bytes
            continue
        radicado = next((r[1] for r in rows if r[1]), None)
        reason = CLOSED_TICKET if radicado else UNLINKED
        items.append(Item(reason, sha, radicado, _size(store, sha), tuple(sorted(ids))))
    items += _stray_files(store, config, at, live, purged, quarantined)
    items += _outbox_bodies(store, config, at)
    return Plan(iso(at), tuple(items), held, _web_rows(store, config, at))


def apply(store: Store, config: Config, plan: Plan) -> Report:
    """Mark the rows in one transaction, then unlink the files."""
    if plan.web.total:
        _delete_web_rows(store, plan.web)
    if not plan.items:
        return Report(())  # the usual day: no write lock taken
    stamp = iso()
    done: list[Item] = []
    skipped = 0
    with store.transaction() as conn:
        # Checked again under the write lock: the plan may be older than
        # the last message the daemon committed.
        live, _purged, quarantined = _references(conn)
        for item in plan.items:
            if item.outbox_row is not None:
                erased = conn.execute(
                    "UPDATE outbox SET raw = X'' WHERE id = ? AND status IN ('sent', 'bounced') "
                    "AND fingerprint IS NOT NULL AND length(raw) > 0",
                    (item.outbox_row,),
                ).rowcount
                if erased:
                    done.append(item)
                else:
                    skipped += 1
                continue
            if live[item.sha256] - set(item.message_rows) or item.sha256 in quarantined:
                skipped += 1
                continue
            marked = sum(conn.execute("UPDATE messages SET raw_purged_at = ? WHERE id = ? AND raw_purged_at IS NULL",
                                      (stamp, row)).rowcount for row in item.message_rows)
            if item.message_rows and not marked:
                skipped += 1  # another purge got there first
                continue
            done.append(item)
        groups = by_ticket(done)
        for radicado, items in groups.items():
            if radicado:
                record_event(conn, _ticket_id(conn, radicado), ACTOR, EVENT, _event_detail(config, items))
    crash_point("retention_after_commit")
    for item in done:
        if item.outbox_row is None:
            store.raw_path(item.sha256).unlink(missing_ok=True)
    for radicado, items in groups.items():
        if not radicado:
            continue
        log.info("retention: %d raw message(s), %d outbox body(ies) removed, %d bytes",
                 sum(1 for i in items if i.outbox_row is None), sum(1 for i in items if i.outbox_row is not None),
                 sum(i.bytes for i in items), extra={"event": "purged", "radicado": radicado})
    report = Report(tuple(done), skipped)
    if done or skipped:
        log.info("retention: %d item(s) removed from %d ticket(s), %d bytes freed, %d skipped",
                 len(done), report.tickets, report.bytes, skipped)
    return report


def _references(conn) -> tuple[defaultdict[str, set[int]], set[str], set[str]]:
    """(sha256 -> unpurged message ids, sha256 of purged rows, sha256 in open quarantine)."""
    live: defaultdict[str, set[int]] = defaultdict(set)
    for row in conn.execute("SELECT id, sha256 FROM messages WHERE sha256 IS NOT NULL AND raw_purged_at IS NULL"):
        live[row[1]].add(row[0])
    purged = {row[0] for row in conn.execute("SELECT DISTINCT sha256 FROM messages WHERE raw_purged_at IS NOT NULL")}
    quarantined = {row[0] for row in conn.execute("SELECT sha256 FROM quarantine WHERE status = 'open'")}
    return live, purged, quarantined


def _stray_files(store: Store, config: Config, at: datetime, live, purged: set[str],
                 quarantined: set[str]) -> list[Item]:
    """Raw files no retained row names: leftovers of a crash, and unrecorded duplicates.

    A file no row names at all is removed only once it is ``unlinked_days``
    old: the daemon stores a message's bytes a moment before the transaction
    that records it, and a fresh file may be that moment.
    """
    if not store.raw_dir.is_dir():
        return []
    cutoff = (at - timedelta(days=config.retention.unlinked_days)).timestamp()
    items = []
    for folder in os.scandir(store.raw_dir):
        if not folder.is_dir(follow_symlinks=False):
            continue
        for entry in os.scandir(folder.path):
            sha, _dot, suffix = entry.name.partition(".")
            if suffix != "eml" or len(sha) != 64 or not _HEX.issuperset(sha):
                continue  # not a stored message (a temporary file, or someone else's)
            if sha in live or sha in quarantined:
                continue
            stat = entry.stat(follow_symlinks=False)
            if sha in purged:
                items.append(Item(LEFTOVER, sha, None, stat.st_size))
            elif config.retention.unlinked_days and stat.st_mtime < cutoff:
                items.append(Item(ORPHAN, sha, None, stat.st_size))
    return items


def _outbox_bodies(store: Store, config: Config, at: datetime) -> list[Item]:
    days = config.retention.outbox_days
    if not days:
        return []
    cutoff = iso(at - timedelta(days=days))
    rows = store.query(
        "SELECT o.id, o.fingerprint, length(o.raw) AS size, t.radicado "
        "FROM outbox o JOIN tickets t ON t.id = o.ticket_id "
        f"WHERE t.state IN ({_marks(CLOSED_STATES)}) AND t.updated_at < ? AND o.status IN ('sent', 'bounced') "
        "AND o.fingerprint IS NOT NULL AND o.sent_at < ? AND length(o.raw) > 0 ORDER BY o.id",
        (*CLOSED_STATES, cutoff, cutoff),
    )
    return [Item(OUTBOX_BODY, r["fingerprint"], r["radicado"], r["size"], outbox_row=r["id"]) for r in rows]


def _web_rows(store: Store, config: Config, at: datetime) -> WebRows:
    days = config.retention.web_events_days
    events_before = iso(at - timedelta(days=days)) if days else ""
    attempts_before = iso(at - WEB_ATTEMPTS_KEPT)
    expired_before = iso(at - WEB_EXPIRED_KEPT)
    events = store.one("SELECT count(*) FROM web_events WHERE ticket_id IS NULL AND at < ?",
                       (events_before,))[0] if days else 0
    return WebRows(
        events=events,
        attempts=store.one("SELECT count(*) FROM web_attempts WHERE at < ?", (attempts_before,))[0],
        codes=store.one("SELECT count(*) FROM recovery_codes WHERE expires_at < ?", (expired_before,))[0],
        notices=store.one("SELECT count(*) FROM link_notices WHERE link_id IN "
                          "(SELECT id FROM reset_links WHERE expires_at < ?)", (expired_before,))[0],
        events_before=events_before, attempts_before=attempts_before, expired_before=expired_before)


def _delete_web_rows(store: Store, rows: WebRows) -> None:
    """Delete by the plan's cutoffs (rows that aged since the plan go too:
    they are just as due)."""
    with store.transaction() as conn:
        if rows.events_before:
            conn.execute("DELETE FROM web_events WHERE ticket_id IS NULL AND at < ?", (rows.events_before,))
        conn.execute("DELETE FROM web_attempts WHERE at < ?", (rows.attempts_before,))
        conn.execute("DELETE FROM recovery_codes WHERE expires_at < ?", (rows.expired_before,))
        conn.execute("DELETE FROM link_notices WHERE link_id IN (SELECT id FROM reset_links WHERE expires_at < ?)",
                     (rows.expired_before,))
    log.info("retention: helpdesk web rows removed: %d event(s), %d attempt(s), %d code(s), %d notice address(es)",
             rows.events, rows.attempts, rows.codes, rows.notices, extra={"event": "purged_web"})


def web_line(rows: WebRows, config: Config, dry_run: bool) -> str:
    """What ``helpdesk purge`` says of helpdesk web's rows, in Spanish."""
    # Four counts joined by "y" make a plural subject, whatever each count is.
    verb = "Se eliminarían" if dry_run else "Eliminados"
    events = wording.count(rows.events, "evento", "eventos")
    attempts = wording.count(rows.attempts, "intento contado", "intentos contados")
    codes = wording.count(rows.codes, "código", "códigos")
    notices = wording.count(rows.notices, "dirección", "direcciones")
    return (f"Página web (helpdesk web): {verb} {events} sin solicitud (más de "
            f"{wording.count(config.retention.web_events_days, 'día', 'días')}), {attempts} por los límites (más de "
            f"un día), {codes} SMS y {notices} de aviso vencidos hace más de un día.")


def _size(store: Store, sha: str) -> int:
    try:
        return store.raw_path(sha).stat().st_size
    except FileNotFoundError:
        # Not ours to explain; marking the row records that the bytes are gone.
        log.warning("retention: raw file %s is already missing", sha[:12])
        return 0


def by_ticket(items) -> dict[str | None, list[Item]]:
    """Items grouped by radicado; None gathers the mail tied to no ticket."""
    grouped: dict[str | None, list[Item]] = defaultdict(list)
    for item in items:
        grouped[item.radicado or None].append(item)
    return grouped


def _ticket_id(conn, radicado: str) -> int:
    return conn.execute("SELECT id FROM tickets WHERE radicado = ?", (radicado,)).fetchone()[0]


def _event_detail(config: Config, items: list[Item]) -> str:
    raw = sum(1 for i in items if i.outbox_row is None)
    sent = len(items) - raw
    parts = []
    if raw:
        parts.append(f"{wording.count(raw, 'correo recibido', 'correos recibidos')} con sus adjuntos "
                     f"(cerrada hace más de {wording.count(config.retention.closed_ticket_days, 'día', 'días')})")
    if sent:
        parts.append(f"el cuerpo de {wording.count(sent, 'correo enviado', 'correos enviados')} "
                     f"(más de {wording.count(config.retention.outbox_days, 'día', 'días')})")
    return "; ".join(parts) + "; se conservan los datos, la huella SHA-256 y el historial"


def _marks(values) -> str:
    return ",".join("?" * len(values))
