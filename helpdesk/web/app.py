"""``helpdesk web``: the pages behind a reset link, and self-service recovery.

A Flask application (routing, request parsing, Jinja templates with
autoescaping) served by waitress (helpdesk/commands/web.py), behind the
entity's HTTPS reverse proxy. Pages are plain HTML forms in Spanish that
work without JavaScript; every response carries guard.HEADERS.

- ``/r/TOKEN``: the account and a form with ``password`` and ``confirm``;
  a used, expired or replaced link answers 410 saying how to ask again.
- ``/recuperar``: the identifier; then the masked registered email and
  phone to choose from; a link by email or a code by SMS; the code page
  leads to a fresh link page. What is sent goes after the answer
  (web/deferred.py, web/sends.py), so a real account and an unknown one
  answer alike in words and in time; limits slow a stranger without
  locking the owner out, and global budgets cap the page (web/budgets.py).

Nothing here logs a path, a token or a password.
"""

from __future__ import annotations

import logging
import secrets
import threading
from pathlib import Path

from flask import Flask, abort, g, make_response, redirect, render_template, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..config import Config
from ..outgoing.replies import Renderer
from ..resets import links
from ..resets.registered import lookup, valid_identifier
from ..staff import email_change
from ..staff.email_change import EMAIL_CHANGE
from ..store import Store
from . import budgets, email_change_pages, guard, recovery, sends
from .deferred import Deferred
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
    deferred = Deferred()
    app.extensions["helpdesk_deferred"] = deferred  # tests and bench wait on it (drain)
    # Decoy domains: the entity's own, where real registered addresses live too.
    own_domains = tuple(dict.fromkeys(d.lower() for d in (
        *config.accounts.domains, (config.inbox_address or "").rpartition("@")[2],
        config.smtp.from_address.rpartition("@")[2]) if d))

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
        # «¿Olvidó su contraseña?» only where /recuperar answers (it is a 404 when off).
        context.setdefault("self_service", config.selfservice.enabled)
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
        if config.selfservice.enabled:
            return redirect("/recuperar", code=303)
        # Without self-service the site root has no form to offer; a person
        # who typed the bare address reads where the links come from, not
        # a redirect to /recuperar's 404.
        return page("index.html")

    # -- the link ------------------------------------------------------------

    @app.route("/r/<token>", methods=["GET", "POST"])
    def link_page(token: str):
        found = links.find(store().conn, token)
        dead = found is not None and found.status() != links.VALID
        # What this request adds to the audit (an email change's page writes its own).
        event = (f"opened_{found.status()}" if dead else "opened" if found is not None and request.method == "GET"
                 and found.purpose != EMAIL_CHANGE else "")
        # Issue 22, item 8: a dead link opened 500 times a second wrote a row
        # each time. Per client (an IPv6 one by its /64), bounded; past the
        # limit nothing is written but the window's first refusal. One
        # transaction for the count and the audit line.
        with store().transaction() as conn:
            verdict = guard.over_limit(conn, f"link-client:{guard.limit_key(g.client)}",
                                       config.web.max_link_requests_per_client)
            if verdict.first:
                links.record(conn, "rate_limited", g.client, detail="link")
            elif not verdict and event:
                links.record(conn, event, g.client, found)
        if verdict:
            return too_many()
        if found is None or dead:
            return gone()
        if found.purpose == EMAIL_CHANGE:
            return email_change_page(found)
        if request.method == "GET":
            return page("link.html", account=found.account, expires=config.local_time(found.expires_at))
        outcome = use(store(), config, renderer, found, request.form.get("password", ""),
                      request.form.get("confirm", ""), g.client)
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
        # Confirmed within the hold: applied later, unless the old owner cancels.
        confirmed = email_change.confirm(store(), config, renderer, found, g.client)
        if confirmed.status == "gone":
            return gone()
        if confirmed.status == "applied":
            return page("email_done.html", account=found.account, new_email=new_email)
        return page("email_held.html", account=found.account, new_email=new_email,
                    apply_at=config.local_time(confirmed.apply_after), retrying=confirmed.status == "retrying")

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
        # No limit per identifier here: a lookup changes nothing and shows
        # the same masks every time, and a stranger's lookups must not lock
        # the owner out (issue 22: five of them did, for an hour).
        refused = limited(identifier, "id", budgets.LOOKUP)
        if refused:
            return refused
        registered = lookup(config, identifier)
        decoy_email, decoy_phone = recovery.decoy(key, identifier, own_domains)
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

    def limited(identifier: str, what: str, budget: str):
        """None, or the refusal page: ``what`` names the per-client counter
        (lookups, sends, code tries; an IPv6 client by its /64), ``budget``
        the global one. A refusal writes one audit line per client and hour."""
        with store().transaction() as conn:
            verdict = guard.over_limit(conn, f"{what}-client:{guard.limit_key(g.client)}",
                                       config.web.max_requests_per_client)
            if verdict.first:
                links.record(conn, "rate_limited", g.client, identifier=identifier, detail=what)
            if not verdict and not budgets.spend(conn, config, budget):
                return busy()
        return too_many() if verdict else None

    def too_many():
        return page("error.html", 429, title="Demasiados intentos",
                    message="Hubo demasiados intentos desde su conexión en la última hora. Espere un rato e intente "
                            "de nuevo, o escríbanos.")

    def busy():
        response = page("error.html", 503, title="Servicio ocupado",
                        message="La página recibió demasiadas solicitudes en la última hora y no atiende más por "
                                "ahora. Intente de nuevo en una hora, o escríbanos.")
        response.headers["Retry-After"] = "3600"
        return response

    def identifier_of_step(max_age: int, code_step: bool = False) -> tuple[str, str]:
        """(identifier, the step's nonce) of a signed step, or 403."""
        try:
            data = steps.loads(request.form.get("step", ""), max_age=max_age)
            if code_step and not data.get("code"):
                abort(403)
            return data["id"], str(data.get("n", ""))
        except (BadSignature, KeyError, TypeError, AttributeError):
            abort(403)

    @app.post("/recuperar/enviar")
    def recover_send():
        self_service_on()
        csrf_checked()
        identifier, _nonce = identifier_of_step(15 * 60)
        means = "sms" if request.form.get("means") == "sms" and config.selfservice.sms_command else "email"
        refused = limited(identifier, "send", budgets.SEND)
        if refused:
            return refused
        # Per identifier and means, a few sends an hour, each later than the
        # last: a replayed step cannot bomb a person or buy endless codes.
        # Counted alike for unknown identifiers; what was sent stays valid.
        with store().transaction() as conn:
            slowed = guard.slowed(conn, f"send-{means}:{identifier.casefold()}",
                                  config.web.max_requests_per_identifier, config.web.send_spacing_seconds)
        minutes = max(1, -(-slowed.wait // 60))
        registered = lookup(config, identifier)
        nonce = secrets.token_urlsafe(16)
        if not slowed:
            # The same work for every identifier; the send itself comes after
            # the answer (a real account's SMS program took 354 ms).
            client = g.client  # the job runs outside this request
            deferred.submit(lambda: send_later(identifier, means, nonce, registered, client))
        if means == "sms":
            if slowed:
                return page("error.html", 429, title="Espere un momento",
                            message=f"Ya enviamos códigos hace poco. Podrá pedir otro en {minutes} minuto"
                                    f"{'' if minutes == 1 else 's'}; también puede pedir el enlace por correo.")
            return page("code.html", step=steps.dumps({"id": identifier, "code": True, "n": nonce}),
                        minutes=config.selfservice.code_minutes)
        return page("sent.html", hours=config.reset.link_hours, wait_minutes=minutes if slowed else 0)

    def send_later(identifier: str, means: str, nonce: str, registered, client: str) -> None:
        """The deferred job: nothing for an unknown identifier (or a real one
        without a phone); otherwise the link or the code (web/sends.py)."""
        if registered is None:
            return
        if means == "sms":
            if registered.phone:
                sends.send_code(store(), config, key, client, identifier, nonce, registered)
            return
        sends.send_link(store(), config, renderer, client, identifier, registered)

    @app.post("/recuperar/codigo")
    def recover_code():
        self_service_on()
        csrf_checked()
        identifier, nonce = identifier_of_step(config.selfservice.code_minutes * 60, code_step=True)
        # A try is checked against this step's own code only (5 tries); the
        # page's tries are capped per client and globally.
        refused = limited(identifier, "code", budgets.GUESS)
        if refused:
            return refused
        code = "".join(c for c in request.form.get("code", "") if c.isdigit())[:6]
        with store().transaction() as conn:
            token = sends.use_code(conn, config, key, g.client, identifier, nonce, code) if nonce else None
        if token is None:
            return page("code.html", step=request.form.get("step", ""), minutes=config.selfservice.code_minutes,
                        error="El código no es válido o venció. Revíselo o pida uno nuevo.")
        return redirect(f"/r/{token}", code=303)

    email_change_pages.register(app, config, store, page, csrf_checked, gone)  # /cancelar/TOKEN
    return app

