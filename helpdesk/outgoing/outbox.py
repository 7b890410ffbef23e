"""The transactional outbox and its delivery.

``enqueue`` writes an email as a row *inside the caller's transaction*, so
an email exists if and only if the state change that causes it committed.
``deliver_due`` later hands pending rows to a transport and records the
result. The one window where an email can go out twice is a crash after the
SMTP server accepted it and before the row is marked sent; the retry then
carries the same Message-ID, so the duplicate is recognisable. We shorten
that window by marking each row sent right after its own DATA reply, not
after the batch.

Transports: ``file`` writes ``.eml`` files (the embedded default; a rename
makes each write atomic and idempotent) and ``smtp`` uses aiosmtplib with
TLS chosen explicitly, never opportunistically.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import aiosmtplib

from ..addresses import without_addresses
from ..config import Config, SmtpConfig
from ..errors import DeliveryError
from ..oauth import TokenSource, TokenUnavailable, token_source
from ..store import Store, fsync_dir, iso, now
from ..tickets import record_event
from .replies import AUTOMATIC_KINDS, Reply

log = logging.getLogger(__name__)

# Kinds that carry a password or a live link (CONTRACT §13): whoever reads
# the stored body could use it, so it is erased once delivered (only its
# SHA-256 stays), whatever the caller passed. Decided here, by kind, so
# that no new caller can forget it.
SENSITIVE_KINDS = frozenset({"reset", "account_created", "reset_link", "selfservice_link", "email_change_confirm",
                             "email_change_pending"})


@dataclass(frozen=True)
class OutboxRow:
    id: int
    ticket_id: int | None
    kind: str
    message_id: str
    mail_from: str
    rcpt_to: str
    raw: bytes
    attempts: int
    deadline: str
    sensitive: int = 0  # carries a password or a live link: its body is erased at delivery
    radicado: str | None = None  # for the log line

    def log_context(self, event: str) -> dict:
        """Log fields: the ticket, the email and its kind; never the recipient (personal data)."""
        return {"event": event, "radicado": self.radicado, "message_id": self.message_id, "kind": self.kind}


def enqueue(conn, config: Config, ticket_id: int | None, reply: Reply, sensitive: bool = False) -> int:
    """Queue ``reply``; call inside the transaction that causes it.

    ``sensitive`` (it carries a password or a live link): the body is
    erased once delivered; every kind of SENSITIVE_KINDS is, passed or not.
    """
    sensitive = sensitive or reply.kind in SENSITIVE_KINDS
    stamp = now()
    raw = reply.raw
    deadline = stamp + timedelta(hours=config.smtp.retry_hours)
    cur = conn.execute(
        "INSERT INTO outbox(ticket_id, kind, message_id, mail_from, rcpt_to, raw, next_attempt_at, deadline, created_at, "
        "sensitive) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (ticket_id, reply.kind, reply.message_id, config.smtp.from_address, reply.to, raw, iso(stamp), iso(deadline),
         iso(stamp), int(sensitive)),
    )
    conn.execute(
        "INSERT INTO messages(direction, dedup_key, message_id, ticket_id, kind, from_addr, to_addr, subject, at) "
        "VALUES ('out', ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            "out:" + reply.message_id,
            reply.message_id,
            ticket_id,
            reply.kind,
            config.smtp.from_address,
            reply.to,
            reply.subject,
            iso(stamp),
        ),
    )
    if reply.kind in AUTOMATIC_KINDS:
        conn.execute("INSERT INTO automatic_emails_per_day(day, queued) VALUES (?, 1) "
                     "ON CONFLICT(day) DO UPDATE SET queued = queued + 1", (_day(stamp),))
    return cur.lastrowid


def automatic_emails_today(conn) -> int:
    """Automatic emails queued today (UTC), for the daily cap
    (intake/pipeline.over_daily_cap): kept as they are queued, because a
    count of the day's outbox rows grew with every email of a backlog."""
    row = conn.execute("SELECT queued FROM automatic_emails_per_day WHERE day = ?", (_day(now()),)).fetchone()
    return row[0] if row else 0


def _day(stamp: datetime) -> str:
    return iso(stamp)[:10]


def due(store: Store, limit: int = 100) -> list[OutboxRow]:
    rows = store.query(
        "SELECT o.id, o.ticket_id, o.kind, o.message_id, o.mail_from, o.rcpt_to, o.raw, o.attempts, o.deadline, o.sensitive, "
        "t.radicado FROM outbox o LEFT JOIN tickets t ON t.id = o.ticket_id "
        "WHERE o.status = 'pending' AND o.next_attempt_at <= ? ORDER BY o.id LIMIT ?",
        (iso(), limit),
    )
    return [OutboxRow(**dict(r)) for r in rows]


def has_due(store: Store) -> bool:
    """Is an email due now? One probe of the (status, next_attempt_at) index."""
    return store.one("SELECT 1 FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? LIMIT 1",
                     (iso(),)) is not None


def next_due_at(store: Store) -> datetime | None:
    row = store.one("SELECT min(next_attempt_at) AS t FROM outbox WHERE status = 'pending'")
    return datetime.fromisoformat(row["t"]) if row and row["t"] else None


BATCH = 100


def deliver_due(store: Store, config: Config) -> tuple[int, int]:
    """Send everything due, a batch per connection; return (sent, failed or deferred)."""
    total_sent = total_failing = 0
    transport = None
    while rows := due(store, BATCH):
        transport = transport or make_transport(config)
        sent, failing = transport.deliver(store, config, rows)
        total_sent += sent
        total_failing += failing
        if len(rows) < BATCH or sent == 0:
            break  # all done, or the server is refusing: wait for the backoff
    return total_sent, total_failing


def make_transport(config: Config):
    if config.smtp.transport == "file":
        return FileTransport(config.path(config.smtp.path))
    ca_file = str(config.path(config.smtp.ca_file)) if config.smtp.ca_file else None
    return SmtpTransport(config.smtp, config.smtp_password(), ca_file, token_source(config, "smtp"))


def mark_sent(store: Store, row: OutboxRow) -> None:
    mark_all_sent(store, [row])


def mark_all_sent(store: Store, rows: list[OutboxRow]) -> None:
    """Record the deliveries, in one transaction; an email carrying
    passwords loses its body here.

    Only its SHA-256 stays (``fingerprint``): enough to prove later which
    email was sent, useless to read a password from.
    """
    with store.transaction() as conn:
        conn.executemany(
            "UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL, "
            "fingerprint = ?, raw = CASE WHEN sensitive = 1 THEN X'' ELSE raw END WHERE id = ?",
            [(iso(), hashlib.sha256(row.raw).hexdigest(), row.id) for row in rows],
        )
    if any(row.sensitive for row in rows):
        # The body is gone from the table, but its earlier versions still sit
        # in the write-ahead log until a checkpoint: fold the log into the
        # database (secure_delete zeroes the freed pages) and empty it.
        store.scrub_log()


def mark_failure(store: Store, config: Config, row: OutboxRow, error: DeliveryError) -> None:
    """Schedule a retry with capped exponential backoff, or give up."""
    attempts = row.attempts + 1
    delay = min(config.smtp.retry_base_seconds * 2 ** (attempts - 1), config.smtp.retry_max_seconds)
    retry_at = now() + timedelta(seconds=delay)
    give_up = error.permanent or retry_at > datetime.fromisoformat(row.deadline)
    with store.transaction() as conn:
        conn.execute(
            "UPDATE outbox SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?",
            ("failed" if give_up else "pending", attempts, iso(retry_at), str(error)[:500], row.id),
        )
        if give_up and row.ticket_id:
            record_event(conn, row.ticket_id, "sistema", "envío fallido", f"{row.kind} a {row.rcpt_to}: {error}")
    level = logging.ERROR if give_up else logging.WARNING
    outcome = "failed" if give_up else "deferred"
    log.log(level, "delivery %s after %d attempt(s): %s", outcome, attempts, without_addresses(str(error)),
            extra=row.log_context(f"delivery_{outcome}"))


class FileTransport:
    """Writes each email as ``<outbox id>-<kind>.eml``; rewriting is harmless."""

    def __init__(self, folder: Path):
        self.folder = folder

    def deliver(self, store: Store, config: Config, rows: list[OutboxRow]) -> tuple[int, int]:
        """Write the batch, then mark it sent in one transaction: a crash
        in between writes the same files again under the same names, so
        the batch needs no commit (and no fsync of the log) per email."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        names = [f"{row.id:08d}-{row.kind}.eml" for row in rows]
        for row, name in zip(rows, names):
            target = self.folder / name
            tmp = target.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(row.raw)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        fsync_dir(self.folder)  # the names, before the rows say they are there
        mark_all_sent(store, rows)
        for row, name in zip(rows, names):
            log.info("written to %s", name, extra=row.log_context("sent"))
        return len(rows), 0


class SmtpTransport:
    """aiosmtplib with explicit TLS; one connection per batch."""

    def __init__(self, smtp: SmtpConfig, password: str, ca_file: str | None = None,
                 tokens: TokenSource | None = None):
        self.smtp = smtp
        self.password = password
        self.ca_file = ca_file  # already resolved against the config file's folder
        self.tokens = tokens  # auth = "xoauth2": read at every connection

    def deliver(self, store: Store, config: Config, rows: list[OutboxRow]) -> tuple[int, int]:
        return asyncio.run(self._deliver(store, config, rows))

    async def _deliver(self, store: Store, config: Config, rows: list[OutboxRow]) -> tuple[int, int]:
        sent = failing = 0
        try:
            client = await self._connect()
        except DeliveryError as exc:
            for row in rows:
                mark_failure(store, config, row, exc)
            return 0, len(rows)
        try:
            for row in rows:
                try:
                    await self._send(client, row)
                except DeliveryError as exc:
                    mark_failure(store, config, row, exc)
                    failing += 1
                    if not client.is_connected:
                        client = await self._connect()
                    continue
                mark_sent(store, row)
                sent += 1
                log.info("sent over SMTP", extra=row.log_context("sent"))
        except DeliveryError as exc:
            log.warning("SMTP connection lost: %s", exc)
        finally:
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()
        return sent, failing

    async def _connect(self) -> aiosmtplib.SMTP:
        smtp = self.smtp
        try:
            # Before connecting: a failing token command opens no connection.
            token = self.tokens.read() if self.tokens else None
        except TokenUnavailable as exc:
            raise DeliveryError(f"SMTP {smtp.host}:{smtp.port}: no hay token de acceso: {exc}", permanent=False) from None
        # Only for TLS: loading the CA bundle costs 37 ms, once per batch.
        context = ssl.create_default_context(cafile=self.ca_file) if smtp.security != "none" else None
        client = aiosmtplib.SMTP(
            hostname=smtp.host,
            port=smtp.port,
            timeout=smtp.timeout,
            use_tls=smtp.security == "ssl",
            # Explicit: aiosmtplib's default (None) is opportunistic STARTTLS,
            # measured to send AUTH in clear text to a server without it.
            start_tls=smtp.security == "starttls",
            tls_context=context,
        )
        try:
            await client.connect()
            if token is not None:
                await self._xoauth2(client, token)
            elif smtp.username:
                await client.login(smtp.username, self.password)
        except ssl.SSLError as exc:
            raise DeliveryError(f"TLS con {smtp.host}:{smtp.port}: {exc}", permanent=False) from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            client.close()
            if token is not None:
                raise self._token_refused(exc) from None
            raise DeliveryError(f"autenticación SMTP rechazada: {exc.code} {exc.message}", permanent=False) from None
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
            if _caused_by(exc, ssl.SSLCertVerificationError):
                raise DeliveryError(f"TLS con {smtp.host}:{smtp.port}: certificado no válido: {exc}", permanent=False) from None
            raise DeliveryError(f"conexión SMTP con {smtp.host}:{smtp.port}: {exc}", permanent=False) from None
        return client

    async def _xoauth2(self, client: aiosmtplib.SMTP, token: str) -> None:
        """AUTH XOAUTH2 with aiosmtplib's own helper, which also answers the
        334 error challenge (Google's) with the empty line that gets the
        final reply."""
        if client.is_ehlo_or_helo_needed:
            await client.ehlo()
        if "xoauth2" not in client.server_auth_methods:
            offered = " ".join(client.server_auth_methods).upper() or "ninguno"
            client.close()
            raise DeliveryError(f"SMTP {self.smtp.host}:{self.smtp.port}: el servidor no ofrece AUTH XOAUTH2 "
                                f"(ofrece: {offered}); use smtp.auth = \"password\"", permanent=False)
        await client.auth_xoauth2(self.smtp.username, token)

    def _token_refused(self, exc: aiosmtplib.SMTPAuthenticationError) -> DeliveryError:
        """5xx: the token was refused (expired or revoked); 4xx: the server
        could not check it now. Both are temporary *for the emails*: they are
        retried until smtp.retry_hours, so once the token is renewed nothing
        queued meanwhile is lost (there is no command to revive a failed row)."""
        smtp = self.smtp
        said = f"{exc.code} {exc.message}"
        if 400 <= exc.code < 500:
            return DeliveryError(f"autenticación SMTP (XOAUTH2) con {smtp.host}:{smtp.port} falló temporalmente; "
                                 f"se reintentará. El servidor dijo: {said}", permanent=False)
        return DeliveryError(f"autenticación SMTP rechazada: {smtp.host}:{smtp.port}: "
                             f"{self.tokens.refused(smtp.username, said)}", permanent=False)

    async def _send(self, client: aiosmtplib.SMTP, row: OutboxRow) -> None:
        try:
            errors, _response = await client.sendmail(row.mail_from, [row.rcpt_to], row.raw)
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryError(f"{exc.code} {exc.message}", permanent=500 <= exc.code < 600) from None
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            # Said as the server said it ("550 5.1.1 ..."), not as Python's repr of the exceptions.
            said = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            raise DeliveryError(said, permanent=all(500 <= c < 600 for c in codes)) from None
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
            raise DeliveryError(f"SMTP: {exc}", permanent=False) from None
        # send() can succeed while a recipient failed: read the dict.
        if errors:
            code, message = next(iter(errors.values()))
            raise DeliveryError(f"{code} {message}", permanent=500 <= code < 600)


def _caused_by(exc: BaseException, kind: type) -> bool:
    """aiosmtplib wraps TLS failures in its own errors: look down the chain."""
    while exc is not None:
        if isinstance(exc, kind):
            return True
        exc = exc.__cause__ or exc.__context__
    return False
