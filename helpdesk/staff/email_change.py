"""Change of registered email (procedure ``cambio-correo``, seed 004;
CONTRACT §13): nothing changes until the new address is confirmed AND the
old owner had ``[procedures.ID] hold_hours`` to stop it.

Approval records a pending change (table ``email_changes``) and queues two
emails in one transaction:

- ``email_change_confirm`` to the NEW address, with a single-use link (the
  link machinery of resets/links.py, purpose "email-change");
- ``email_change_pending`` to the OLD (registered) address, with a cancel
  link (``/cancelar/TOKEN``, web/email_change_pages.py) whose token is kept
  only as its hash, in the change's row. The new address is masked there.

Confirming (``confirm``) marks the change confirmed. It is applied
(``apply_change``: the [reset] backend's change_email, then the
``email_changed_notice`` to the old address and the ticket resolved) once
it is confirmed and its hold has ended: at once by the confirmation page
when the hold is over (``hold_hours = 0``), otherwise by the daemon
(``apply_due``, every cycle). The hold is a minimum: a daemon that is down
when it ends applies the change at its first cycle after it comes back,
and until then the old owner can still cancel.

Applying is claim, backend call, commit, as an approval: the claim is one
transaction, the backend runs outside any, and the commit records the
result and queues the notice together. A process killed in between leaves
the claim; the daemon takes over its own dead claims at once (it is the
only daemon: the database lock) and a page's after CLAIM_SECONDS, and
applies again (setting the same address twice is harmless).

A cancel by the old owner (``cancel_by_owner``) ends the change, revokes
every link of the ticket and puts it back in the queue with the high-risk
warning ``change_cancelled_by_owner``. Staff's ``revoke`` (and ``reject``
of a ``link_sent`` ticket) end it too (``end_open``).
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from .. import wording
from ..config import Config
from ..errors import Refused, ResetFailed
from ..examination.checks import valid_email
from ..faults import crash_point
from ..outgoing import outbox
from ..outgoing.replies import Renderer, entity_excerpt
from ..resets import links
from ..resets.backends import make_backend
from ..resets.registered import lookup
from ..store import Store, iso, now
from ..tickets import LINK_SENT, PENDING_APPROVAL, RESOLVED, Ticket, add_finding, record_event, thread_ids
from .approval import hours_shown, prepared

log = logging.getLogger(__name__)

EMAIL_CHANGE = "email-change"
SYSTEM = "página de confirmación de correo"
OWNER = "titular del correo registrado (enlace de cancelación)"
SERVICE = "servicio (cambio de correo registrado)"
# Who holds a claim: the daemon (one per database) or a page (hold 0).
DAEMON, PAGE = "daemon", "web"
# A backend that failed is tried again by the daemon this much later.
RETRY_AFTER = timedelta(minutes=10)
CANCELLED_BY_OWNER = "change_cancelled_by_owner"


@dataclass(frozen=True)
class Change:
    """One pending (or finished) change of a registered email."""

    id: int
    ticket_id: int
    account: str
    old_email: str
    new_email: str
    created_at: str
    confirm_by: str  # the confirmation link's expiry
    apply_after: str  # approval + hold_hours (later after a failed attempt)
    confirmed_at: str | None
    claimed_at: str | None
    claimed_by: str | None
    applied_at: str | None
    ended_at: str | None
    ended_why: str | None  # "owner" (cancelled), "staff" (revoked, rejected), "replaced" (approved again)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "Change":
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})

    def open(self, at: datetime | None = None) -> bool:
        """Still waiting: neither applied nor ended, and confirmed or still confirmable."""
        if self.applied_at or self.ended_at:
            return False
        return bool(self.confirmed_at) or (at or now()) < datetime.fromisoformat(self.confirm_by)


def masked(address: str) -> str:
    """The new address as the old owner sees it: its first letter and its
    domain (enough to recognise one's own, not to write to it)."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}*****@{domain}"


# -- approval -----------------------------------------------------------------


def send_confirmation(store: Store, config: Config, renderer: Renderer, ticket: Ticket, fields: dict, who: str,
                      risks: list[str]) -> int:
    """Record the change and queue the confirmation (new address) and the
    warning with its cancel link (old address); the confirmation's outbox row."""
    if config.reset.backend == "manual":
        raise Refused("el cambio de correo lo aplica el programa cuando la persona confirma su nueva dirección, y "
                      "el backend manual no aplica nada; configure [reset] backend = \"ldap\" o \"command\"")
    if not config.web.base_url:
        raise Refused("el enlace de confirmación necesita [web] base_url y helpdesk web en marcha")
    new_email = (fields.get("new_email") or "").strip().lower()
    if not valid_email(new_email):
        raise Refused(f"el correo nuevo («{new_email}») no es válido; pida una corrección")
    found = lookup(config, (fields.get("identifier") or "").strip())
    if found is None or not valid_email(found.email):
        raise Refused(f"el directorio no tiene una cuenta con un correo registrado para «{fields.get('identifier')}»;"
                      f" revise la solicitud (helpdesk show {ticket.radicado})")
    stamp = now()
    hold = config.procedures.hold_of(ticket.procedure)
    apply_after = stamp + timedelta(hours=hold)
    person = entity_excerpt(fields.get("person_name") or ticket.legal_rep_name or "")
    cancel_token = secrets.token_urlsafe(32)
    with store.transaction() as conn:
        current = conn.execute("SELECT state FROM tickets WHERE id = ?", (ticket.id,)).fetchone()["state"]
        if current not in (PENDING_APPROVAL, LINK_SENT):
            raise Refused(f"la solicitud {ticket.radicado} cambió mientras tanto; vea helpdesk show {ticket.radicado}")
        if not end_open(conn, ticket.id, "replaced", stamp):
            raise Refused(f"el cambio de correo de la solicitud {ticket.radicado} se está aplicando en este momento; "
                          f"vea helpdesk show {ticket.radicado} en unos minutos")
        change_id = conn.execute(
            "INSERT INTO email_changes(ticket_id, account, old_email, new_email, cancel_hash, created_at, confirm_by, "
            "apply_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (ticket.id, found.account, found.email, new_email, links.digest(cancel_token), iso(stamp),
             iso(stamp + timedelta(hours=config.reset.link_hours)), iso(apply_after))).lastrowid
        token = links.issue(conn, found.account, config.reset.link_hours, EMAIL_CHANGE, ticket.id,
                            scope={"new_email": new_email, "old_email": found.email, "change_id": change_id}, at=stamp)
        answering = thread_ids(conn, ticket.id)
        shown_at = config.local_time(iso(apply_after)) if hold else ""
        confirm = prepared("de confirmación", lambda: renderer.build(
            "email_change_confirm", new_email, ticket.radicado, {
                "person_name": person, "account": found.account, "url": config.web.link_url(token),
                "hours": hours_shown(config.reset.link_hours), "apply_at": shown_at},
            answering=answering, automatic=False, procedure=ticket.procedure))
        pending = prepared("de aviso al correo registrado", lambda: renderer.build(
            "email_change_pending", found.email, ticket.radicado, {
                "person_name": person, "account": found.account, "new_email_masked": masked(new_email),
                "apply_at": shown_at, "url": cancel_url(config, cancel_token)},
            answering=answering, automatic=False, procedure=ticket.procedure))
        queued = outbox.enqueue(conn, config, ticket.id, confirm)
        outbox.enqueue(conn, config, ticket.id, pending)
        conn.execute("UPDATE tickets SET state = ?, updated_at = ? WHERE id = ?", (LINK_SENT, iso(), ticket.id))
        links.record(conn, "sent", "", links.find_for(conn, ticket.id, found.account),
                     detail=f"confirmación a {new_email}; aviso con enlace de cancelación a {found.email}")
        seen = f"; advertencias de alto riesgo revisadas: {', '.join(risks)}" if risks else ""
        record_event(conn, ticket.id, who, "aprobada",
                     f"enlace de confirmación del correo nuevo {new_email} para la cuenta {found.account}; aviso con "
                     f"enlace de cancelación al correo registrado {found.email}; se aplica no antes del "
                     f"{config.local_time(iso(apply_after))}{seen}")
    return queued


def cancel_url(config: Config, token: str) -> str:
    return f"{config.web.base_url.rstrip('/')}/cancelar/{token}"


# -- the new address confirms ---------------------------------------------------


@dataclass(frozen=True)
class Confirmed:
    """What a confirmation became: "gone" (the link or the change no longer
    valid: 410), "applied" (the registered email changed now), "held" (it
    applies at ``apply_after`` unless the old owner cancels), "retrying"
    (due, but the backend failed: the daemon tries again)."""

    status: str
    apply_after: str = ""


def confirm(store: Store, config: Config, renderer: Renderer, link: links.Link, client: str) -> Confirmed:
    """The new address's owner confirmed through ``link``."""
    with store.transaction() as conn:
        change = _change(conn, link.scope.get("change_id"))
        # A link issued before the hold existed names no change: it cannot
        # apply anything (staff approve the ticket again).
        if change is None or change.ticket_id != link.ticket_id or not change.open():
            links.record(conn, "refused", client, link, detail="el cambio de correo ya no está pendiente")
            return Confirmed("gone")
        if not links.claim(conn, link.id):
            return Confirmed("gone")
        links.mark_used(conn, link.id)
        conn.execute("UPDATE email_changes SET confirmed_at = ? WHERE id = ?", (iso(), change.id))
        links.record(conn, "used", client, link, detail="correo nuevo confirmado")
        record_event(conn, change.ticket_id, SYSTEM, "correo nuevo confirmado",
                     f"{change.account}: confirmado desde {client}; se aplica no antes del "
                     f"{config.local_time(change.apply_after)} si el titular no lo cancela")
    if datetime.fromisoformat(change.apply_after) > now():
        return Confirmed("held", change.apply_after)
    if apply_change(store, config, renderer, change.id, PAGE) == "done":
        return Confirmed("applied")
    return Confirmed("retrying", change.apply_after)


def _change(conn: sqlite3.Connection, change_id) -> Change | None:
    if not isinstance(change_id, int):
        return None
    row = conn.execute("SELECT * FROM email_changes WHERE id = ?", (change_id,)).fetchone()
    return Change.from_row(row) if row else None


# -- applying ---------------------------------------------------------------------


def apply_due(store: Store, config: Config, renderer: Renderer) -> int:
    """The daemon's step: apply every confirmed change whose hold has ended;
    how many were applied."""
    rows = store.query("SELECT id FROM email_changes WHERE applied_at IS NULL AND ended_at IS NULL "
                       "AND confirmed_at IS NOT NULL AND apply_after <= ? ORDER BY apply_after", (iso(),))
    return sum(apply_change(store, config, renderer, row["id"], DAEMON) == "done" for row in rows)


def next_due_at(store: Store) -> datetime | None:
    """When the next confirmed change's hold ends (the daemon wakes for it)."""
    row = store.one("SELECT min(apply_after) AS t FROM email_changes WHERE applied_at IS NULL AND ended_at IS NULL "
                    "AND confirmed_at IS NOT NULL")
    return datetime.fromisoformat(row["t"]) if row and row["t"] else None


def apply_change(store: Store, config: Config, renderer: Renderer, change_id: int, claimer: str) -> str:
    """Claim, apply through the backend, commit; "done", "failed" (retried
    later) or "skipped" (not due, ended, or held by another process)."""
    stamp = now()
    stale = iso(stamp - timedelta(seconds=links.CLAIM_SECONDS))
    with store.transaction() as conn:
        # The daemon is alone (the database lock): a daemon claim it did not
        # finish is a dead process's. A page's claim lapses after CLAIM_SECONDS.
        claimed = conn.execute(
            "UPDATE email_changes SET claimed_at = ?, claimed_by = ? WHERE id = ? AND applied_at IS NULL "
            "AND ended_at IS NULL AND confirmed_at IS NOT NULL AND apply_after <= ? "
            "AND (claimed_at IS NULL OR claimed_at < ? OR (claimed_by = ? AND ? = ?))",
            (iso(stamp), claimer, change_id, iso(stamp), stale, DAEMON, claimer, DAEMON)).rowcount
        if not claimed:
            return "skipped"
        change = _change(conn, change_id)
        ticket = conn.execute("SELECT radicado, procedure FROM tickets WHERE id = ?", (change.ticket_id,)).fetchone()
        answering = thread_ids(conn, change.ticket_id)
    try:
        notice = None
        if valid_email(change.old_email) and change.old_email.lower() != change.new_email.lower():
            notice = renderer.build("email_changed_notice", change.old_email, ticket["radicado"],
                                    {"account": change.account}, answering=answering, automatic=False,
                                    procedure=ticket["procedure"])
        backend = make_backend(config)
        try:
            backend.change_email(change.account, change.new_email)
        finally:
            backend.close()
    except ResetFailed as exc:
        _failed(store, change, str(exc))
        return "failed"
    except BaseException:
        with store.transaction() as conn:
            _release(conn, change.id)
        raise
    crash_point("email_change_applied")
    with store.transaction() as conn:
        finished = conn.execute("UPDATE email_changes SET applied_at = ?, claimed_at = NULL, claimed_by = NULL "
                                "WHERE id = ? AND applied_at IS NULL AND claimed_at = ?",
                                (iso(), change.id, iso(stamp))).rowcount
        if not finished:  # another process took the claim as stale and finishes it
            return "skipped"
        if notice is not None:
            outbox.enqueue(conn, config, change.ticket_id, notice)
        conn.execute("UPDATE tickets SET state = ?, updated_at = ? WHERE id = ? AND state = ?",
                     (RESOLVED, iso(), change.ticket_id, LINK_SENT))
        record_event(conn, change.ticket_id, SERVICE, "correo registrado cambiado",
                     f"{change.account}: ahora {change.new_email}; aviso a {change.old_email}")
    log.info("registered email of an account changed after its hold", extra={
        "event": "email_change_applied", "radicado": ticket["radicado"]})
    return "done"


def _release(conn: sqlite3.Connection, change_id: int) -> None:
    conn.execute("UPDATE email_changes SET claimed_at = NULL, claimed_by = NULL WHERE id = ? AND applied_at IS NULL",
                 (change_id,))


def _failed(store: Store, change: Change, error: str) -> None:
    """Audited, warned to staff, tried again RETRY_AFTER later."""
    with store.transaction() as conn:
        _release(conn, change.id)
        conn.execute("UPDATE email_changes SET apply_after = ? WHERE id = ?", (iso(now() + RETRY_AFTER), change.id))
        add_finding(conn, change.ticket_id, "warning", "account_action_failed", error, source="web")
        record_event(conn, change.ticket_id, SERVICE, "cambio de correo fallido",
                     f"{error}; se reintentará en {int(RETRY_AFTER.total_seconds() // 60)} min")
    log.error("registered email not changed: %s", error, extra={"event": "email_change_failed"})


# -- ending a change: the old owner's cancel, staff's revoke -------------------


def end_open(conn: sqlite3.Connection, ticket_id: int, why: str, at: datetime | None = None) -> bool:
    """End every open change of a ticket (in the caller's transaction);
    False, ending nothing, when one is being applied right now."""
    stamp = iso(at or now())
    busy = conn.execute("SELECT 1 FROM email_changes WHERE ticket_id = ? AND applied_at IS NULL AND ended_at IS NULL "
                        "AND claimed_at IS NOT NULL LIMIT 1", (ticket_id,)).fetchone()
    if busy:
        return False
    conn.execute("UPDATE email_changes SET ended_at = ?, ended_why = ? WHERE ticket_id = ? AND applied_at IS NULL "
                 "AND ended_at IS NULL", (stamp, why, ticket_id))
    return True


def by_cancel_token(conn: sqlite3.Connection, token: str) -> Change | None:
    if not token or len(token) > 100:
        return None
    row = conn.execute("SELECT * FROM email_changes WHERE cancel_hash = ?", (links.digest(token),)).fetchone()
    return Change.from_row(row) if row else None


def cancel_by_owner(store: Store, token: str, client: str) -> str:
    """The old owner pressed «Cancelar el cambio»: "cancelled", "gone" (no
    such change, or it is no longer pending) or "busy" (being applied)."""
    with store.transaction() as conn:
        change = by_cancel_token(conn, token)
        if change is None or not change.open():
            return "gone"
        if change.claimed_at or not end_open(conn, change.ticket_id, "owner"):
            return "busy"
        revoked = links.revoke_ticket(conn, change.ticket_id, "cambio cancelado por el titular del correo registrado",
                                      client)
        conn.execute("UPDATE tickets SET state = ?, claimed_by = NULL, claimed_at = NULL, updated_at = ? "
                     "WHERE id = ? AND state = ?", (PENDING_APPROVAL, iso(), change.ticket_id, LINK_SENT))
        add_finding(conn, change.ticket_id, "warning", CANCELLED_BY_OWNER,
                    f"el titular del correo registrado {change.old_email} canceló el cambio a {change.new_email} "
                    f"(desde {client})", source="web")
        record_event(conn, change.ticket_id, OWNER, "cambio de correo cancelado",
                     f"{change.account}: el correo registrado {change.old_email} canceló el cambio a "
                     f"{change.new_email} desde {client}; "
                     f"{wording.count(revoked, 'enlace invalidado', 'enlaces invalidados')}; vuelve a la cola")
    return "cancelled"
