"""Staff actions on the procedures that hand over an account (issue 22,
CONTRACT §13): the old owner's hold on a change of registered email, staff
taking links back (``revoke``, ``reject`` of ``link_sent``), emails with a
live link erased once delivered, result emails built before any backend
call, the high-risk gate of every action, and verdicts sent to the From.

Tickets are put straight into the database at ``pending_approval`` (what
the examination decides is tested elsewhere): these tests start where
staff do. The backends are programs that write what they were asked to a
file; the web pages are ``helpdesk web``'s application served by waitress;
the last tests run the same flows against Dovecot, aiosmtpd and slapd."""

from __future__ import annotations

import email
import email.policy
import json
import re
from pathlib import Path

import pytest

from helpdesk import config as config_mod
from helpdesk.errors import ConfigError
from helpdesk.resets import links
from helpdesk.tickets import add_finding, create

from .conftest import Embedded, Networked, run_helpdesk, write_config
from .web_server import Browser, WebServer, any_port, links_in, web_sections

CURP = "BEST710209HDFLNB09"
OLD = "b.sanchez.viejo@entidad.gov.co"
NEW = "beatriz.nueva@gmail.com"
ATTACKER = "atacante@gmail.com"
CHANGE_TO = "sinfilas@entidad.gov.co"


# -- the helpdesk under test ------------------------------------------------------


def programs(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(the backend program, the file it writes, the directory lookup program)."""
    calls = tmp_path / "backend-calls.log"
    backend = tmp_path / "backend"
    backend.write_text(f"#!/bin/sh\n{{ echo \"ARGS $*\"; cat; }} >> {calls}\n")
    backend.chmod(0o755)
    lookup = tmp_path / "lookup"
    lookup.write_text("#!/bin/sh\nread id\ncase \"$id\" in\n"
                      f"  {CURP}|bsanchez) echo '{{\"account\": \"bsanchez\", \"email\": \"{OLD}\"}}' ;;\n"
                      "  *) exit 1 ;;\nesac\n")
    lookup.chmod(0o755)
    return backend, calls, lookup


class Desk(Embedded):
    """The embedded helpdesk with command backends, a lookup program and
    its sent emails written outside the storage folder."""

    def __init__(self, tmp_path: Path, hold: float | None = None, port: int | None = None, **overrides):
        backend, self.calls, lookup = programs(tmp_path)
        self.sent_dir = tmp_path / "enviados"
        change = {"addresses": [CHANGE_TO]}
        if hold is not None:
            change["hold_hours"] = hold
        sections = {
            "reset": {"backend": "command", "command": [str(backend)]},
            "selfservice": {"lookup": "command", "command": [str(lookup)]},
            "web": web_sections(port or any_port()),
            "smtp": {"path": str(self.sent_dir)},
            "procedures": {"cambio-correo": change},
            "accounts": {"domains": ["entidad.gov.co"]},
        }
        for section, keys in overrides.items():
            sections.setdefault(section, {}).update(keys)
        super().__init__(tmp_path / "h", **sections)

    def backend_calls(self) -> list[str]:
        return [line for line in (self.calls.read_text().splitlines() if self.calls.exists() else [])
                if line.startswith("ARGS")]

    def sent(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
                for f in sorted(self.sent_dir.glob("*.eml"))]

    def of_kind(self, kind: str) -> list[email.message.EmailMessage]:
        return [m for m in self.sent() if m["X-Helpdesk-Kind"] == kind]

    def state(self, radicado: str) -> tuple:
        return tuple(self.store.one("SELECT state, claimed_by FROM tickets WHERE radicado = ?", (radicado,)))

    def cli(self, *args, input_text: str | None = None):
        return run_helpdesk("--config", self.config_path, *args, input_text=input_text, timeout=60)


@pytest.fixture
def desk(tmp_path):
    env = Desk(tmp_path)
    yield env
    env.daemon.close()
    env.store.close()


def put_ticket(env: Embedded, procedure: str, fields: dict, sender: str = ATTACKER, requester: str | None = None,
               legal_rep_email: str = "", legal_rep_name: str = "", accounts: list | None = None,
               warnings: tuple[str, ...] = ()) -> str:
    """A ticket as the examination leaves it: pending approval."""
    with env.store.transaction() as conn:
        ticket = create(conn, "GEL", sender, requester or sender, "Solicitud", procedure)
        conn.execute("UPDATE tickets SET state = 'pending_approval', form_json = ?, legal_rep_email = ?, "
                     "legal_rep_name = ? WHERE id = ?",
                     (json.dumps({"fields": fields, "accounts": accounts or []}), legal_rep_email, legal_rep_name,
                      ticket.id))
        for code in warnings:
            add_finding(conn, ticket.id, "warning", code, "puesta por la prueba")
    return ticket.radicado


def change_ticket(env: Embedded, person: str = "Beatriz Sánchez", **kwargs) -> str:
    return put_ticket(env, "cambio-correo", {"identifier": CURP, "person_name": person, "new_email": NEW,
                                             "phone": "477 555 0101"}, **kwargs)


def text(message) -> str:
    return message.get_body(("plain",)).get_content()


def cancel_link(message, port: int) -> str:
    [url] = re.findall(rf"http://127\.0\.0\.1:{port}/cancelar/[A-Za-z0-9_-]+", text(message))
    return url


def move_hold_to_the_past(env: Embedded) -> None:
    """As if the hold's hours had passed."""
    with env.store.transaction() as conn:
        conn.execute("UPDATE email_changes SET apply_after = '2000-01-01T00:00:00+00:00'")


# -- 1. the owner can stop a change of registered email ---------------------------------


def test_approving_a_change_warns_the_old_address_with_a_cancel_link_without_the_new_address(desk):
    radicado = change_ticket(desk)
    done = desk.cli("approve", radicado, "--by", "Ana Pérez")
    assert done.returncode == 0, done.stderr
    assert "aviso con enlace de cancelación al correo registrado" in done.stdout
    [confirm] = desk.of_kind("email_change_confirm")
    [pending] = desk.of_kind("email_change_pending")
    assert confirm["To"] == NEW and pending["To"] == OLD
    body = text(pending)
    port = int(desk.config.web.base_url.rsplit(":", 1)[1])
    assert cancel_link(pending, port)
    assert "bsanchez" in body and "no se ha hecho" in body
    # When it may apply: 24 h (the default) after approval, in local time.
    assert re.search(r"no antes del \d\d/\d\d/\d{4} \d\d:\d\d", body)
    raw = b"".join(f.read_bytes() for f in desk.sent_dir.glob("*-email_change_pending.eml"))
    assert NEW.encode() not in raw and b"b*****@gmail.com" in raw
    assert desk.backend_calls() == []  # nothing changes at approval


def test_a_confirmation_within_the_hold_waits_and_the_daemon_applies_it_once_after(tmp_path):
    port = any_port()
    env = Desk(tmp_path, hold=24, port=port)
    radicado = change_ticket(env)
    assert env.cli("approve", radicado, "--by", "Ana").returncode == 0
    [url] = links_in(text(env.of_kind("email_change_confirm")[0]), f"http://127.0.0.1:{port}")
    with WebServer(env.config, port):
        browser = Browser()
        opened = browser.get(url)
        confirmed = browser.post(url, {"csrf": opened.hidden("csrf")})
    assert confirmed.status == 200
    assert "se aplicará el" in confirmed.text and "salvo que el titular" in confirmed.text
    assert env.backend_calls() == []
    env.run_once()  # the hold has not ended
    assert env.backend_calls() == [] and env.state(radicado)[0] == "link_sent"
    move_hold_to_the_past(env)  # the daemon was down, or simply: the day passed
    env.run_once()
    env.run_once()
    assert env.backend_calls() == ["ARGS change-email"]
    assert env.calls.read_text().splitlines()[1:] == ["bsanchez", NEW]
    [notice] = env.of_kind("email_changed_notice")
    assert notice["To"] == OLD
    assert env.state(radicado) == ("resolved", None)


def test_with_hold_zero_the_change_applies_at_the_confirmation(tmp_path):
    port = any_port()
    env = Desk(tmp_path, hold=0, port=port)
    radicado = change_ticket(env)
    assert env.cli("approve", radicado, "--by", "Ana").returncode == 0
    [url] = links_in(text(env.of_kind("email_change_confirm")[0]), f"http://127.0.0.1:{port}")
    with WebServer(env.config, port):
        confirmed = Browser().post(url, {})
    assert confirmed.status == 200 and "Su nuevo correo quedó registrado" in confirmed.text
    assert env.backend_calls() == ["ARGS change-email"]
    assert env.state(radicado)[0] == "resolved"


def test_an_apply_killed_after_the_backend_call_is_finished_by_the_next_run_with_one_notice(tmp_path):
    port = any_port()
    env = Desk(tmp_path, hold=24, port=port)
    radicado = change_ticket(env)
    assert env.cli("approve", radicado, "--by", "Ana").returncode == 0
    [url] = links_in(text(env.of_kind("email_change_confirm")[0]), f"http://127.0.0.1:{port}")
    with WebServer(env.config, port):
        assert Browser().post(url, {}).status == 200
    move_hold_to_the_past(env)
    env.daemon.close()
    killed = run_helpdesk("--config", env.config_path, "run", "--once",
                          env={"HELPDESK_CRASH_AT": "email_change_applied"}, timeout=60)
    assert killed.returncode == -9
    assert env.store.one("SELECT claimed_by, applied_at FROM email_changes")[:] == ("daemon", None)
    again = run_helpdesk("--config", env.config_path, "run", "--once", timeout=60)
    assert again.returncode == 0, again.stderr
    assert env.backend_calls() == ["ARGS change-email", "ARGS change-email"]  # the same address, set twice
    assert len(env.of_kind("email_changed_notice")) == 1
    assert env.state(radicado)[0] == "resolved"


def test_the_cancel_page_cancels_only_by_its_button_with_the_csrf_token(tmp_path):
    port = any_port()
    env = Desk(tmp_path, port=port)
    radicado = change_ticket(env)
    assert env.cli("approve", radicado, "--by", "Ana").returncode == 0
    cancel = cancel_link(env.of_kind("email_change_pending")[0], port)
    [confirm_url] = links_in(text(env.of_kind("email_change_confirm")[0]), f"http://127.0.0.1:{port}")
    with WebServer(env.config, port):
        browser = Browser()
        shown = browser.get(cancel)
        assert shown.status == 200 and "Cancelar el cambio" in shown.text and NEW not in shown.text
        assert browser.get(cancel).status == 200  # GET never cancels
        assert browser.post(cancel, {}).status == 403  # nor a POST without the form's token
        assert env.state(radicado)[0] == "link_sent"
        done = browser.post(cancel, {"csrf": shown.hidden("csrf")})
        assert done.status == 200 and "El cambio quedó cancelado" in done.text
        assert browser.get(cancel).status == 410
        assert Browser().get(confirm_url).status == 410
    assert env.state(radicado) == ("pending_approval", None)
    warned = env.store.query("SELECT code FROM findings WHERE severity = 'warning'")
    assert "change_cancelled_by_owner" in {r["code"] for r in warned}
    refused = env.cli("approve", radicado, "--by", "Ana")
    assert refused.returncode == 1 and "change_cancelled_by_owner" in refused.stderr
    move_hold_to_the_past(env)
    env.run_once()
    assert env.backend_calls() == []
    events = {r["action"] for r in env.store.query("SELECT action FROM events")}
    assert "cambio de correo cancelado" in events


def test_hold_hours_must_be_a_number_of_hours(tmp_path):
    path = write_config(tmp_path / "config.toml", {"procedures": {"cambio-correo": {"hold_hours": -1}}})
    with pytest.raises(ConfigError, match="procedures.cambio-correo.hold_hours"):
        config_mod.load(path)
    write_config(path, {"procedures": {"cambio-correo": {"hold_hours": "un día"}}})
    checked = run_helpdesk("--config", path, "queue", timeout=60)
    assert checked.returncode == 2 and "procedures.cambio-correo.hold_hours" in checked.stderr
    assert len(checked.stderr.strip().splitlines()) == 1
    write_config(path, {"procedures": {"cambio-correo": {"hold_hours": 0}}})
    assert config_mod.load(path).procedures.hold_of("cambio-correo") == 0
    write_config(path, {"procedures": {"cambio-correo": {"addresses": [CHANGE_TO]}}})
    assert config_mod.load(path).procedures.hold_of("cambio-correo") == 24


# -- 2. staff can take it back ----------------------------------------------------------


def test_revoke_kills_the_reset_links_and_the_self_service_ones_since_and_rejects(tmp_path):
    port = any_port()
    env = Desk(tmp_path, port=port, reset={"delivery": "link"})
    radicado = put_ticket(env, "reinicio-claves", {}, sender="despacho@alcaldia-prueba.gov.co",
                          requester="otra@alcaldia-prueba.gov.co", legal_rep_email="despacho@alcaldia-prueba.gov.co",
                          accounts=[{"type": "Correo electrónico", "account": "contactenos@alcaldia-prueba.gov.co"}])
    assert env.cli("approve", radicado, "--by", "Ana").returncode == 0
    [url] = links_in(text(env.of_kind("reset_link")[0]), f"http://127.0.0.1:{port}")
    with env.store.transaction() as conn:  # what /recuperar issues for the same account meanwhile
        own = links.issue(conn, "contactenos@alcaldia-prueba.gov.co", 2, links.SELF_SERVICE)
    revoked = env.cli("revoke", radicado, "--by", "Ana", "--reason", "La entidad no pidió este cambio")
    assert revoked.returncode == 0, revoked.stderr
    assert "revocada" in revoked.stdout
    with WebServer(env.config, port):
        assert Browser().get(url).status == 410
        assert Browser().get(f"http://127.0.0.1:{port}/r/{own}").status == 410
    assert env.state(radicado)[0] == "rejected"
    [rejected] = env.of_kind("rejected")
    assert rejected["To"] == "otra@alcaldia-prueba.gov.co"  # reinicio-claves answers the requester, as before
    assert "La entidad no pidió este cambio" in text(rejected)
    events = env.store.query("SELECT action, detail FROM events WHERE action = 'revocada'")
    assert [e["detail"] for e in events] == ["La entidad no pidió este cambio; 2 enlaces sin usar invalidados"]
    assert {r["event"] for r in env.store.query("SELECT event FROM web_events")} >= {"revoked"}


def test_reject_of_a_link_sent_change_takes_its_links_back_and_answers_the_from(tmp_path):
    port = any_port()
    env = Desk(tmp_path, port=port)
    radicado = change_ticket(env, requester="respuestas@otro-sitio.example")
    assert env.cli("approve", radicado, "--by", "Ana").returncode == 0
    [confirm_url] = links_in(text(env.of_kind("email_change_confirm")[0]), f"http://127.0.0.1:{port}")
    cancel = cancel_link(env.of_kind("email_change_pending")[0], port)
    rejected = env.cli("reject", radicado, "--by", "Ana", "--reason", "El documento no corresponde")
    assert rejected.returncode == 0, rejected.stderr
    with WebServer(env.config, port):
        browser = Browser()
        assert browser.get(confirm_url).status == 410
        assert browser.post(confirm_url, {}).status == 410  # the confirmation no longer works
        assert browser.get(cancel).status == 410
    [verdict] = env.of_kind("rejected")
    assert verdict["To"] == ATTACKER  # the From, never the Reply-To
    move_hold_to_the_past(env)
    env.run_once()
    assert env.backend_calls() == [] and env.state(radicado)[0] == "rejected"


def test_correct_of_a_handover_procedure_goes_to_the_from_not_the_reply_to(desk):
    radicado = put_ticket(desk, "desbloqueo", {"account": "bsanchez", "person_name": "Beatriz"},
                          sender=OLD, requester=ATTACKER)
    assert desk.cli("correct", radicado, "--by", "Ana", "--reason", "Falta la cédula").returncode == 0
    [correction] = desk.of_kind("correction")
    assert correction["To"] == OLD


def test_a_staff_reply_in_a_handover_procedure_goes_to_the_from_and_elsewhere_to_the_reply_to(desk):
    unlock = put_ticket(desk, "desbloqueo", {"account": "bsanchez", "person_name": "Beatriz"},
                        sender=OLD, requester=ATTACKER)
    reset = put_ticket(desk, "reinicio-claves", {}, sender="despacho@alcaldia-prueba.gov.co",
                       requester="sistemas@alcaldia-prueba.gov.co")
    done = desk.cli("reply", unlock, "--by", "Ana", "--message", "Estamos revisando su solicitud.")
    assert done.returncode == 0 and f"se envía a {OLD}" in done.stdout
    assert desk.cli("reply", reset, "--by", "Ana", "--message", "Estamos revisando su solicitud.").returncode == 0
    assert sorted(m["To"] for m in desk.of_kind("reply")) == [OLD, "sistemas@alcaldia-prueba.gov.co"]


# -- 3. emails with a live link are erased once delivered ------------------------------------


def test_no_file_under_the_storage_folder_holds_a_delivered_link_token(tmp_path):
    env = Desk(tmp_path, reset={"delivery": "link"})
    change = change_ticket(env)
    reset = put_ticket(env, "reinicio-claves", {}, sender="despacho@alcaldia-prueba.gov.co",
                       legal_rep_email="despacho@alcaldia-prueba.gov.co",
                       accounts=[{"type": "Correo electrónico", "account": "contactenos@alcaldia-prueba.gov.co"}])
    for radicado in (change, reset):
        assert env.cli("approve", radicado, "--by", "Ana").returncode == 0
    tokens = [re.search(r"/(?:r|cancelar)/([A-Za-z0-9_-]{40,})", text(m)).group(1)
              for kind in ("email_change_confirm", "email_change_pending", "reset_link") for m in env.of_kind(kind)]
    assert len(tokens) == 3
    env.daemon.close()
    env.store.close()
    stored = [p for p in (tmp_path / "h").rglob("*") if p.is_file()]
    assert any(p.name == "helpdesk.db" for p in stored)
    for path in stored:
        data = path.read_bytes()
        assert not any(t.encode() in data for t in tokens), path


# -- 4. the result email is built before any backend call ----------------------------------


def test_an_address_the_email_cannot_carry_stops_a_reset_before_the_backend(desk):
    radicado = put_ticket(desk, "reinicio-claves", {}, sender="despacho@alcaldia-prueba.gov.co",
                          legal_rep_email="alcalde@alcaldía-prueba.gov.co",
                          accounts=[{"type": "Correo electrónico", "account": "contactenos@alcaldia-prueba.gov.co"}])
    refused = desk.cli("approve", radicado, "--by", "Ana")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert desk.backend_calls() == []
    assert desk.state(radicado) == ("pending_approval", None)


def broken_templates(tmp_path: Path, *kinds: str) -> Path:
    """A templates folder whose ``kinds`` fail when rendered (an undefined variable)."""
    from helpdesk.outgoing.replies import PARTS

    shipped = Path(__file__).resolve().parent.parent / "templates"
    folder = tmp_path / "plantillas"
    folder.mkdir()
    for kind in kinds:
        for part in PARTS:
            (folder / f"{kind}.{part}.j2").write_text((shipped / f"{kind}.{part}.j2").read_text(encoding="utf-8"),
                                                      encoding="utf-8")
        (folder / f"{kind}.txt.j2").write_text("{{ variable_que_no_existe }}\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize("procedure", ["reinicio-claves", "desbloqueo", "cuentas-correo"])
def test_an_email_that_cannot_be_built_applies_nothing_and_leaves_no_claim(tmp_path, procedure):
    kind, fields, extra = {
        "reinicio-claves": ("reset", {}, {"legal_rep_email": "despacho@alcaldia-prueba.gov.co", "accounts": [
            {"type": "Correo electrónico", "account": "contactenos@alcaldia-prueba.gov.co"}]}),
        "desbloqueo": ("account_unlocked", {"account": "bsanchez", "person_name": "Beatriz"}, {}),
        "cuentas-correo": ("account_created", {
            "request_type": "Creación", "account": "tesoreria@entidad.gov.co", "official_name": "Juan Pérez",
            "official_email": "juan.perez@gmail.com", "office_email": "hacienda@entidad.gov.co"}, {}),
    }[procedure]
    env = Desk(tmp_path, replies={"templates": str(broken_templates(tmp_path, kind))})
    radicado = put_ticket(env, procedure, fields, sender="hacienda@entidad.gov.co", **extra)
    refused = env.cli("approve", radicado, "--by", "Ana", "--acknowledge-warnings", "--yes")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "no se aplicó nada" in refused.stderr and "Traceback" not in refused.stderr
    assert env.backend_calls() == []
    assert env.state(radicado) == ("pending_approval", None)
    assert env.count("SELECT count(*) FROM outbox") == 0


# -- 5. form text in staff-approved emails is an excerpt ----------------------------------------


def test_form_text_in_staff_approved_emails_is_a_short_excerpt_without_links(desk):
    lure = "Beatriz Sánchez visite https://phish.example/entrar para conservar su cuenta de correo ya"
    radicado = change_ticket(desk, person=lure)
    assert desk.cli("approve", radicado, "--by", "Ana").returncode == 0
    account = put_ticket(desk, "cuentas-correo", {
        "request_type": "Modificación", "account": "tesoreria@entidad.gov.co", "official_name": "Juan Pérez",
        "official_email": "juan.perez@entidad.gov.co", "office_email": "hacienda@entidad.gov.co",
        "changes": "Nuevo cargo; confirme sus datos en www.phish.example/cuenta antes de mañana o la perderá"},
        sender="hacienda@entidad.gov.co")
    done = desk.cli("approve", account, "--by", "Ana", "--acknowledge-warnings")
    assert done.returncode == 0, done.stderr
    for kind in ("email_change_confirm", "email_change_pending", "account_notice"):
        for message in desk.of_kind(kind):
            body = text(message) + message.get_body(("html",)).get_content()
            assert "phish.example" not in body, kind
    assert "[enlace omitido]" in text(desk.of_kind("email_change_pending")[0])


# -- 7. the high-risk gate holds for every action --------------------------------------------


@pytest.mark.parametrize("procedure,fields", [
    ("desbloqueo", {"account": "bsanchez", "person_name": "Beatriz"}),
    ("cambio-correo", {"identifier": CURP, "person_name": "Beatriz", "new_email": NEW, "phone": "1"}),
    ("cuentas-correo", {"request_type": "Creación", "account": "tesoreria@entidad.gov.co", "official_name": "Juan",
                        "official_email": "juan.perez@gmail.com", "office_email": "hacienda@entidad.gov.co"}),
])
def test_a_high_risk_warning_stops_every_action_without_acknowledgement(desk, procedure, fields):
    radicado = put_ticket(desk, procedure, fields, sender=OLD, warnings=("sender_not_authenticated",))
    refused = desk.cli("approve", radicado, "--by", "Ana", "--yes")
    assert refused.returncode == 1 and "--acknowledge-warnings" in refused.stderr
    assert desk.backend_calls() == []
    assert desk.state(radicado) == ("pending_approval", None)
    assert desk.count("SELECT count(*) FROM outbox") == 0
    assert desk.count("SELECT count(*) FROM reset_links") == 0
    # Acknowledged, the same approval goes through (the gate, not something else, stopped it).
    done = desk.cli("approve", radicado, "--by", "Ana", "--yes", "--acknowledge-warnings")
    assert done.returncode == 0, done.stderr
    assert desk.count("SELECT count(*) FROM outbox") >= 1


# -- end to end: Dovecot, aiosmtpd, slapd with ppolicy, helpdesk web ------------------------------


PASSWORD = "Clave-De-Siempre-41"


def ldap_desk(tmp_path, dovecot, smtp_server, directory, port: int) -> Networked:
    return Networked(tmp_path / "h", dovecot, smtp_server, **directory.reset_sections(),
        procedures={"cambio-correo": {"addresses": [CHANGE_TO], "hold_hours": 24}}, web=web_sections(port))


def smtp_of_kind(smtp_server, kind: str) -> list:
    return [m for m in smtp_server.snapshot() if m.message["X-Helpdesk-Kind"] == kind]


def test_e2e_the_old_owner_cancels_a_confirmed_change_within_the_hold(tmp_path, dovecot, smtp_server, slapd_ppolicy):
    directory = slapd_ppolicy
    dn = directory.add_user("bsanchez", OLD, PASSWORD)
    directory.set_attribute(dn, "employeeNumber", CURP)
    port = any_port()
    env = ldap_desk(tmp_path, dovecot, smtp_server, directory, port)
    radicado = change_ticket(env)
    approved = run_helpdesk("--config", env.config_path, "approve", radicado, "--by", "Ana Pérez", timeout=60)
    assert approved.returncode == 0, approved.stderr
    assert smtp_server.wait_for(2, timeout=10)
    [confirm] = smtp_of_kind(smtp_server, "email_change_confirm")
    [pending] = smtp_of_kind(smtp_server, "email_change_pending")
    assert confirm.rcpt_tos == [NEW] and pending.rcpt_tos == [OLD]
    assert NEW not in pending.data.decode("utf-8", "replace")
    [confirm_url] = links_in(text(confirm.message), f"http://127.0.0.1:{port}")
    cancel = cancel_link(pending.message, port)
    with WebServer(env.config, port):
        attacker = Browser()
        page = attacker.get(confirm_url)
        held = attacker.post(confirm_url, {"csrf": page.hidden("csrf")})
        assert held.status == 200 and "se aplicará el" in held.text
        owner = Browser()
        shown = owner.get(cancel)
        assert shown.status == 200
        assert owner.post(cancel, {"csrf": shown.hidden("csrf")}).status == 200
        assert owner.get(cancel).status == 410
    move_hold_to_the_past(env)
    env.run_once()
    assert directory.entry(dn)["mail"] == [OLD]  # never changed
    assert smtp_of_kind(smtp_server, "email_changed_notice") == []
    shown = json.loads(run_helpdesk("--config", env.config_path, "show", radicado, "--json", timeout=60).stdout)
    assert shown["state"] == "pending_approval"
    assert "change_cancelled_by_owner" in {w["code"] for w in shown["warnings"]}
    queue = run_helpdesk("--config", env.config_path, "queue", timeout=60).stdout
    assert radicado in queue


def test_e2e_revoke_makes_the_confirmation_answer_410_and_rejects_to_the_from(tmp_path, dovecot, smtp_server,
                                                                              slapd_ppolicy):
    directory = slapd_ppolicy
    dn = directory.add_user("bsanchez", OLD, PASSWORD)
    directory.set_attribute(dn, "employeeNumber", CURP)
    port = any_port()
    env = ldap_desk(tmp_path, dovecot, smtp_server, directory, port)
    radicado = change_ticket(env, requester="buzon@otro-sitio.example")
    assert run_helpdesk("--config", env.config_path, "approve", radicado, "--by", "Ana", timeout=60).returncode == 0
    assert smtp_server.wait_for(2, timeout=10)
    [confirm] = smtp_of_kind(smtp_server, "email_change_confirm")
    [confirm_url] = links_in(text(confirm.message), f"http://127.0.0.1:{port}")
    revoked = run_helpdesk("--config", env.config_path, "revoke", radicado, "--by", "Ana", "--reason",
                           "El documento de identidad no corresponde", timeout=60)
    assert revoked.returncode == 0, revoked.stderr
    assert smtp_server.wait_for(3, timeout=10)
    [rejected] = smtp_of_kind(smtp_server, "rejected")
    assert rejected.rcpt_tos == [ATTACKER]
    with WebServer(env.config, port):
        browser = Browser()
        assert browser.get(confirm_url).status == 410
        assert browser.post(confirm_url, {}).status == 410
    move_hold_to_the_past(env)
    env.run_once()
    assert directory.entry(dn)["mail"] == [OLD]
