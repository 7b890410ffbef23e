"""A person sets a new password through a link: the one place that decides.

Policy first (a refusal keeps the link valid and says why); then the link
is claimed, the password applied through the [reset] backend outside any
transaction (an LDAP server can be slow), and one transaction records the
use, the audit line, the password_changed email to the registered
address (web/notice.py, CONTRACT 13) and, for an approved ticket whose
every account's link is now used, its resolution. A failed backend call releases the
claim: it is audited, shown as a failure, and the same link can try again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..config import Config
from ..outgoing.replies import Renderer
from ..resets import links, policy
from ..resets.scope import EntityScope
from ..staff import completion
from ..store import Store, iso
from ..tickets import record_event
from . import notice

log = logging.getLogger(__name__)

SYSTEM = "página de cambio de contraseña"


@dataclass(frozen=True)
class Outcome:
    done: bool
    message: str  # what the page says, in Spanish ("" when done)
    gone: bool = False  # the link can no longer be used: HTTP 410
    backend_failed: bool = False  # the backend did not apply it: the same link may try again


def use(store: Store, config: Config, renderer: Renderer, link: links.Link, password: str, confirm: str,
        client: str) -> Outcome:
    reason = policy.refusal(password, confirm, link.account, config.reset.min_password_length,
                            policy.common_passwords(config.rules_dir / "common_passwords.txt"))
    if reason:
        with store.transaction() as conn:
            links.record(conn, "refused", client, link, detail=reason)
        return Outcome(False, reason)
    applied = links.apply_claimed(store, config, link, client,
                                  lambda backend: backend.reset(link.account, password, EntityScope(**link.scope)),
                                  "reset_failed")
    if applied.status == "taken":
        with store.transaction() as conn:
            links.record(conn, "refused", client, link, detail="enlace ya usado, vencido, reemplazado o en uso")
        return Outcome(False, "", gone=True)
    if applied.status == "failed":
        log.error("password of %s not applied through the link: %s", link.account, applied.error,
                  extra={"event": "link_reset_failed"})
        return Outcome(False, "No se pudo cambiar la contraseña en este momento. Intente de nuevo en unos "
                              "minutos con este mismo enlace; si el problema sigue, escríbanos.", backend_failed=True)
    with store.transaction() as conn:
        links.mark_used(conn, link.id)
        if link.purpose == links.SELF_SERVICE:
            # Self-service keeps a few links (and codes) valid at once
            # (web/sends.py); once the password is set, the others are done.
            stamp = iso()
            conn.execute("UPDATE reset_links SET replaced_at = ? WHERE account = ? AND purpose = ? "
                         "AND used_at IS NULL AND replaced_at IS NULL AND id != ?",
                         (stamp, link.account, links.SELF_SERVICE, link.id))
            conn.execute("UPDATE recovery_codes SET replaced_at = ? WHERE lower(account) = ? AND used_at IS NULL "
                         "AND replaced_at IS NULL", (stamp, link.account))
        links.record(conn, "used", client, link)
        notice.queue(conn, config, renderer, link)
        if link.ticket_id:
            conn.execute("INSERT INTO resets(ticket_id, account, backend, ok, actor, at) VALUES (?, ?, ?, 1, ?, ?)",
                         (link.ticket_id, link.account, applied.backend, SYSTEM, iso()))
            record_event(conn, link.ticket_id, SYSTEM, "contraseña cambiada por enlace",
                         f"{link.account}, desde {client}")
            # The last account's link resolves the ticket and teaches the directory.
            completion.links_used(conn, config, link.ticket_id)
    return Outcome(True, "")
