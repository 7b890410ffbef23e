"""Reset by link and self-service (issue 13, CONTRACT §10), over real HTTP:
the application served by waitress on 127.0.0.1, the links taken from the
emails helpdesk wrote, the passwords applied by a real command backend.
The same in a real browser (headless Chromium) and against slapd is
tests/test_web_browser.py."""

from __future__ import annotations

import json
import sys
from datetime import timedelta

import pytest

from helpdesk.resets import links
from helpdesk.store import now

from .conftest import Embedded, run_helpdesk
from .test_staff import pending
from .web_server import Browser, WebServer, any_port, links_in, web_sections

GOOD = "Montaña-Azul-73"


@pytest.fixture
def site(tmp_path):
    """A helpdesk with delivery by link, a command backend that records what
    it is given, and its web pages served; yields (env, base_url, log)."""
    log = tmp_path / "aplicadas.jsonl"
    program = tmp_path / "reset.py"
    program.write_text("import sys, json\nlines = sys.stdin.read().splitlines()\n"
                       "if lines[0].startswith('falla'): sys.exit(4)\n"
                       f"open({str(log)!r}, 'a').write(json.dumps(lines) + '\\n')\n", encoding="utf-8")
    lookup = tmp_path / "lookup.py"
    lookup.write_text("import sys, json\nwho = sys.stdin.read().strip()\n"
                      "if who != 'jperez': sys.exit(1)\n"
                      "print(json.dumps({'account': 'jperez@alcaldia-prueba.gov.co', "
                      "'email': 'juan.perez.leon1@gmail.com', 'phone': '+57 300 555 9129'}))\n", encoding="utf-8")
    sms = tmp_path / "sms.py"
    sms.write_text(f"import sys\nopen({str(tmp_path / 'sms.txt')!r}, 'a').write(sys.stdin.read())\n",
                   encoding="utf-8")
    port = any_port()
    env = Embedded(tmp_path / "h", reset={"backend": "command", "command": [sys.executable, str(program)],
                                          "delivery": "link"},
                   web=web_sections(port),
                   selfservice={"enabled": True, "lookup": "command", "command": [sys.executable, str(lookup)],
                                "sms_command": [sys.executable, str(sms)]})
    with WebServer(env.config, port) as server:
        env.web = server  # env.web.drain(): what the pages send after their answer
        yield env, f"http://127.0.0.1:{port}", log
    env.daemon.close()
    env.store.close()


def approve(env: Embedded, radicado: str) -> list[str]:
    done = run_helpdesk("--config", env.config_path, "approve", radicado, "--by", "Ana", timeout=60)
    assert done.returncode == 0, done.stderr
    assert "los enlaces para cambiar las claves van a despacho@alcaldia-prueba.gov.co" in done.stdout
    env.run_once()
    [email] = [m for m in env.sent() if m["X-Helpdesk-Kind"] == "reset_link"][-1:]
    return links_in(email.get_body(("plain",)).get_content(), env.config.web.base_url)


def applied(log) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def state(env: Embedded, radicado: str) -> str:
    return env.store.one("SELECT state FROM tickets WHERE radicado = ?", (radicado,))[0]


def test_approval_sends_one_link_per_account_and_no_password(site, tmp_path):
    env, base, log = site
    radicado = pending(env, tmp_path)
    urls = approve(env, radicado)
    assert len(urls) == 2 and len(set(urls)) == 2
    email = [m for m in env.sent() if m["X-Helpdesk-Kind"] == "reset_link"][0]
    assert email["To"] == "despacho@alcaldia-prueba.gov.co"
    assert "Clave temporal" not in email.as_string() and state(env, radicado) == "link_sent"
    # Only the hash of each token is stored.
    tokens = [url.rsplit("/", 1)[1] for url in urls]
    stored = {r["token_hash"] for r in env.store.query("SELECT token_hash FROM reset_links")}
    assert not set(tokens) & stored and {links.digest(t) for t in tokens} <= stored
    assert len(tokens[0]) >= 43  # 256 bits in base64url
    assert applied(log) == []


def test_a_link_refuses_a_weak_password_then_applies_a_good_one_once(site, tmp_path):
    env, base, log = site
    radicado = pending(env, tmp_path)
    first, second = approve(env, radicado)
    browser = Browser()
    page = browser.get(first)
    assert page.status == 200 and "contactenos@alcaldia-prueba.gov.co" in page.text
    assert 'name="password"' in page.text and 'name="confirm"' in page.text
    for header, value in (("X-Frame-Options", "DENY"), ("Cache-Control", "no-store"),
                          ("Referrer-Policy", "no-referrer")):
        assert page.headers[header] == value
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    weak = browser.post(first, {"password": "corta1", "confirm": "corta1", "csrf": page.hidden("csrf")})
    assert weak.status == 200 and "al menos 8 caracteres." in weak.text and "Se ha actualizado" not in weak.text
    common = browser.post(first, {"password": "Colombia2024", "confirm": "Colombia2024"})
    assert common.status == 200 and "demasiado común" in common.text
    mismatch = browser.post(first, {"password": GOOD, "confirm": GOOD + "x"})
    assert mismatch.status == 200 and "no coinciden" in mismatch.text
    assert applied(log) == []  # nothing applied while refused: the link is still valid
    done = browser.post(first, {"password": GOOD, "confirm": GOOD})
    assert done.status == 200 and "Se ha actualizado la contraseña" in done.text
    assert applied(log) == [["contactenos@alcaldia-prueba.gov.co", GOOD]]
    again = browser.get(first)
    assert again.status == 410 and "ya no es válido" in again.text
    assert browser.post(first, {"password": GOOD, "confirm": GOOD}).status == 410
    assert state(env, radicado) == "link_sent"  # one account's link is still unused
    assert browser.post(second, {"password": "Otra-Clave-2031", "confirm": "Otra-Clave-2031"}).status == 200
    assert state(env, radicado) == "resolved"
    events = [r["event"] for r in env.store.query("SELECT event FROM web_events ORDER BY id")]
    assert events.count("used") == 2 and "refused" in events and "opened" in events
    shown = run_helpdesk("--config", env.config_path, "show", radicado, timeout=60).stdout
    assert "Enlaces:" in shown and "usado" in shown


def test_an_expired_or_replaced_link_answers_410(site, tmp_path):
    env, base, log = site
    radicado = pending(env, tmp_path)
    [old, _other] = approve(env, radicado)
    # Approving again sends newer links: the older ones stop working.
    [new, _] = approve(env, radicado)
    browser = Browser()
    assert browser.get(old).status == 410
    assert browser.get(new).status == 200
    # An injected clock: a link issued three hours ago with a two-hour life.
    with env.store.transaction() as conn:
        token = links.issue(conn, "otra@alcaldia-prueba.gov.co", 2, links.SELF_SERVICE, at=now() - timedelta(hours=3))
    expired = browser.get(f"{base}/r/{token}")
    assert expired.status == 410 and "venció" in expired.text
    assert browser.get(f"{base}/r/inventado").status == 410


def test_a_failed_backend_is_shown_as_such_and_the_link_stays_valid(site, tmp_path):
    env, base, log = site
    radicado = pending(env, tmp_path, accounts=[("Correo electrónico", "falla@alcaldia-prueba.gov.co")])
    [url] = approve(env, radicado)
    browser = Browser()
    failed = browser.post(url, {"password": GOOD, "confirm": GOOD})
    assert failed.status == 502 and "No se pudo cambiar la contraseña" in failed.text
    assert "Se ha actualizado" not in failed.text
    assert browser.get(url).status == 200  # retriable
    assert state(env, radicado) == "link_sent"
    assert env.store.one("SELECT count(*) FROM web_events WHERE event = 'failed'")[0] == 1


def test_a_post_from_another_site_is_refused(site, tmp_path):
    env, base, log = site
    radicado = pending(env, tmp_path)
    [url, _] = approve(env, radicado)
    forged = Browser().post(url, {"password": GOOD, "confirm": GOOD}, headers={"Origin": "https://atacante.example"})
    assert forged.status == 403 and applied(log) == []
    page = Browser().get(f"{base}/recuperar")
    no_token = Browser().post(f"{base}/recuperar", {"identifier": "jperez"})
    assert page.status == 200 and no_token.status == 403


def test_self_service_answers_the_same_for_an_unknown_identifier(site, tmp_path):
    env, base, log = site
    known, unknown = Browser(), Browser()
    for browser, who in ((known, "jperez"), (unknown, "nadie")):
        form = browser.get(f"{base}/recuperar")
        browser.result = browser.post(f"{base}/recuperar", {"identifier": who, "csrf": form.hidden("csrf")})
    assert known.result.status == unknown.result.status == 200
    assert "*****eon1@gmail.com" in known.result.text and "*****9129" in known.result.text
    strip = lambda text: __import__("re").sub(r"\*{5}[^<\s]+|value=\"[^\"]*\"", "", text)  # noqa: E731
    assert strip(known.result.text) == strip(unknown.result.text)
    for browser in (known, unknown):
        sent = browser.post(f"{base}/recuperar/enviar", {"means": "email", "csrf": browser.result.hidden("csrf"),
                                                         "step": browser.result.hidden("step")})
        assert sent.status == 200 and "Si los datos corresponden a una cuenta" in sent.text
    env.web.drain()
    env.run_once()
    [email] = [m for m in env.sent() if m["X-Helpdesk-Kind"] == "selfservice_link"]
    assert email["To"] == "juan.perez.leon1@gmail.com"
    assert "nunca le pediremos su contraseña" in email.get_body(("plain",)).get_content()
    [url] = links_in(email.get_body(("plain",)).get_content(), base)
    assert Browser().post(url, {"password": GOOD, "confirm": GOOD}).status == 200
    assert applied(log) == [["jperez@alcaldia-prueba.gov.co", GOOD]]


def test_self_service_by_sms_code(site, tmp_path):
    env, base, log = site
    browser = Browser()
    form = browser.get(f"{base}/recuperar")
    chosen = browser.post(f"{base}/recuperar", {"identifier": "jperez", "csrf": form.hidden("csrf")})
    code_page = browser.post(f"{base}/recuperar/enviar", {"means": "sms", "csrf": chosen.hidden("csrf"),
                                                          "step": chosen.hidden("step")})
    assert code_page.status == 200
    env.web.drain()
    sms = (tmp_path / "sms.txt").read_text()
    assert sms.startswith("+57 300 555 9129\n")
    code = __import__("re").search(r"\b(\d{6})\b", sms).group(1)
    wrong = browser.post(f"{base}/recuperar/codigo", {"code": "000000" if code != "000000" else "111111",
                                                      "csrf": code_page.hidden("csrf"), "step": code_page.hidden("step")})
    assert wrong.status == 200 and "El código no es válido" in wrong.text
    link_page = browser.post(f"{base}/recuperar/codigo", {"code": code, "csrf": code_page.hidden("csrf"),
                                                          "step": code_page.hidden("step")})
    assert link_page.status == 200 and "jperez@alcaldia-prueba.gov.co" in link_page.text
    assert browser.post(link_page.url, {"password": GOOD, "confirm": GOOD}).status == 200
    assert applied(log) == [["jperez@alcaldia-prueba.gov.co", GOOD]]


def test_self_service_is_rate_limited_per_client_with_one_audit_line(site, tmp_path):
    env, base, log = site
    statuses = []
    for n in range(24):
        browser = Browser()
        form = browser.get(f"{base}/recuperar")
        statuses.append(browser.post(f"{base}/recuperar", {"identifier": f"nadie{n}",
                                                           "csrf": form.hidden("csrf")}).status)
    assert statuses == [200] * 20 + [429] * 4  # [web] max_requests_per_client
    # One audit line for the whole refused flood, not one per request (issue 22, item 8).
    assert env.store.one("SELECT count(*) FROM web_events WHERE event = 'rate_limited'")[0] == 1


def test_check_says_whether_the_web_pages_answer(site, tmp_path):
    env, base, log = site
    up = run_helpdesk("--config", env.config_path, "check", timeout=60).stdout
    assert f"OK    web: helpdesk web responde en 127.0.0.1:{env.config.web.address()[1]}" in up


def test_check_fails_when_links_are_on_and_nobody_serves_them(tmp_path):
    port = any_port()
    env = Embedded(tmp_path / "h", reset={"delivery": "link"}, web=web_sections(port))
    down = run_helpdesk("--config", env.config_path, "check", timeout=60)
    assert down.returncode == 1
    assert f'[reset] delivery = "link" necesita helpdesk web, que no responde en 127.0.0.1:{port}' in down.stdout
    assert "systemctl enable --now helpdesk-web" in down.stdout


def test_links_without_a_base_url_are_refused_naming_the_key(tmp_path):
    from helpdesk.errors import ConfigError

    with pytest.raises(ConfigError, match=r"web\.base_url: obligatorio con reset\.delivery"):
        Embedded(tmp_path / "h", reset={"delivery": "link"})


def test_sends_are_limited_and_a_self_service_link_leaves_the_approved_one_alone(site, tmp_path):
    env, base, log = site
    radicado = pending(env, tmp_path, accounts=[("Correo electrónico", "jperez@alcaldia-prueba.gov.co")])
    [approved] = approve(env, radicado)
    browser = Browser()
    form = browser.get(f"{base}/recuperar")
    chosen = browser.post(f"{base}/recuperar", {"identifier": "jperez", "csrf": form.hidden("csrf")})
    step = {"means": "email", "csrf": chosen.hidden("csrf"), "step": chosen.hidden("step")}
    # The signed step replayed at once: one send, the next ones slowed (send_spacing_seconds): the
    # page says so and sends nothing more (no SMS or email bombing, no endless codes).
    answers = [browser.post(f"{base}/recuperar/enviar", step) for _ in range(4)]
    assert [a.status for a in answers] == [200] * 4
    assert "no enviamos otro" not in answers[0].text and all("no enviamos otro" in a.text for a in answers[1:])
    env.web.drain()
    assert env.store.one("SELECT count(*) FROM reset_links WHERE purpose = 'self-service'")[0] == 1
    # Staff's link for the same account still works, and resolves its ticket.
    assert Browser().post(approved, {"password": GOOD, "confirm": GOOD}).status == 200
    assert state(env, radicado) == "resolved"


def test_the_client_address_comes_from_the_trusted_proxy_only(site, tmp_path):
    env, base, log = site
    browser = Browser()
    browser.get(f"{base}/recuperar", headers={"X-Forwarded-For": "203.0.113.7"})
    form = browser.get(f"{base}/recuperar")
    browser.post(f"{base}/recuperar", {"identifier": "nadie", "csrf": form.hidden("csrf")},
                 headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.7"})
    # 127.0.0.1 is a trusted proxy ([web] trusted_proxies): the address it saw is the client's.
    assert env.store.one("SELECT client FROM web_events WHERE event = 'lookup'")[0] == "203.0.113.7"


def test_a_password_with_a_line_break_is_refused(site, tmp_path):
    env, base, log = site
    [url] = approve(env, pending(env, tmp_path, accounts=[("Correo electrónico", "a@alcaldia-prueba.gov.co")]))
    refused = Browser().post(url, {"password": "Buena-Clave-1\notra", "confirm": "Buena-Clave-1\notra"})
    assert "saltos de línea" in refused.text and applied(log) == []


def test_a_decoy_looks_like_a_real_mask():
    from helpdesk.web import recovery

    key = b"k" * 32
    # An address as identifier: masked as itself, as an account registered to it would be.
    assert recovery.decoy(key, "Juan.Perez@Entidad.gov.co")[0] == "*****erez@entidad.gov.co"
    email, phone = recovery.decoy(key, "jperez", ("entidad.gov.co",))
    assert email == recovery.decoy(key, "JPEREZ", ("entidad.gov.co",))[0]  # the same every time
    assert email.startswith("*****") and phone.startswith("*****") and len(phone) == 9


def test_a_registered_address_that_is_not_one_counts_as_no_account(tmp_path):
    from helpdesk.resets.registered import lookup

    program = tmp_path / "lookup.py"
    program.write_text("import json\nprint(json.dumps({'account': 'x', 'email': 'a@b.co, otro@atacante.example'}))\n")
    env = Embedded(tmp_path / "h", selfservice={"lookup": "command", "command": [sys.executable, str(program)]})
    assert lookup(env.config, "x") is None


# -- what a used link teaches the entity directory (issue 25, item 8) ----------

YUMBO = {"Nombre de la entidad": "Alcaldía de Yumbo", "NIT": "890399025-6", "Municipio": "Yumbo",
         "Departamento": "Valle del Cauca", "Correo electrónico": "despacho@yumbo.gov.co"}
YUMBO_ACCOUNTS = [("Correo electrónico", "contactenos@yumbo.gov.co"), ("Correo electrónico", "ti@yumbo.gov.co")]


def yumbo_request(env: Embedded, tmp_path, legal_rep_email: str) -> str:
    """A complete request of the Alcaldía de Yumbo, examined; its radicado."""
    from helpdesk.demo import acta_scan, form_scan

    from . import forms, mails

    excel = forms.filled_template(tmp_path, {**YUMBO, "Correo electrónico": legal_rep_email}, accounts=YUMBO_ACCOUNTS)
    rep, cargo = forms.GOOD["Nombres y apellidos"], forms.GOOD["Cargo"]
    files = [("formato_firmado.pdf", form_scan(YUMBO["Nombre de la entidad"], rep, cargo), "application/pdf"),
             ("Formato solicitud.xlsx", excel, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
             ("acta_posesion.pdf", acta_scan(rep, cargo), "application/pdf")]
    env.deliver(mails.request(sender="sistemas@yumbo.gov.co", attachments=files))
    [outcome] = env.run_once()
    return outcome.radicado


def codes(env: Embedded, radicado: str) -> set[str]:
    return {r["code"] for r in env.store.query("SELECT f.code FROM findings f JOIN tickets t ON t.id = f.ticket_id "
                                               "WHERE t.radicado = ?", (radicado,))}


def directory(env: Embedded) -> dict:
    return {e["nit"]: e for e in json.loads(run_helpdesk("--config", env.config_path, "entidades", "--json").stdout)}


def test_a_link_approval_teaches_the_directory_when_its_links_are_used_and_not_before(site, tmp_path):
    env, base, log = site
    listing = tmp_path / "entidades.csv"  # the office's list, without Yumbo
    listing.write_text("NIT;Nombre;Departamento;Municipio;Dominios\n"
                       "899999061;Gobernación de Ejemplo;Cundinamarca;;gobernacion-ejemplo.gov.co\n", encoding="utf-8")
    assert run_helpdesk("--config", env.config_path, "entidades", "import", str(listing)).returncode == 0
    cli = lambda *args: run_helpdesk("--config", env.config_path, *args, timeout=60)  # noqa: E731

    # Links sent and then revoked prove nothing: nothing is learned.
    revoked = yumbo_request(env, tmp_path, "despacho@yumbo.gov.co")
    assert "entity_not_in_directory" in codes(env, revoked)
    assert cli("approve", revoked, "--by", "Ana").returncode == 0
    assert cli("revoke", revoked, "--by", "Ana", "--reason", "La entidad no la pidió").returncode == 0
    assert "890399025" not in directory(env)

    first = yumbo_request(env, tmp_path, "despacho@yumbo.gov.co")
    approved = cli("approve", first, "--by", "Ana")
    assert approved.returncode == 0, approved.stderr
    assert "890399025" not in directory(env)  # links out, none used: nothing proven yet
    env.run_once()
    urls = links_in([m for m in env.sent() if m["X-Helpdesk-Kind"] == "reset_link"][-1]
                    .get_body(("plain",)).get_content(), base)
    assert len(urls) == 2
    assert Browser().post(urls[0], {"password": GOOD, "confirm": GOOD}).status == 200
    assert state(env, first) == "link_sent" and "890399025" not in directory(env)
    assert Browser().post(urls[1], {"password": "Otra-Clave-2031", "confirm": "Otra-Clave-2031"}).status == 200
    assert state(env, first) == "resolved"
    learned = directory(env)["890399025"]
    assert (learned["name"], learned["source"], learned["last_legal_rep_email"], learned["last_radicado"],
            learned["domains"]) == ("Alcaldía de Yumbo", "aprendida", "despacho@yumbo.gov.co", first, ["yumbo.gov.co"])

    # The next Yumbo request naming another field 1.2 is the high-risk change, not an unknown entity.
    second = yumbo_request(env, tmp_path, "alcaldeyumbo2026@gmail.com")
    found = codes(env, second)
    assert "legal_rep_email_changed" in found and "entity_not_in_directory" not in found
    [detail] = [r["detail"] for r in env.store.query(
        "SELECT f.detail FROM findings f JOIN tickets t ON t.id = f.ticket_id WHERE t.radicado = ? "
        "AND f.code = 'legal_rep_email_changed'", (second,))]
    day = env.store.one("SELECT at FROM events e JOIN tickets t ON t.id = e.ticket_id WHERE t.radicado = ? "
                        "AND e.action = 'resuelta'", (first,))[0]
    from helpdesk import localtime

    when = localtime.show(day, localtime.zone(env.config.site.timezone))[:10]
    assert detail == ("el correo del representante legal (campo 1.2) es alcaldeyumbo2026@gmail.com; en la última "
                      f"solicitud aprobada de este NIT ({first}, del {when}) era despacho@yumbo.gov.co")
    refused = cli("approve", second, "--by", "Ana")
    assert refused.returncode == 1 and "legal_rep_email_changed" in refused.stderr


# -- «¿Olvidó su contraseña?» only where it answers (issue 25, item 10) --------------


def test_pages_offer_self_service_only_when_it_is_on(site, tmp_path):
    env, base, _log = site
    on = Browser().get(f"{base}/r/inventado")
    assert on.status == 410 and '<a href="/recuperar">¿Olvidó su contraseña?</a>' in on.text

    port = any_port()
    off = Embedded(tmp_path / "sin", reset={"backend": "command", "command": ["/bin/true"], "delivery": "link"},
                   web=web_sections(port))
    radicado = pending(off, tmp_path)
    assert run_helpdesk("--config", off.config_path, "approve", radicado, "--by", "Ana").returncode == 0
    off.run_once()
    [url, other] = links_in([m for m in off.sent() if m["X-Helpdesk-Kind"] == "reset_link"][0]
                            .get_body(("plain",)).get_content(), f"http://127.0.0.1:{port}")
    with WebServer(off.config, port):
        browser = Browser()
        pages = [browser.get(url), browser.post(url, {"password": GOOD, "confirm": GOOD}), browser.get(url),
                 browser.get(f"http://127.0.0.1:{port}/recuperar")]
    assert [p.status for p in pages] == [200, 200, 410, 404]
    assert all("recuperar" not in p.text and "Olvidó" not in p.text for p in pages)
    assert ("<p>Para pedir uno nuevo, responda al correo de su solicitud indicando el número de radicado.</p>"
            in pages[2].text)
    assert "Esta página solo se abre desde el enlace que le enviamos.</p>" in pages[0].text
    off.daemon.close()
    off.store.close()


def test_the_root_explains_the_links_when_self_service_is_off(site, tmp_path):
    # It redirected to /recuperar whatever the setting, a 404 when self-service is off.
    env, base, _log = site
    on = Browser().get(f"{base}/")
    assert (on.status, on.url) == (200, f"{base}/recuperar")
    port = any_port()
    off = Embedded(tmp_path / "sin", web=web_sections(port))
    try:
        with WebServer(off.config, port):
            root = Browser().get(f"http://127.0.0.1:{port}/")
    finally:
        off.daemon.close()
        off.store.close()
    assert (root.status, root.url) == (200, f"http://127.0.0.1:{port}/")
    assert ("<p>Esta dirección atiende los enlaces que enviamos por correo para cambiar una contraseña o confirmar "
            "un correo nuevo: abra el enlace del mensaje que recibió.</p>\n<p>Si no lo tiene o ya no es válido, "
            "responda al correo de su solicitud indicando el número de radicado.</p>") in root.text
    assert "recuperar" not in root.text and "Olvidó" not in root.text
