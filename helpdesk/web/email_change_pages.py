"""The old owner's cancel page of a change of registered email (CONTRACT §13).

``/cancelar/TOKEN`` is the link of the ``email_change_pending`` email. GET
shows what was asked (the account, the new address masked, when it would
apply) and one button; only its POST, with the CSRF token of every form
here, cancels (staff/email_change.py ``cancel_by_owner``). Nothing else is
asked: whoever reads the registered mailbox is the owner this protects.
A change no longer pending (applied, cancelled, revoked, replaced, or never
confirmed in time) answers 410, as a dead link does.

The views are registered on ``helpdesk web``'s application by
``register``, with the page helpers of web/app.py (security headers,
CSRF, the 410 page), so they behave as every other page there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from flask import Flask, g

from ..config import Config
from ..staff import email_change
from ..store import Store, now


def register(app: Flask, config: Config, store: Callable[[], Store], page: Callable, csrf_checked: Callable[[], None],
             gone: Callable) -> None:
    @app.get("/cancelar/<token>")
    def cancel_change(token: str):
        change = email_change.by_cancel_token(store().conn, token)
        if change is None or not change.open():
            return gone()
        held = datetime.fromisoformat(change.apply_after) > now()
        return page("cancel_change.html", account=change.account, new_email=email_change.masked(change.new_email),
                    apply_at=config.local_time(change.apply_after) if held else "", confirmed=bool(change.confirmed_at))

    @app.post("/cancelar/<token>")
    def cancel_change_post(token: str):
        csrf_checked()
        outcome = email_change.cancel_by_owner(store(), token, g.client)
        if outcome == "gone":
            return gone()
        if outcome == "busy":
            return page("error.html", 409, title="El cambio se está aplicando",
                        message="El cambio de correo se está aplicando en este momento y ya no se puede cancelar "
                                "desde aquí. Si usted no lo pidió, escríbanos de inmediato indicando el número de "
                                "radicado.")
        return page("cancel_done.html")
