"""Every password change is told (CONTRACT 13): ``password_changed``.

A password set through a link (``/r/TOKEN``, from an approval or from
self-service) sends an email of kind ``password_changed`` to the account's
registered address, saying when (in ``[site] timezone``) and what to do if
it was not them, as LDAP Tool Box Self Service Password does. It is queued
in the transaction that records the use, so a use is never recorded
without its notice, nor a notice sent for a use that was not.

Where it goes: the address the link itself was sent to, which is the
registered one for the account:

- a self-service link (by email or after an SMS code): the registered
  email of the directory lookup, recorded with the link (``link_notices``);
- a ticket's link (an approval with ``[reset] delivery = "link"``): the
  address the ``reset_link`` email went to, form field 1.2, the entity's
  legal representative whom the request named and staff approved. The
  directory lookup is not asked again: for a ticket's account (an office
  mailbox) it knows no registered person, and the representative is who
  answers for the entity's accounts.

A link with neither (older than this notice) is logged, and nothing sent.
"""

from __future__ import annotations

import logging
import sqlite3

from ..config import Config
from ..outgoing import outbox
from ..outgoing.replies import Renderer, Reply
from ..resets import links
from ..store import iso

log = logging.getLogger(__name__)

KIND = "password_changed"


def recipient(conn: sqlite3.Connection, link: links.Link) -> str:
    """Where ``link``'s use is told; "" when nobody is known."""
    row = conn.execute("SELECT email FROM link_notices WHERE link_id = ?", (link.id,)).fetchone()
    if row:
        return row[0]
    if link.ticket_id:
        row = conn.execute("SELECT rcpt_to FROM outbox WHERE ticket_id = ? AND kind = 'reset_link' "
                           "ORDER BY id DESC LIMIT 1", (link.ticket_id,)).fetchone()
        if row:
            return row[0]
    return ""


def build(config: Config, renderer: Renderer, link: links.Link, to: str, at: str, radicado: str = "") -> Reply:
    return renderer.build(KIND, to, radicado, {
        "account": link.account, "when": config.local_time(at),
        "recovery_url": f"{config.web.base_url.rstrip('/')}/recuperar" if config.selfservice.enabled else ""},
        answering=[], automatic=True)


def queue(conn: sqlite3.Connection, config: Config, renderer: Renderer, link: links.Link, at: str | None = None) -> bool:
    """Queue the notice of ``link``'s use inside the caller's transaction;
    False when there is nobody to tell."""
    to = recipient(conn, link)
    if not to:
        log.warning("password of %s changed through a link with no address to tell", link.account,
                    extra={"event": "password_changed_untold"})
        return False
    radicado = ""
    if link.ticket_id:
        radicado = conn.execute("SELECT radicado FROM tickets WHERE id = ?", (link.ticket_id,)).fetchone()[0]
    reply = build(config, renderer, link, to, at or iso(), radicado)
    outbox.enqueue(conn, config, link.ticket_id, reply)
    return True
