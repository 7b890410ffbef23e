"""Issue 22's two account takeovers, replayed end to end against real
servers: the attacker's mail arrives over IMAP (Dovecot), every answer
leaves over SMTP (aiosmtpd), the directory is slapd with ppolicy, the
links are opened in ``helpdesk web``. Each test walks the attack in the
order the review did it and asserts where it is now stopped.

- ``cambio-correo``: a stranger asks to move the victim's registered
  email to their own address, first with an 8x8 white JPEG named INE.jpg,
  then with a From forged as the victim's address and a Reply-To of their
  own; a deceived staff member approves anyway; the old owner cancels.
- ``cuentas-correo``: a forged office orders an account whose password
  and notice go to the attacker.
"""

from __future__ import annotations

import io
import json
import re

from PIL import Image

from . import docfiles, mails
from .conftest import Networked, run_helpdesk
from .test_accounts import CUENTAS, account_mail
from .web_server import Browser, WebServer, any_port, links_in, web_sections

AUTHSERV = "mx.entidad.gov.co"
CURP = "BEST710209HDFLNB09"
VICTIM = "b.sanchez@entidad.gov.co"
ATTACKER = "beatriz.sanchez.2024@gmail.com"
CHANGE_TO = "sinfilas@entidad.gov.co"
PASSWORD = "Clave-De-Siempre-41"


def desk(tmp_path, dovecot, smtp_server, directory, port: int) -> Networked:
    return Networked(tmp_path / "h", dovecot, smtp_server, **directory.reset_sections(),
        inbox={"authserv_id": AUTHSERV}, web=web_sections(port),
        procedures={"cambio-correo": {"addresses": [CHANGE_TO], "hold_hours": 24}})


def change_request(sender: str, attachment: tuple[str, bytes, str], reply_to: str = "") -> bytes:
    raw = mails.request(
        sender=sender, subject="Cambio de correo",
        headers={"Reply-To": reply_to} if reply_to else None,
        body=f"CURP: {CURP}\nNombre: Beatriz Sánchez\nCorreo nuevo: {ATTACKER}\nTeléfono: 477 555 0101\n",
        attachments=[attachment])
    return raw.replace(f"To: {mails.SUPPORT}".encode(), f"To: {CHANGE_TO}".encode(), 1)


def white_jpeg(size: int = 8) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), "white").save(out, format="JPEG")
    return out.getvalue()


def of_kind(smtp_server, kind: str, radicado: str) -> list:
    return [m for m in smtp_server.snapshot()
            if m.message["X-Helpdesk-Kind"] == kind and m.message["X-Helpdesk-Radicado"] == radicado]


def show(env: Networked, radicado: str) -> dict:
    return json.loads(run_helpdesk("--config", env.config_path, "show", radicado, "--json", timeout=60).stdout)


def test_the_cambio_correo_takeover_is_stopped_at_each_of_its_steps(tmp_path, dovecot, smtp_server, slapd_ppolicy):
    directory = slapd_ppolicy
    dn = directory.add_user("bsanchez", VICTIM, PASSWORD)
    directory.set_attribute(dn, "employeeNumber", CURP)
    directory.set_attribute(dn, "displayName", "Beatriz Sánchez")
    port = any_port()
    env = desk(tmp_path, dovecot, smtp_server, directory, port)

    # 1. From gmail, with an 8x8 white JPEG named INE.jpg: the "identity
    # document" is read, not trusted by its name.
    env.deliver(change_request(ATTACKER, ("INE.jpg", white_jpeg(), "image/jpeg")))
    [first] = env.run_once()
    shown = show(env, first.radicado)
    assert shown["state"] == "needs_correction"
    assert "identity_document_unreadable" in {p["code"] for p in shown["problems"]}
    assert run_helpdesk("--config", env.config_path, "approve", first.radicado, "--by", "Ana",
                        "--acknowledge-warnings", timeout=60).returncode == 1

    # 2. From forged as the victim's registered address (our server wrote
    # no DMARC pass for it) and a Reply-To of the attacker's: a stranger.
    # The document itself is a good one (a PDF whose text holds the name
    # and the CURP): what stops this step is who wrote, not the paper.
    env.deliver(change_request(VICTIM, ("INE.pdf", docfiles.text_pdf(
        ["INSTITUTO NACIONAL ELECTORAL", "CREDENCIAL PARA VOTAR", "NOMBRE BEATRIZ SANCHEZ", f"CURP {CURP}"]),
        "application/pdf"), reply_to=ATTACKER))
    [second] = env.run_once()
    assert second.radicado != first.radicado
    shown = show(env, second.radicado)
    warnings = {w["code"] for w in shown["warnings"]}
    assert {"sender_not_registered", "sender_not_authenticated"} <= warnings
    assert smtp_server.wait_for(4, timeout=10)  # two acks, two verdicts
    [ack] = of_kind(smtp_server, "ack", second.radicado)
    assert ack.rcpt_tos == [ATTACKER]  # only the ack follows a Reply-To
    verdicts = of_kind(smtp_server, "accepted", second.radicado) + of_kind(smtp_server, "correction", second.radicado)
    assert [v.rcpt_tos for v in verdicts] == [[VICTIM]]  # the owner hears of it; the attacker learns nothing
    refused = run_helpdesk("--config", env.config_path, "approve", second.radicado, "--by", "Ana", timeout=60)
    assert refused.returncode == 1 and "sender_not_registered" in refused.stderr
    assert directory.entry(dn)["mail"] == [VICTIM]

    # 3. A deceived staff member approves anyway: the owner is warned with a
    # cancel link, and the attacker's confirmation changes nothing yet.
    assert shown["state"] == "pending_approval", shown["problems"]
    approved = run_helpdesk("--config", env.config_path, "approve", second.radicado, "--by", "Ana",
                            "--acknowledge-warnings", timeout=60)
    assert approved.returncode == 0, approved.stderr
    assert smtp_server.wait_for(6, timeout=10)
    [confirm] = of_kind(smtp_server, "email_change_confirm", second.radicado)
    [pending] = of_kind(smtp_server, "email_change_pending", second.radicado)
    assert confirm.rcpt_tos == [ATTACKER] and pending.rcpt_tos == [VICTIM]
    [confirm_url] = links_in(confirm.message.get_body(("plain",)).get_content(), f"http://127.0.0.1:{port}")
    [cancel_url] = re.findall(rf"http://127\.0\.0\.1:{port}/cancelar/[A-Za-z0-9_-]+",
                              pending.message.get_body(("plain",)).get_content())
    with WebServer(env.config, port):
        attacker = Browser()
        page = attacker.get(confirm_url)
        held = attacker.post(confirm_url, {"csrf": page.hidden("csrf")})
        assert held.status == 200 and "se aplicará el" in held.text
        assert directory.entry(dn)["mail"] == [VICTIM]  # held for the owner

        # 4. The owner cancels within the hold: every link dies.
        owner = Browser()
        shown_cancel = owner.get(cancel_url)
        assert owner.post(cancel_url, {"csrf": shown_cancel.hidden("csrf")}).status == 200
        assert attacker.get(confirm_url).status == 410
    with env.store.transaction() as conn:  # as if the hold's hours had passed
        conn.execute("UPDATE email_changes SET apply_after = '2000-01-01T00:00:00+00:00'")
    env.run_once()
    assert directory.entry(dn)["mail"] == [VICTIM]  # never changed, so /recuperar still mails the owner
    after = show(env, second.radicado)
    assert after["state"] == "pending_approval"
    assert "change_cancelled_by_owner" in {w["code"] for w in after["warnings"]}


def test_the_cuentas_correo_takeover_is_refused(tmp_path, dovecot, smtp_server, slapd_ppolicy):
    """A From forged on the entity's domain (no DMARC pass from our
    server), the office's notice to the attacker's gmail and the
    official's address another of theirs: nothing is created."""
    directory = slapd_ppolicy
    env = Networked(tmp_path / "h", dovecot, smtp_server, reset={
        "ldap_url": directory.ldaps_url, "ldap_security": "ssl", "ldap_ca_file": str(directory.ca_path),
        "ldap_bind_dn": directory.admin_dn, "password": directory.admin_password, "ldap_base": directory.base,
    }, accounts={"backend": "ldap", "ldap_base": directory.people, "domains": ["putumayo.gov.co"]},
        inbox={"authserv_id": "mx.putumayo.gov.co"},
        procedures={"cuentas-correo": {"addresses": [CUENTAS]}})
    raw = account_mail(tmp_path, sender="tesoreria@putumayo.gov.co", office={
        "Correo electrónico de la dependencia": "tesoreria.putumayo@gmail.com"}, official={
        "Correo electrónico personal de contacto": "otra.cuenta.del.atacante@gmail.com"})
    env.deliver(raw.split(b"\r\n", 1)[1])  # without the Authentication-Results our server would write
    [outcome] = env.run_once()
    shown = show(env, outcome.radicado)
    assert shown["state"] == "needs_correction"
    assert "invalid_email" in {p["code"] for p in shown["problems"]}
    assert "sender_not_authenticated" in {w["code"] for w in shown["warnings"]}
    refused = run_helpdesk("--config", env.config_path, "approve", outcome.radicado, "--by", "Ana",
                           "--acknowledge-warnings", "--yes", timeout=60)
    assert refused.returncode == 1
    assert directory.find_dns("jperez@putumayo.gov.co") == []
    assert smtp_server.wait_for(2, timeout=10)
    kinds = {m.message["X-Helpdesk-Kind"] for m in smtp_server.snapshot()}
    assert not kinds & {"account_created", "account_notice"}
