"""What every page of ``helpdesk web`` gets, whatever it shows.

- Security headers: a CSP that allows nothing but this site's own
  stylesheet and forms posted to itself, no framing, no caching, no
  referrer (a link's token must not travel to another site), no sniffing.
- CSRF: a form with no secret in its URL (the self-service pages) carries
  a token that is an HMAC of a random cookie (double submit, signed with
  the web secret); every POST is also refused when the browser says it
  comes from another site (``Origin``, ``Sec-Fetch-Site``). A link page's
  URL is itself a 256-bit secret no other site can know.
- The client's address: the TCP peer, or the ``X-Forwarded-For`` the
  reverse proxy added when the peer is one of ``[web] trusted_proxies``.
- Rate limits, per identifier and per client, counted in the database so
  that every worker thread (and a restart) sees them. A client is its
  address, an IPv6 one by its /64: one subscriber line gets a whole /64
  and picks any address in it, so counting exact addresses gave 40
  lookups from one /64 40 answers (issue 22). A refusal writes at most
  one row per key and window, however long the flood lasts.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from ..store import iso, now

CSRF_COOKIE = "hd_csrf"

HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def secret(path: Path) -> bytes:
    """The web secret (CSRF tokens, signed steps), made on first use, 0600."""
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_bytes(32)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", opener=lambda p, flags: os.open(p, flags, 0o600)) as fh:
        fh.write(value.hex())
    tmp.replace(path)
    return value


def csrf_token(key: bytes, nonce: str) -> str:
    return hmac.new(key, b"csrf:" + nonce.encode(), "sha256").hexdigest()


def csrf_ok(key: bytes, nonce: str | None, token: str | None) -> bool:
    return bool(nonce and token) and hmac.compare_digest(csrf_token(key, nonce), token)


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def cross_site(headers, base_url: str, host_url: str) -> bool:
    """True when the browser says the POST comes from another site.

    ``Sec-Fetch-Site`` (every current browser) decides when present: only
    "same-origin" or "none" (typed, a bookmark) pass. Without it, an
    ``Origin`` other than this site's is refused; our ``no-referrer``
    policy makes browsers send ``Origin: null`` for our own forms, which
    therefore says nothing either way."""
    fetch_site = headers.get("Sec-Fetch-Site")
    if fetch_site:
        return fetch_site not in ("same-origin", "none")
    origin = headers.get("Origin")
    if not origin or origin == "null":
        return False
    return _origin(origin) not in {_origin(base_url), _origin(host_url)}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def client_address(remote: str | None, forwarded: str | None, trusted: tuple[str, ...]) -> str:
    """The peer, or the last address the trusted proxy saw before it."""
    remote = remote or "?"
    if forwarded and remote in trusted:
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-1][:64]
    return remote[:64]


def limit_key(client: str) -> str:
    """What a per-client limit counts: an IPv4 address as it is, an IPv6
    one by its /64 (an IPv4-mapped one as its IPv4 address)."""
    try:
        address = ipaddress.ip_address(client.split("%", 1)[0])
    except ValueError:
        return client  # "?" or a proxy's odd hop: counted as written
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@dataclass(frozen=True)
class Verdict:
    """One attempt under a key: allowed (and counted), or refused; ``first``
    says it is the window's first refusal for the key, the one worth a line
    in the audit (the next ones write nothing)."""

    refused: bool
    first: bool = False
    wait: int = 0  # seconds until the key allows another attempt (a slowed one)

    def __bool__(self) -> bool:
        return self.refused


REFUSED_MARK = "#refused"


def over_limit(conn: sqlite3.Connection, key: str, limit: int, window: timedelta = timedelta(hours=1)) -> Verdict:
    """Count one attempt under ``key``; refused when the window already holds
    ``limit`` of them (the attempt is then not counted). Only this key's old
    rows are removed here; others wait for the retention policy."""
    stamp = now()
    since = iso(stamp - window)
    conn.execute("DELETE FROM web_attempts WHERE key IN (?, ?) AND at < ?", (key, key + REFUSED_MARK, since))
    (count,) = conn.execute("SELECT count(*) FROM web_attempts WHERE key = ? AND at >= ?", (key, since)).fetchone()
    if count >= limit:
        marked = conn.execute("SELECT 1 FROM web_attempts WHERE key = ? AND at >= ?",
                              (key + REFUSED_MARK, since)).fetchone()
        if marked is None:
            conn.execute("INSERT INTO web_attempts(key, at) VALUES (?, ?)", (key + REFUSED_MARK, iso(stamp)))
        return Verdict(True, first=marked is None)
    conn.execute("INSERT INTO web_attempts(key, at) VALUES (?, ?)", (key, iso(stamp)))
    return Verdict(False)


def slowed(conn: sqlite3.Connection, key: str, limit: int, spacing: int,
           window: timedelta = timedelta(hours=1)) -> Verdict:
    """Like ``over_limit``, and each attempt of the window waits longer after
    the one before: the n-th needs ``spacing * 2**(n-2)`` seconds since the
    last (1 min, 2 min, 4 min... with 60). A burst is slowed, never a lock:
    the window slides, and nothing the attempts sent is taken back."""
    stamp = now()
    since = stamp - window
    conn.execute("DELETE FROM web_attempts WHERE key = ? AND at < ?", (key, iso(since)))
    times = [datetime.fromisoformat(row[0]) for row in conn.execute(
        "SELECT at FROM web_attempts WHERE key = ? AND at >= ? ORDER BY at DESC", (key, iso(since)))]
    if len(times) >= limit:
        return Verdict(True, wait=max(1, int((times[-1] + window - stamp).total_seconds())))
    if times:
        ready = times[0] + timedelta(seconds=spacing * 2 ** (len(times) - 1))
        if ready > stamp:
            return Verdict(True, wait=max(1, int((ready - stamp).total_seconds())))
    conn.execute("INSERT INTO web_attempts(key, at) VALUES (?, ?)", (key, iso(stamp)))
    return Verdict(False)
