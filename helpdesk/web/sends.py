"""What self-service sends: a link by email, a code by SMS, and the check
of a code. Run by the deferred worker (web/deferred.py), after the answer.

- **A send never takes back what the person already has** (issue 22: each
  send replaced the owner's link or code, so a stranger's request undid
  the owner's). The newest ``KEEP_VALID`` self-service links of an account
  stay valid, and so do its codes; an older one is replaced. The sends are
  limited per identifier (``[web] max_requests_per_identifier``, slowed by
  ``send_spacing_seconds``), so those valid ones are all the person's own:
  they went to the registered address or phone.
- **A code belongs to the step that asked for it** (the browser that chose
  "SMS"): it is checked only against that step, 5 tries, so guesses made
  from another step never spend the owner's code.
- **Where a password change is told**: a link records the registered
  address it was sent to (``link_notices``), for password_changed
  (web/notice.py); a code records it too, for the link it leads to.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
from datetime import timedelta

from ..config import Config
from ..errors import ResetFailed
from ..outgoing import outbox
from ..outgoing.replies import Renderer
from ..resets import links
from ..resets.registered import Registered
from ..store import Store, iso, now
from . import recovery

KEEP_VALID = 3  # self-service links (and codes) of one account that stay valid at once
MAX_CODE_ATTEMPTS = 5  # per code


def issue_link(conn: sqlite3.Connection, config: Config, account: str, notify: str) -> str:
    """A self-service link for ``account`` that leaves its newest
    ``KEEP_VALID - 1`` valid ones valid; ``notify`` is told when it is used."""
    stamp = now()
    # links.issue replaces every older link of the purpose at ``stamp``: the
    # newest of those it just replaced are given back their validity.
    token = links.issue(conn, account, config.reset.link_hours, links.SELF_SERVICE, at=stamp)
    found = links.find(conn, token)
    conn.execute(
        "UPDATE reset_links SET replaced_at = NULL WHERE id IN (SELECT id FROM reset_links WHERE account = ? "
        "AND purpose = ? AND replaced_at = ? AND used_at IS NULL AND expires_at > ? AND id != ? "
        "ORDER BY id DESC LIMIT ?)",
        (found.account, links.SELF_SERVICE, iso(stamp), iso(stamp), found.id, KEEP_VALID - 1))
    if notify:
        conn.execute("INSERT OR REPLACE INTO link_notices(link_id, email) VALUES (?, ?)", (found.id, notify))
    return token


def send_link(store: Store, config: Config, renderer: Renderer, client: str, identifier: str,
              registered: Registered) -> None:
    with store.transaction() as conn:
        token = issue_link(conn, config, registered.account, registered.email)
        reply = renderer.build("selfservice_link", registered.email, "", {
            "account": registered.account, "url": config.web.link_url(token), "hours": config.reset.link_hours},
            answering=[], automatic=True)
        outbox.enqueue(conn, config, None, reply, sensitive=True)
        links.record(conn, "sent", client, links.find(conn, token), identifier=identifier,
                     detail=f"enlace a {recovery.mask_email(registered.email)}")


def step_digest(nonce: str) -> str:
    return hashlib.sha256(b"step:" + nonce.encode()).hexdigest()


def code_digest(key: bytes, identifier: str, code: str) -> str:
    """Keyed: six digits hashed alone would be read back from a copy of the database."""
    return hmac.new(key, f"code:{identifier.casefold()}:{code}".encode(), "sha256").hexdigest()


def send_code(store: Store, config: Config, key: bytes, client: str, identifier: str, nonce: str,
              registered: Registered) -> None:
    code = recovery.new_code()
    stamp = now()
    folded = identifier.casefold()
    with store.transaction() as conn:
        conn.execute("INSERT INTO recovery_codes(identifier, account, code_hash, created_at, expires_at, step_hash, "
                     "email) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (folded, registered.account, code_digest(key, identifier, code), iso(stamp),
                      iso(stamp + timedelta(minutes=config.selfservice.code_minutes)), step_digest(nonce),
                      registered.email))
        conn.execute("UPDATE recovery_codes SET replaced_at = ? WHERE id IN (SELECT id FROM recovery_codes "
                     "WHERE identifier = ? AND used_at IS NULL AND replaced_at IS NULL ORDER BY id DESC "
                     "LIMIT -1 OFFSET ?)", (iso(stamp), folded, KEEP_VALID))
    try:
        recovery.send_code(config, registered.phone, code)
        detail = f"código a {recovery.mask_phone(registered.phone)}"
    except ResetFailed as exc:
        detail = f"no se pudo enviar el código: {exc}"
    with store.transaction() as conn:
        links.record(conn, "code_sent", client, identifier=identifier, detail=detail)


def use_code(conn: sqlite3.Connection, config: Config, key: bytes, client: str, identifier: str, nonce: str,
             code: str) -> str | None:
    """The token of a fresh link when ``code`` is the valid code of this
    step; None otherwise (the try counted against that code)."""
    row = conn.execute("SELECT * FROM recovery_codes WHERE identifier = ? AND step_hash = ? AND used_at IS NULL "
                       "AND replaced_at IS NULL AND expires_at > ? ORDER BY id DESC LIMIT 1",
                       (identifier.casefold(), step_digest(nonce), iso())).fetchone()
    good = (row is not None and row["attempts"] < MAX_CODE_ATTEMPTS
            and hmac.compare_digest(code_digest(key, identifier, code), row["code_hash"]))
    if row is not None and not good:
        conn.execute("UPDATE recovery_codes SET attempts = attempts + 1 WHERE id = ?", (row["id"],))
    if not good:
        links.record(conn, "code_refused", client, identifier=identifier)
        return None
    conn.execute("UPDATE recovery_codes SET used_at = ? WHERE id = ?", (iso(), row["id"]))
    token = issue_link(conn, config, row["account"], row["email"])
    links.record(conn, "code_used", client, links.find(conn, token), identifier=identifier)
    return token
