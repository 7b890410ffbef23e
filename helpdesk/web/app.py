"""``helpdesk web``: the pages behind a reset link, and self-service recovery.

A Flask application (routing, request parsing, Jinja templates with
autoescaping) served by waitress (helpdesk/commands/web.py), behind the
entity's HTTPS reverse proxy. Pages are plain HTML forms in Spanish that
work without JavaScript; every response carries guard.HEADERS.

- ``/r/TOKEN``: the account and a form with ``password`` and ``confirm``;
  a used, expired or replaced link answers 410 saying how to ask again.
- ``/recuperar``: the identifier; then the masked registered email and
  phone to choose from; a link by email or a code by SMS; the code page
  leads to a fresh link page.

Nothing here logs a path, a token or a password.
"""

from __future__ import annotations

import hmac
import logging
import threading
from datetime import timedelta
from pathlib import Path

from flask import Flask, abort, g, make_response, redirect, render_template, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..config import Config
from ..errors import ResetFailed
from ..outgoing import outbox
from ..outgoing.replies import Renderer
from ..resets import links
from ..resets.registered import Registered, lookup, valid_identifier
from ..staff.email_change import EMAIL_CHANGE, confirm_email_change
from ..store import Store, iso, now
from . import guard, recovery
from .linkuse import use

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"


def create_app(config: Config) -> Flask:
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024  # forms of a few fields
    key = guard.secret(config.web_secret_path)
    steps = URLSafeTimedSerializer(key, salt="helpdesk-recovery")
    local = threading.local()
    renderer = Renderer(config)
    secure_cookie = config.web.base_url.startswith("https://")

    def store() -> Store:
        if getattr(local, "store", None) is None:
            local.store = Store(config.database_path, config.raw_dir)
        return local.store

    @app.before_request
    def before() -> None:
        g.client = guard.client_address(request.remote_addr, request.headers.get("X-Forwarded-For"),
                                        tuple(config.web.trusted_proxies))
        g.nonce = request.cookies.get(guard.CSRF_COOKIE) or guard.new_nonce()
        g.csrf = guard.csrf_token(key, g.nonce)
        if request.method == "POST" and guard.cross_site(request.headers, config.web.base_url, request.host_url):
            abort(403)

    @app.after_request
    def after(response):
        for name, value in guard.HEADERS.items():
            response.headers[name] = value
        if request.cookies.get(guard.CSRF_COOKIE) != g.get("nonce"):
            response.set_cookie(guard.CSRF_COOKIE, g.nonce, httponly=True, samesite="Strict", secure=secure_cookie,
                                path="/")
        return response

    def page(template: str, status: int = 200, **context):
        context.setdefault("support_address", config.inbox_address or config.smtp.from_address)
        context.setdefault("support_name", config.smtp.from_name)
        context.setdefault("min_length", config.reset.min_password_length)
        return make_response(render_template(template, csrf=g.csrf, **context), status)

    def csrf_checked() -> None:
        if not guard.csrf_ok(key, request.cookies.get(guard.CSRF_COOKIE), request.form.get("csrf")):
            abort(403)

    @app.errorhandler(403)
    def forbidden(_exc):
        return page("error.html", 403, title="Solicitud rechazada",
                    message="El formulario venció o no viene de esta página. Vuelva a abrir la página y "
                            "envíelo de nuevo.")

    @app.errorhandler(404)
    def not_found(_exc):
        return page("error.html", 404, title="Página no encontrada", message="Revise la dirección.")

    @app.errorhandler(413)
    def too_large(_exc):
        return page("error.html", 413, title="Solicitud demasiado grande", message="Envíe solo el formulario.")

    @app.get("/estilo.css")
    def stylesheet():
        response = make_response((STATIC / "estilo.css").read_bytes())
        response.headers["Content-Type"] = "text/css; charset=utf-8"
        return response

    @app.get("/salud")
    def health():
        store().one("SELECT 1")
        return "ok"

    @app.get("/")
    def index():
        return redirect("/recuperar", code=303)

    # -- the link ------------------------------------------------------------

    @app.route("/r/<token>", methods=["GET", "POST"])
    def link_page(token: str):
        found = links.find(store().conn, token)
        if found is None or found.status() != links.VALID:
            if found is not None:
                with store().transaction() as conn:
                    links.record(conn, f"opened_{found.status()}", g.client, found)
            return gone()
        if found.purpose == EMAIL_CHANGE:
            return email_change_page(found)
        if request.method == "GET":
            with store().transaction() as conn:
                links.record(conn, "opened", g.client, found)
            return page("link.html", account=found.account, expires=config.local_time(found.expires_at))
        outcome = use(store(), config, found, request.form.get("password", ""), request.form.get("confirm", ""),
                      g.client)
        if outcome.gone:
            return gone()
        if not outcome.done:
            # A refused password re-shows the form with its reason (200, as a
            # form with errors); a backend that failed is a gateway error.
            return page("link.html", 502 if outcome.backend_failed else 200, account=found.account,
                        expires=config.local_time(found.expires_at), error=outcome.message)
        return page("done.html", account=found.account)

    def gone():
        return page("gone.html", 410)

    def email_change_page(found: links.Link):
        """A new registered email, confirmed by whoever opens its link (staff/email_change.py)."""
        new_email = found.scope.get("new_email", "")
        if request.method == "GET":
            with store().transaction() as conn:
                links.record(conn, "opened", g.client, found)
            return page("confirm_email.html", account=found.account, new_email=new_email,
                        expires=config.local_time(found.expires_at))
        if not confirm_email_change(store(), config, renderer, found, g.client):
            current = links.find(store().conn, request.view_args["token"])
            if current is None or current.status() != links.VALID:
                return gone()
            return page("confirm_email.html", 502, account=found.account, new_email=new_email,
                        expires=config.local_time(found.expires_at),
                        error="No se pudo registrar el correo en este momento. Intente de nuevo en unos minutos "
                              "con este mismo enlace; si el problema sigue, escríbanos.")
        return page("email_done.html", account=found.account, new_email=new_email)

    # -- self-service --------------------------------------------------------

    def self_service_on() -> None:
        if not config.selfservice.enabled:
            abort(404)

    @app.get("/recuperar")
    def recover():
        self_service_on()
        return page("recover.html", label=config.selfservice.identifier_label)

    @app.post("/recuperar")
    def recover_post():
        self_service_on()
        csrf_checked()
        identifier = request.form.get("identifier", "").strip()
        if not valid_identifier(identifier):
            return page("recover.html", label=config.selfservice.identifier_label,
                        error=f"Escriba su {config.selfservice.identifier_label.lower()} tal como lo registró.")
        limited = limit(identifier)
        if limited:
            return limited
        registered = lookup(config, identifier)
        decoy_email, decoy_phone = recovery.decoy(key, identifier, tuple(config.accounts.domains))
        if registered:
            # A real account without a phone shows a decoy one too: whether the
            # SMS option is there must say nothing; choosing it sends nothing.
            email = recovery.mask_email(registered.email)
            phone = recovery.mask_phone(registered.phone) or decoy_phone
        else:
            email, phone = decoy_email, decoy_phone
        with store().transaction() as conn:
            links.record(conn, "lookup", g.client, identifier=identifier,
                         detail="encontrado" if registered else "desconocido")
        return page("choose.html", email=email, phone=phone, step=steps.dumps({"id": identifier}),
                    sms=bool(config.selfservice.sms_command))

    def limit(identifier: str, what: str = "id", per_identifier: int | None = None):
        """None, or the 429 page: ``what`` names the counter (lookups, sends,
        code attempts), each per identifier and per client address."""
        cfg = config.web
        folded = identifier.casefold()
        with store().transaction() as conn:
            if (guard.over_limit(conn, f"{what}-client:{g.client}", cfg.max_requests_per_client)
                    or guard.over_limit(conn, f"{what}:{folded}", per_identifier or cfg.max_requests_per_identifier)):
                links.record(conn, "rate_limited", g.client, identifier=identifier, detail=what)
                return page("error.html", 429, title="Demasiados intentos",
                            message="Hubo demasiados intentos en la última hora. Espere una hora e intente de "
                                    "nuevo, o escríbanos.")
        return None

    def identifier_of_step(max_age: int, code_step: bool = False) -> str:
        try:
            data = steps.loads(request.form.get("step", ""), max_age=max_age)
            if code_step and not data.get("code"):
                abort(403)
            return data["id"]
        except (BadSignature, KeyError, TypeError, AttributeError):
            abort(403)

    @app.post("/recuperar/enviar")
    def recover_send():
        self_service_on()
        csrf_checked()
        identifier = identifier_of_step(15 * 60)
        # Each send replaces the last link or code and costs an SMS or an
        # email to the person: a few an hour, or the step replayed would
        # bomb them and, with codes, buy endless guesses.
        limited = limit(identifier, "send", MAX_SENDS_PER_HOUR)
        if limited:
            return limited
        means = request.form.get("means")
        registered = lookup(config, identifier)
        if means == "sms" and config.selfservice.sms_command:
            if registered and registered.phone:
                send_code(identifier, registered)
            return page("code.html", step=steps.dumps({"id": identifier, "code": True}),
                        minutes=config.selfservice.code_minutes)
        if registered:
            send_link(identifier, registered)
        return page("sent.html", hours=config.reset.link_hours)

    def code_digest(identifier: str, code: str) -> str:
        """Keyed: six digits hashed alone would be read back from a copy of the database."""
        return hmac.new(key, f"code:{identifier.casefold()}:{code}".encode(), "sha256").hexdigest()

    def send_link(identifier: str, registered: Registered) -> None:
        with store().transaction() as conn:
            token = links.issue(conn, registered.account, config.reset.link_hours, links.SELF_SERVICE)
            url = config.web.link_url(token)
            reply = renderer.build("selfservice_link", registered.email, "", {
                "account": registered.account, "url": url, "hours": config.reset.link_hours}, answering=[],
                automatic=True)
            outbox.enqueue(conn, config, None, reply, sensitive=True)
            found = links.find(conn, token)
            links.record(conn, "sent", g.client, found, identifier=identifier,
                         detail=f"enlace a {recovery.mask_email(registered.email)}")

    def send_code(identifier: str, registered: Registered) -> None:
        code = recovery.new_code()
        stamp = now()
        with store().transaction() as conn:
            conn.execute("UPDATE recovery_codes SET replaced_at = ? WHERE identifier = ? "
                         "AND used_at IS NULL AND replaced_at IS NULL", (iso(stamp), identifier.casefold()))
            conn.execute("INSERT INTO recovery_codes(identifier, account, code_hash, created_at, expires_at) "
                         "VALUES (?, ?, ?, ?, ?)",
                         (identifier.casefold(), registered.account, code_digest(identifier, code), iso(stamp),
                          iso(stamp + timedelta(minutes=config.selfservice.code_minutes))))
        try:
            recovery.send_code(config, registered.phone, code)
            detail = f"código a {recovery.mask_phone(registered.phone)}"
        except ResetFailed as exc:
            detail = f"no se pudo enviar el código: {exc}"
        with store().transaction() as conn:
            links.record(conn, "code_sent", g.client, identifier=identifier, detail=detail)

    @app.post("/recuperar/codigo")
    def recover_code():
        self_service_on()
        csrf_checked()
        identifier = identifier_of_step(config.selfservice.code_minutes * 60, code_step=True)
        # Guesses are counted per identifier over the hour, across codes: a
        # new code does not buy five more.
        limited = limit(identifier, "code", MAX_CODE_GUESSES_PER_HOUR)
        if limited:
            return limited
        code = "".join(c for c in request.form.get("code", "") if c.isdigit())[:6]
        folded = identifier.casefold()
        with store().transaction() as conn:
            row = conn.execute("SELECT * FROM recovery_codes WHERE identifier = ? AND used_at IS NULL "
                               "AND replaced_at IS NULL AND expires_at > ? ORDER BY id DESC LIMIT 1",
                               (folded, iso())).fetchone()
            good = (row is not None and row["attempts"] < MAX_CODE_ATTEMPTS
                    and hmac.compare_digest(code_digest(identifier, code), row["code_hash"]))
            if row is not None and not good:
                conn.execute("UPDATE recovery_codes SET attempts = attempts + 1 WHERE id = ?", (row["id"],))
            if not good:
                links.record(conn, "code_refused", g.client, identifier=identifier)
                return page("code.html", step=request.form.get("step", ""), minutes=config.selfservice.code_minutes,
                            error="El código no es válido o venció. Revíselo o pida uno nuevo.")
            conn.execute("UPDATE recovery_codes SET used_at = ? WHERE id = ?", (iso(), row["id"]))
            token = links.issue(conn, row["account"], config.reset.link_hours, links.SELF_SERVICE)
            links.record(conn, "code_used", g.client, links.find(conn, token), identifier=identifier)
        return redirect(f"/r/{token}", code=303)

    return app


MAX_CODE_ATTEMPTS = 5  # per code
MAX_CODE_GUESSES_PER_HOUR = 10  # per identifier, whatever the codes
MAX_SENDS_PER_HOUR = 3  # links or codes sent per identifier
