"""What a completed approval teaches the entity directory (helpdesk/directory.py).

The directory later decides how a request is judged: one whose field 1.2
differs from the entity's last approved request is the high-risk
``legal_rep_email_changed``, where credentials would go. A wrong entry is
costly both ways: a fraudulent address learned becomes the reference (the
fraudster's next request passes, the entity's genuine one is flagged). So
it learns only what an approval *proved*, and only in the transaction
that resolves the ticket:

- reset with the passwords emailed (any backend, the manual one included):
  at the commit that applies them and queues them to field 1.2. Staff
  approved that address and the accounts now answer to it;
- reset by link (``[reset] delivery = "link"``): not at approval, when only
  links went out and staff can still take them back (``revoke``, or
  ``reject`` of a ``link_sent`` ticket): a revoked approval must teach
  nothing. It learns when the last account's link is used and the ticket
  resolves, and learns the address those links were sent to: its reader
  took the accounts over, which is what the next request is compared with.
  A ticket whose links are never all used stays ``link_sent`` and teaches
  nothing;
- unlock (desbloqueo), change of registered email (cambio-correo) and
  account requests (cuentas-correo) teach it nothing: their forms name a
  person or an office, with no entity NIT to file anything under, and
  their result goes to a person's own address (the account's registered
  one, the confirmed new one, the official's contact), never the entity's
  legal representative's. Learning those as field 1.2 would flag the
  entity's next genuine reset request. What they prove is kept where it
  belongs: the account directory (the backend) and the register FT-GTI-002.
"""

from __future__ import annotations

import json
import sqlite3

from .. import directory
from ..config import Config
from ..resets import links
from ..rules import TrustRules, load_trust
from ..store import iso
from ..tickets import LINK_SENT, RESOLVED, record_event

# Who resolves a ticket when its last link is used (the audit's actor).
LINK_PAGE = "página de cambio de contraseña"  # web/linkuse.py SYSTEM


def learn(conn: sqlite3.Connection, trust: TrustRules, ticket_id: int, representative: str) -> None:
    """In the transaction that resolves an approved reset: the entity (by
    the ticket's NIT) and ``representative``, the address the credentials
    or links went to. The request's own accounts and sender give the domains
    of an entity the directory did not know (free-mail ones excepted)."""
    row = conn.execute("SELECT nit_number, entity_name, sender, radicado, form_json FROM tickets WHERE id = ?",
                       (ticket_id,)).fetchone()
    if row is None or not row["nit_number"] or not representative:
        return
    accounts = [a.get("account", "") for a in json.loads(row["form_json"] or "{}").get("accounts", [])]
    directory.learn(conn, trust, row["nit_number"], row["entity_name"] or "", representative,
                    [*accounts, row["sender"]], row["radicado"])


def links_used(conn: sqlite3.Connection, config: Config, ticket_id: int) -> bool:
    """Called by the link page in the transaction that records a use: once
    every account of an approved ticket has had a link used, the ticket is
    resolved and the directory learns the address the links went to. True
    when this use resolved it."""
    if links.unused_of_ticket(conn, ticket_id):
        return False
    resolved = conn.execute("UPDATE tickets SET state = ?, updated_at = ? WHERE id = ? AND state = ?",
                            (RESOLVED, iso(), ticket_id, LINK_SENT)).rowcount
    if not resolved:
        return False
    record_event(conn, ticket_id, LINK_PAGE, "resuelta", "se usaron los enlaces de todas las cuentas")
    sent_to = conn.execute("SELECT rcpt_to FROM outbox WHERE ticket_id = ? AND kind = 'reset_link' "
                           "ORDER BY id DESC LIMIT 1", (ticket_id,)).fetchone()
    if sent_to is not None:
        learn(conn, load_trust(config.rules_dir), ticket_id, sent_to["rcpt_to"])
    return True
