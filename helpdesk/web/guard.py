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
- Rate limits, per identifier and per client address, counted in the
  database so that every worker thread (and a restart) sees them.
"""

from __future__ import annotations

import hmac
import os
import secrets
import sqlite3
from datetime import timedelta
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


def over_limit(conn: sqlite3.Connection, key: str, limit: int, window: timedelta = timedelta(hours=1)) -> bool:
    """Count one attempt under ``key``; True when the window already holds
    ``limit`` of them (the attempt is then not counted)."""
    stamp = now()
    conn.execute("DELETE FROM web_attempts WHERE at < ?", (iso(stamp - window),))
    (count,) = conn.execute("SELECT count(*) FROM web_attempts WHERE key = ? AND at >= ?",
                            (key, iso(stamp - window))).fetchone()
    if count >= limit:
        return True
    conn.execute("INSERT INTO web_attempts(key, at) VALUES (?, ?)", (key, iso(stamp)))
    return False
