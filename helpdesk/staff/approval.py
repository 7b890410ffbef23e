"""The steps every approval shares, whatever its procedure does.

1. *prepare*: the result email is rendered before anything else
   (``prepared``): one that cannot be built stops the approval with nothing
   applied and no claim left;
2. *claim*: one transaction marks the ticket as being approved by NAME,
   only if it is ``pending_approval`` and nobody holds a recent claim: of
   two staff members approving at once, one wins and the other is told who
   holds it;
3. *carry out*: the backend applies the action outside any transaction (an
   LDAP server or a person can take minutes), then the staff member
   confirms (``carry_out``); a cancel or an interruption releases the claim;
4. *commit*: each procedure's own module records the result and queues
   the email in one transaction.

The procedures' approvals (staff/reset.py, unlock.py, accounts.py,
email_change.py) import these; staff/decisions.py chooses among them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

from ..errors import Refused, ResetFailed
from ..outgoing.replies import Reply
from ..rules import TrustRules
from ..store import Store, iso, now
from ..tickets import PENDING_APPROVAL, STATE_LABELS, Ticket, record_event

# A claim older than this belongs to an approval that died half-way.
CLAIM_TIMEOUT = timedelta(minutes=30)


def high_risk_warnings(store: Store, ticket_id: int, trust: TrustRules) -> list[str]:
    """The ticket's warnings that weigh "alto" in rules/trust.toml."""
    high = trust.high_risk()
    marks = ",".join("?" * len(high))
    rows = store.query(f"SELECT DISTINCT code FROM findings WHERE ticket_id = ? AND severity = 'warning' "
                       f"AND code IN ({marks}) ORDER BY code", (ticket_id, *high))
    return [r["code"] for r in rows]


def hours_shown(value: float) -> float | int:
    """Hours as an email says them: 2, not 2.0; 1.5 stays."""
    return int(value) if float(value).is_integer() else value


def prepared(what: str, build: Callable[[], Reply], backend=None) -> Reply:
    """An action's result email, rendered before anything is claimed or
    applied. Whatever rendering raises (a template, an address the composer
    refuses with UnsafeHeader) becomes a one-line refusal, ``backend``
    closed: the staff member corrects the ticket, nobody's password changed
    without an email to say which."""
    try:
        return build()
    except Exception as exc:  # any failure to build the email must stop the action before it is applied
        if backend is not None:
            backend.close()
        raise Refused(f"no se pudo preparar el correo {what} ({type(exc).__name__}: {' '.join(str(exc).split())}); "
                      "no se aplicó nada: corrija la solicitud (helpdesk correct) o el dato que falla") from None


def claim(store: Store, ticket: Ticket, who: str) -> None:
    stale = iso(now() - CLAIM_TIMEOUT)
    with store.transaction() as conn:
        claimed = conn.execute(
            "UPDATE tickets SET claimed_by = ?, claimed_at = ? WHERE id = ? AND state = ? "
            "AND (claimed_by IS NULL OR claimed_at < ?)",
            (who, iso(), ticket.id, PENDING_APPROVAL, stale),
        ).rowcount
        if not claimed:
            row = conn.execute("SELECT state, claimed_by, claimed_at FROM tickets WHERE id = ?", (ticket.id,)).fetchone()
            if row["state"] != PENDING_APPROVAL:
                raise Refused(f"la solicitud {ticket.radicado} ya está en estado «{STATE_LABELS[row['state']]}»")
            # How long ago, not a UTC clock time: no zone to convert, and
            # the claim lapses after CLAIM_TIMEOUT anyway.
            minutes = int((now() - datetime.fromisoformat(row["claimed_at"])).total_seconds() // 60)
            ago = f"hace {minutes} min" if minutes >= 1 else "hace menos de un minuto"
            raise Refused(f"la solicitud {ticket.radicado} la está aprobando {row['claimed_by']} desde {ago}; "
                          "espere a que termine")
        record_event(conn, ticket.id, who, "aprobación iniciada")


def release(store: Store, ticket: Ticket, who: str, action: str, detail: str) -> None:
    """The claim given up (a cancel, an interruption), on the record."""
    with store.transaction() as conn:
        conn.execute("UPDATE tickets SET claimed_by = NULL, claimed_at = NULL WHERE id = ? AND claimed_by = ?",
                     (ticket.id, who))
        record_event(conn, ticket.id, who, action, detail)


def carry_out(store: Store, ticket: Ticket, who: str, backend, apply: Callable[[], None],
              confirm_done: Callable[[], bool], cancelled: str, failed: Callable[[str], None]) -> bool:
    """The middle step of every approval, the ticket claimed: the backend
    applies (with the manual backend a person does), then ``confirm_done``;
    False when the staff member cancels (the claim released, nothing
    sent). A ResetFailed is handed to ``failed`` (which records it and
    releases the claim) and raised; any other interruption releases the
    claim. The backend is closed whatever happens."""
    try:
        if backend.name != "manual":
            apply()
        if not confirm_done():
            release(store, ticket, who, "aprobación cancelada", cancelled)
            return False
    except ResetFailed as exc:
        failed(str(exc))
        raise
    except BaseException:
        release(store, ticket, who, "aprobación interrumpida", "")
        raise
    finally:
        backend.close()
    return True
