"""Where requests come from: an IMAP folder or a local Maildir.

Both sources speak the same small protocol to the daemon:

- ``fetch()`` yields ``Incoming`` messages not yet handled;
- ``done(incoming)`` is called *after* the message's transaction committed,
  and moves it out of the way (IMAP: to ``processed_folder``; Maildir: to
  ``cur/`` with the ``S`` flag);
- ``wait(seconds, stopping)`` blocks until new mail may be there.

A crash between the commit and ``done`` leaves the message in place; the
next ``fetch`` yields it again and the pipeline's deduplication makes
nothing new of it, so ``done`` simply completes the move.

IMAP bookkeeping is ``(folder, uidvalidity, last_uid)`` in the database,
as getmail does: UIDs at or below ``last_uid`` were committed and only need
moving, and a UIDVALIDITY change (the server renumbered the folder) resets
``last_uid`` so everything is read again, deduplication making it harmless.
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import IMAPClientError, LoginError

from ..config import Config
from ..errors import InboxError
from ..oauth import TokenSource, TokenUnavailable, token_source
from ..store import Store
from .message import TRUNCATED_HEADER

log = logging.getLogger(__name__)

# Errors that mean "this connection is unusable": reconnect.
CONNECTION_ERRORS = (IMAPClientError, OSError, ssl.SSLError, socket.timeout, EOFError)
# UIDs per SEARCH: imaplib refuses response lines over 1,000,000 bytes.
SEARCH_WINDOW = 50_000
# Messages fetched in one command while the ones before are processed:
# two chunks of requests of 685 KB in memory at once, 14 MB.
PREFETCH = 10


@dataclass(frozen=True)
class Incoming:
    ref: str  # where it came from, for logs and the quarantine list
    raw: bytes
    key: object  # source-specific handle (IMAP UID, Maildir file name)
    sha256: str | None = None  # set when the source already stored the raw bytes (Store.save_raw)


def open_source(config: Config, store: Store):
    if config.inbox.source == "imap":
        return ImapSource(config, store)
    return MaildirSource(config.path(config.inbox.path), config.inbox.poll_seconds, config.limits.max_message_bytes)


# The header block of an oversized message is read from at most this much.
HEADER_BYTES = 256 * 1024


def _by_total_size(uids: list[int], sizes: dict, limit: int) -> list[list[int]]:
    """``uids`` in runs whose RFC822.SIZE adds up to at most ``limit`` (one
    message larger than that is a run of its own)."""
    runs: list[list[int]] = []
    total = limit + 1
    for uid in uids:
        size = sizes.get(uid, {}).get(b"RFC822.SIZE", 0)
        if total + size > limit:
            runs.append([])
            total = 0
        runs[-1].append(uid)
        total += size
    return runs


def interruptible_sleep(seconds: float, stopping: Callable[[], bool]) -> None:
    """Sleep up to ``seconds``, waking each second to honour a stop request."""
    deadline = time.monotonic() + seconds
    while not stopping() and (left := deadline - time.monotonic()) > 0:
        time.sleep(min(1.0, left))


class MaildirSource:
    """A Maildir folder on disk: the embedded default, no server needed."""

    def __init__(self, path: Path, poll_seconds: int, max_bytes: int = 40 * 1024 * 1024):
        self.path = path
        self.poll_seconds = poll_seconds
        self.max_bytes = max_bytes
        for sub in ("new", "cur", "tmp"):
            (path / sub).mkdir(parents=True, exist_ok=True, mode=0o700)

    def fetch(self) -> Iterator[Incoming]:
        for folder, name in self._pending():
            try:
                raw = self._read(self.path / folder / name)
            except FileNotFoundError:  # taken by another reader meanwhile
                continue
            yield Incoming(ref=f"maildir:{folder}/{name}", raw=raw, key=(folder, name))

    def _read(self, path: Path) -> bytes:
        """The message, or only its headers when it is larger than the limit
        (as the IMAP source does): an oversized file never enters memory."""
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size <= self.max_bytes:
                return fh.read()
            head = fh.read(HEADER_BYTES)
        ends = [i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0]
        header = head[: min(ends) + 2] if ends else head
        return TRUNCATED_HEADER + f" {size} bytes\r\n".encode() + header

    def _pending(self) -> list[tuple[str, str]]:
        found = [("new", n) for n in os.listdir(self.path / "new") if not n.startswith(".")]
        for name in os.listdir(self.path / "cur"):
            _base, _sep, info = name.partition(":2,")
            if not name.startswith(".") and "S" not in info:
                found.append(("cur", name))
        # Maildir names start with the delivery time: oldest first.
        return sorted(found, key=lambda item: item[1])

    def done(self, incoming: Incoming) -> None:
        folder, name = incoming.key
        base, _sep, info = name.partition(":2,")
        flags = "".join(sorted(set(info) | {"S"}))
        try:
            os.replace(self.path / folder / name, self.path / "cur" / f"{base}:2,{flags}")
        except FileNotFoundError:
            pass  # already moved: done() is idempotent

    def flush(self) -> None:
        """Nothing waits: a rename per message costs nothing to group."""

    def wait(self, seconds: float, stopping: Callable[[], bool]) -> None:
        interruptible_sleep(min(seconds, self.poll_seconds), stopping)

    def close(self) -> None:
        pass


def _quiet_imaplib(client: IMAPClient) -> None:
    """imapclient sets imaplib's ``debug = 5`` and routes its messages to a
    logger; imaplib then formats ``%r`` of every response it stores before
    the logger can drop it: the repr of each fetched message, four times its
    size (178 MB at once for a 41 MB message) and CPU on every message. The
    logger stays at WARNING anyway (operations/logs.py), so imaplib's own tracing goes."""
    client._imap.debug = 0


class ImapSource:
    """An IMAP folder read with imapclient; IDLE when offered, else polling."""

    def __init__(self, config: Config, store: Store):
        self.cfg = config.inbox
        self.ca_file = str(config.path(config.inbox.ca_file)) if config.inbox.ca_file else None
        self.max_bytes = config.limits.max_message_bytes
        self.password = config.inbox_password()
        # auth = "xoauth2": the access token is read at every login.
        self.tokens: TokenSource | None = token_source(config, "inbox")
        self.store = store
        self.client: IMAPClient | None = None
        self.uidvalidity = 0
        self.uidnext = 0
        self._handled: list[int] = []  # committed, not yet moved (flush)
        self._given: list[int] = []  # handed to the daemon since the last flush, handled or not
        self._skipped: int | None = None  # this pass's lowest UID handed out and not handled

    # -- connection -----------------------------------------------------

    def connect(self) -> IMAPClient:
        cfg = self.cfg
        # Loading the system's CAs costs 27 ms: not for a connection without TLS.
        context = ssl.create_default_context(cafile=self.ca_file) if cfg.security != "none" else None
        timeout = SocketTimeout(connect=cfg.connect_timeout, read=cfg.read_timeout)
        try:
            # Before connecting: a failing token command opens no connection.
            token = self.tokens.read() if self.tokens else None
        except TokenUnavailable as exc:
            raise InboxError(f"IMAP {cfg.host}:{cfg.port}: no hay token de acceso: {exc}") from None
        try:
            client = IMAPClient(cfg.host, port=cfg.port, ssl=cfg.security == "ssl", ssl_context=context, timeout=timeout)
            _quiet_imaplib(client)
            if cfg.security == "starttls":
                if not client.has_capability("STARTTLS"):
                    raise InboxError(f"{cfg.host}:{cfg.port} no ofrece STARTTLS; no se enviará la contraseña sin cifrar")
                client.starttls(context)
            if token is not None:
                client.oauth2_login(cfg.username, token)
            elif (cfg.username + self.password).isascii():
                client.login(cfg.username, self.password)
            else:
                # imaplib's LOGIN encodes its arguments as ASCII and raised
                # UnicodeEncodeError on "contraseña"; SASL PLAIN carries
                # UTF-8 (RFC 4616) and every server we know offers it.
                client.plain_login(cfg.username, self.password)
            if not client.folder_exists(cfg.processed_folder):
                client.create_folder(cfg.processed_folder)
        except LoginError as exc:
            if self.tokens:
                raise InboxError(self._token_refused(client, exc)) from None
            raise InboxError(f"IMAP {cfg.host}:{cfg.port}: el servidor rechazó el usuario {cfg.username}: {_text(exc)}") from None
        except ssl.SSLCertVerificationError as exc:
            raise InboxError(f"IMAP {cfg.host}:{cfg.port}: certificado no válido: {exc.verify_message}") from None
        except CONNECTION_ERRORS as exc:
            raise InboxError(f"IMAP {cfg.host}:{cfg.port}: {_text(exc)}") from None
        self.client = client
        log.info("connected to IMAP %s:%s as %s%s", cfg.host, cfg.port, cfg.username, " (XOAUTH2)" if token else "")
        return client

    def _token_refused(self, client: IMAPClient, exc: LoginError) -> str:
        cfg = self.cfg
        where = f"IMAP {cfg.host}:{cfg.port}"
        try:
            offered = client.has_capability("AUTH=XOAUTH2")
        except CONNECTION_ERRORS:
            offered = True
        if not offered:
            return (f"{where}: el servidor no ofrece XOAUTH2; use inbox.auth = \"password\" "
                    f"o el servidor IMAP del proveedor. El servidor dijo: {_text(exc)}")
        return f"{where}: {self.tokens.refused(cfg.username, _text(exc))}"

    def close(self) -> None:
        self._handled, self._given = [], []  # left in the inbox: read again and deduplicated
        client, self.client = self.client, None
        if client is not None:
            try:
                client.logout()
            except CONNECTION_ERRORS:
                pass

    def _drop(self) -> None:
        """Forget a broken connection without talking to the server."""
        self._handled, self._given = [], []
        client, self.client = self.client, None
        if client is not None:
            try:
                client.shutdown()
            except CONNECTION_ERRORS:
                pass

    def _call(self, fn, *args):
        """Run one IMAP operation; a dead connection becomes InboxError."""
        try:
            return fn(*args)
        except CONNECTION_ERRORS as exc:
            self._drop()
            raise InboxError(f"IMAP {self.cfg.host}:{self.cfg.port}: {_text(exc)}") from None

    # -- reading --------------------------------------------------------

    def fetch(self) -> Iterator[Incoming]:
        client = self.client or self.connect()
        info = self._call(client.select_folder, self.cfg.folder)
        self.uidvalidity = int(info.get(b"UIDVALIDITY", 0))
        self.uidnext = int(info.get(b"UIDNEXT", 0))
        last_uid = self._last_uid()
        uids = self._uids()
        committed = [u for u in uids if u <= last_uid]
        if committed:
            # Handled before a crash or a failed move: finish moving them.
            self._move(committed)
        fresh = [u for u in uids if u > last_uid]
        self._skipped = None
        # Each batch (fetch_batch messages) is moved at once after its
        # tickets committed; it is read in chunks of PREFETCH messages, each
        # fetched and stored raw by a thread while the chunk before it is
        # processed (the daemon waited 1.2 ms a message on the socket, and
        # 3 ms on storing it: two fsyncs). The connection has one user at a
        # time: a move waits for the fetch in flight.
        chunks = [(batch[at : at + PREFETCH], at + PREFETCH >= len(batch))
                  for batch in (fresh[s : s + self.cfg.fetch_batch] for s in range(0, len(fresh), self.cfg.fetch_batch))
                  for at in range(0, len(batch), PREFETCH)]
        if not chunks:
            return
        with ThreadPoolExecutor(1, thread_name_prefix="imap-fetch") as fetcher:
            coming = fetcher.submit(self._fetch_and_store, chunks[0][0])
            for n, (_uids, ends_batch) in enumerate(chunks):
                fetched = coming.result()
                coming = fetcher.submit(self._fetch_and_store, chunks[n + 1][0]) if n + 1 < len(chunks) else None
                while fetched:
                    uid, raw, sha256 = fetched.pop(0)  # a handled message's bytes go as soon as the daemon drops them
                    self._given.append(uid)
                    yield Incoming(ref=f"imap:{self.cfg.folder}:{self.uidvalidity}:{uid}", raw=raw, key=uid,
                                   sha256=sha256)
                    del raw
                if ends_batch:
                    if coming is not None:
                        wait([coming])
                    self.flush()

    def _uids(self) -> list[int]:
        found: list[int] = []
        top = max(self.uidnext, 2)
        for low in range(1, top, SEARCH_WINDOW):
            high = min(low + SEARCH_WINDOW - 1, top - 1)
            # search("UID n:*") always returns the highest UID even when it
            # is below n (LIBRARY_NOTES): filter to the window.
            found += [u for u in self._call(self.client.search, ["UID", f"{low}:{high}"]) if low <= u <= high]
        if not self.uidnext:  # server without UIDNEXT: one open-ended search
            found = list(self._call(self.client.search, ["ALL"]))
        return sorted(set(found))

    def _fetch_and_store(self, uids: list[int]) -> list[tuple[int, bytes, str | None]]:
        """The messages of ``uids``, each stored raw (durably) before the
        daemon sees it. One that cannot be stored goes without a digest:
        the daemon tries again, and leaves it in the inbox when that fails
        too. (Storing touches files only, never the thread's database.)"""
        stored = []
        for uid, raw in self._fetch_batch(uids):
            try:
                sha256 = self.store.save_raw(raw)
            except OSError:
                sha256 = None
            stored.append((uid, raw, sha256))
        return stored

    def _fetch_batch(self, uids: list[int]) -> list[tuple[int, bytes]]:
        if self.client is None:  # dropped by a failure in flight
            raise InboxError(f"IMAP {self.cfg.host}:{self.cfg.port}: conexión perdida")
        sizes = self._call(self.client.fetch, uids, ["RFC822.SIZE"])
        small = [u for u in uids if sizes.get(u, {}).get(b"RFC822.SIZE", 0) <= self.max_bytes]
        large = [u for u in uids if u in sizes and u not in small]
        result: dict[int, bytes] = {}
        for chunk in _by_total_size(small, sizes, self.max_bytes):
            # BINARY.PEEK is broken in imapclient (returns "~{n}"): BODY.PEEK[].
            # One fetch holds at most max_bytes of mail, not a batch of them.
            for uid, data in self._call(self.client.fetch, chunk, ["BODY.PEEK[]"]).items():
                result[uid] = data.get(b"BODY[]", b"")
        for uid in large:
            # Never pull an oversized message into memory: headers only.
            data = self._call(self.client.fetch, [uid], ["BODY.PEEK[HEADER]"])[uid]
            header = data.get(b"BODY[HEADER]", b"")
            note = TRUNCATED_HEADER + f" {sizes[uid][b'RFC822.SIZE']} bytes\r\n".encode()
            result[uid] = note + header
        return [(u, result[u]) for u in uids if u in result]

    def done(self, incoming: Incoming) -> None:
        """Called after the message's ticket committed. It leaves the inbox
        with the rest of its fetch batch (``flush``): one MOVE and one
        commit for up to ``fetch_batch`` messages instead of one of each per
        message. A crash before the flush leaves committed messages in
        the inbox, which the next fetch reads again and deduplicates by
        Message-ID, as a crash between a commit and its move always did."""
        self._handled.append(incoming.key)

    def flush(self) -> None:
        """Move the handled messages and record the last UID handled, short
        of any message handed out but not handled (its bytes could not be
        stored): recorded past it, the next fetch would take that message
        for handled and move it unread."""
        uids, self._handled = self._handled, []
        unhandled, self._given = set(self._given) - set(uids), []
        if unhandled:
            self._skipped = min(unhandled) if self._skipped is None else min(self._skipped, *unhandled)
        if not uids or self.client is None:  # a fetch in flight lost the connection: read again and deduplicated
            return
        self._move(uids)
        below = [u for u in uids if self._skipped is None or u < self._skipped]
        if not below:
            return
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO inbox_state(folder, uidvalidity, last_uid) VALUES (?, ?, ?) "
                "ON CONFLICT(folder) DO UPDATE SET uidvalidity = excluded.uidvalidity, "
                "last_uid = max(CASE WHEN inbox_state.uidvalidity = excluded.uidvalidity "
                "THEN inbox_state.last_uid ELSE 0 END, excluded.last_uid)",
                (self.cfg.folder, self.uidvalidity, max(below)),
            )

    def _last_uid(self) -> int:
        row = self.store.one("SELECT uidvalidity, last_uid FROM inbox_state WHERE folder = ?", (self.cfg.folder,))
        if row is None:
            return 0
        if row["uidvalidity"] != self.uidvalidity:
            log.warning(
                "UIDVALIDITY of %s changed (%s -> %s): reading the folder again",
                self.cfg.folder, row["uidvalidity"], self.uidvalidity,
            )
            return 0
        return row["last_uid"]

    def _move(self, uids: list[int]) -> None:
        client = self.client
        if client.has_capability("MOVE"):
            self._call(client.move, uids, self.cfg.processed_folder)
            return
        self._call(client.copy, uids, self.cfg.processed_folder)
        self._call(client.delete_messages, uids)
        if client.has_capability("UIDPLUS"):
            self._call(client.uid_expunge, uids)
        else:
            self._call(client.expunge)

    # -- waiting --------------------------------------------------------

    def wait(self, seconds: float, stopping: Callable[[], bool]) -> None:
        client = self.client or self.connect()
        if not (self.cfg.idle and client.has_capability("IDLE")):
            interruptible_sleep(min(seconds, self.cfg.poll_seconds), stopping)
            return
        self._idle(client, min(seconds, self.cfg.idle_restart_seconds), stopping)

    def _idle(self, client: IMAPClient, seconds: float, stopping: Callable[[], bool]) -> None:
        # Mail that arrived after our last fetch is announced by the server
        # at its next command. If that command is IDLE, Dovecot sends the
        # EXISTS right behind "+ idling"; imaplib reads both into its buffer
        # and imapclient, polling the socket, never sees the second line
        # (measured: a request waited 16 to 60 s). NOOP makes the server
        # sync and report it in a response read to its end; EXISTS is only
        # reported when the count changed, so this cannot spin.
        _text, responses = self._call(client.noop)
        if any(len(r) > 1 and r[1] == b"EXISTS" for r in responses):
            return
        client._imap.untagged_responses.clear()
        self._call(client.idle)
        if client._imap.untagged_responses.pop("EXISTS", None):
            self._call(client.idle_done)
            return
        deadline = time.monotonic() + seconds
        try:
            while not stopping() and time.monotonic() < deadline:
                started = time.monotonic()
                responses = self._call(client.idle_check, 1.0)
                if any(r[0] == b"BYE" for r in responses if r):
                    raise InboxError(f"IMAP {self.cfg.host}: el servidor cerró la sesión (BYE)")
                if not responses and time.monotonic() - started < 0.5:
                    # After BYE or a dead socket idle_check returns at once,
                    # forever: treat it as a lost connection, not a spin.
                    raise InboxError(f"IMAP {self.cfg.host}: se perdió la conexión")
                if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                    return
        except InboxError:
            self._drop()
            raise
        finally:
            if self.client is not None:
                self._call(client.idle_done)


def _text(exc: BaseException) -> str:
    """An IMAP failure in Spanish: an OS error translated, the server's own
    words (imaplib hands them as bytes, which str() showed as b'...')
    decoded and quoted as the server's (errortext.server_words)."""
    from ..errortext import describe, server_words

    if isinstance(exc, OSError):
        return describe(exc)
    return server_words(exc)

