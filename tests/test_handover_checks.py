"""Issue 22, the examination and intake side of CONTRACT §13: in the
procedures that hand over an account, who the registered sender is, where
the verdicts go, what a stranger learns, how identity documents are read,
the account orders that must stay inside the entity, look-alike addresses,
the daily cap that strangers cannot spend, invisible scans and routing by
the envelope. Each test runs the real examination (the document worker
included) on the embedded defaults, with the directory lookup as a
program ([selfservice] lookup = "command")."""

from __future__ import annotations

import io
import json
import re
import sys

from helpdesk.examination.checks import valid_email
from helpdesk.lookalike import near_miss
from helpdesk.rules import load_trust

from . import docfiles, mails
from .conftest import Embedded, run_helpdesk

OURS = "mx.entidad.gov.co"
UNLOCK = "desbloqueo@entidad.gov.co"
CHANGE = "sinfilas@entidad.gov.co"
CURP = "BEST710209HDFLNB09"
# The directory, as the lookup program answers: identifier -> entry.
ACCOUNTS = {
    "jperez": {"account": "jperez", "email": "juan.perez@entidad.gov.co", "name": "Juan Pérez Gómez"},
    "mlopez": {"account": "mlopez", "email": "maria.lopez@entidad.gov.co", "name": "María López"},
    CURP.lower(): {"account": "bsanchez", "email": "b.sanchez.viejo@entidad.gov.co",
                   "name": "Beatriz Sánchez Ruiz"},
}
LOOKUP = """import json, sys
accounts = json.load(open(sys.argv[1], encoding="utf-8"))
entry = accounts.get(sys.stdin.readline().strip().lower())
if entry is None:
    sys.exit(1)
print(json.dumps(entry))
"""


def desk(tmp_path, authserv: str = "", **overrides) -> Embedded:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "accounts.json").write_text(json.dumps(ACCOUNTS), encoding="utf-8")
    (tmp_path / "lookup.py").write_text(LOOKUP, encoding="utf-8")
    return Embedded(tmp_path / "h", inbox={"authserv_id": authserv},
                    selfservice={"lookup": "command",
                                 "command": [sys.executable, str(tmp_path / "lookup.py"),
                                             str(tmp_path / "accounts.json")]},
                    procedures={"desbloqueo": {"addresses": [UNLOCK]}, "cambio-correo": {"addresses": [CHANGE]}},
                    **overrides)


def to(address: str, raw: bytes) -> bytes:
    return raw.replace(f"To: {mails.SUPPORT}".encode(), f"To: {address}".encode(), 1)


def dmarc(result: str, domain: str) -> dict:
    """Our server's Authentication-Results for the From domain."""
    return {"Authentication-Results": f"{OURS}; dmarc={result} header.from={domain}"}


def unlock_mail(sender: str, account: str = "jperez", name: str = "Juan Pérez", headers: dict | None = None,
                attachments=()) -> bytes:
    return to(UNLOCK, mails.request(sender=sender, subject="Cuenta bloqueada", headers=headers,
                                    body=f"Usuario: {account}\nNombre: {name}\nDocumento: 18123456\n",
                                    attachments=list(attachments)))


def change_mail(sender: str = "beatriz.nueva@gmail.com", name: str = "Beatriz Sánchez", attachments=()) -> bytes:
    return to(CHANGE, mails.request(
        sender=sender, subject="Cambio de correo", attachments=list(attachments),
        body=f"CURP: {CURP}\nNombre: {name}\nCorreo nuevo: beatriz.nueva@gmail.com\nTeléfono: 477 555 0101\n"))


def codes(env: Embedded, severity: str | None = None) -> set[str]:
    sql = "SELECT code FROM findings" + (" WHERE severity = ?" if severity else "")
    return {r["code"] for r in env.store.query(sql, (severity,) if severity else ())}


def findings_of(env: Embedded, radicado: str) -> dict[str, str]:
    return {r["code"]: r["detail"] for r in env.store.query(
        "SELECT f.code, f.detail FROM findings f JOIN tickets t ON t.id = f.ticket_id WHERE t.radicado = ?",
        (radicado,))}


def sent_of(env: Embedded, kind: str) -> list:
    return [m for m in env.sent() if m["X-Helpdesk-Kind"] == kind]


def text(message) -> str:
    return message.get_body(("plain",)).get_content()


def jpeg(width: int, height: int, colour: str = "white") -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="JPEG")
    return out.getvalue()


# -- 1. who is the registered sender ------------------------------------------


def test_a_from_forged_as_the_registered_address_is_a_stranger_without_our_servers_dmarc_pass(tmp_path):
    env = desk(tmp_path)  # authserv_id unset: nothing is authenticated
    env.deliver(unlock_mail("juan.perez@entidad.gov.co"))
    [outcome] = env.run_once()
    found = findings_of(env, outcome.radicado)
    assert {"sender_not_registered", "missing_identity_document", "missing_declaration"} <= set(found)
    assert "sin que nuestro servidor lo autenticara" in found["sender_not_registered"]
    assert env.store.one("SELECT state FROM tickets")[0] == "needs_correction"


def test_the_registered_address_authenticated_by_our_server_needs_no_document(tmp_path):
    env = desk(tmp_path, authserv=OURS)
    env.deliver(unlock_mail("juan.perez@entidad.gov.co", headers=dmarc("pass", "entidad.gov.co")))
    env.run_once()
    assert env.store.one("SELECT state FROM tickets")[0] == "pending_approval"
    assert not codes(env) & {"sender_not_registered", "missing_identity_document", "missing_declaration"}


def test_a_dmarc_failure_for_the_registered_address_is_a_stranger(tmp_path):
    env = desk(tmp_path, authserv=OURS)
    env.deliver(unlock_mail("juan.perez@entidad.gov.co", headers=dmarc("fail", "entidad.gov.co")))
    env.run_once()
    assert {"sender_not_registered", "missing_identity_document"} <= codes(env)


def test_another_address_on_the_registered_domain_is_not_the_registered_sender(tmp_path):
    """Full addresses are compared, never domains, even with a DMARC pass."""
    env = desk(tmp_path, authserv=OURS)
    env.deliver(unlock_mail("otro.funcionario@entidad.gov.co", headers=dmarc("pass", "entidad.gov.co")))
    env.run_once()
    assert {"sender_not_registered", "missing_identity_document", "missing_declaration"} <= codes(env)


def test_sender_not_registered_and_the_new_handover_warnings_weigh_alto():
    warnings = load_trust().warnings
    assert {code: warnings[code].weight for code in (
        "sender_not_registered", "identity_document_mismatch", "account_holder_differs", "lookalike_domain",
        "scan_not_read")} == {"sender_not_registered": "alto", "identity_document_mismatch": "alto",
                              "account_holder_differs": "alto", "lookalike_domain": "alto", "scan_not_read": "medio"}


# -- 2. check ------------------------------------------------------------------


def check_line(env: Embedded) -> tuple[int, str]:
    done = run_helpdesk("--config", env.config_path, "check", timeout=60)
    [line] = [l for l in done.stdout.splitlines() if "autenticación" in l.lower() or "authserv_id" in l][:1]
    return done.returncode, line


def test_check_fails_when_a_handover_procedure_is_routed_without_authserv_id(tmp_path):
    code, line = check_line(desk(tmp_path / "a"))
    assert code == 1
    assert "cambio-correo, desbloqueo entregan cuentas" in line
    code, line = check_line(desk(tmp_path / "b", authserv=OURS))
    assert f"se leen los resultados DMARC, DKIM y SPF de {OURS}" in line
    # Only the default procedure, a reset, routed: the signal off is no failure.
    plain = Embedded(tmp_path / "c" / "h")
    done = run_helpdesk("--config", plain.config_path, "check", timeout=60)
    assert "señal apagada" in done.stdout
    # A handover procedure as the default is routed too.
    code, line = check_line(Embedded(tmp_path / "d" / "h", procedures={"default": "cuentas-correo"}))
    assert code == 1 and "cuentas-correo entrega cuentas" in line


# -- 3. replies go to the From address -----------------------------------------


def test_in_a_handover_procedure_only_the_ack_follows_a_reply_to(tmp_path):
    env = desk(tmp_path)
    env.deliver(unlock_mail("juanito1980@gmail.com", headers={"Reply-To": "victima@otro.example"}))
    env.run_once()
    [ack] = sent_of(env, "ack")
    [correction] = sent_of(env, "correction")
    assert ack["To"] == "victima@otro.example"
    assert correction["To"] == "juanito1980@gmail.com"
    # The one-time reminder (a reply without documents) too.
    env.deliver(mails.reply_to(env.sent_raw()[1], sender="juanito1980@gmail.com", body="Ya los envié."))
    env.run_once()
    reminders = sent_of(env, "correction")
    assert len(reminders) == 2 and reminders[1]["To"] == "juanito1980@gmail.com"


def test_a_reply_from_the_reply_to_address_is_flagged_in_a_handover_procedure(tmp_path):
    """The ack went to the Reply-To; documents sent back from there join
    the ticket only as someone else's, for staff to see."""
    env = desk(tmp_path)
    env.deliver(unlock_mail("juan.perez@entidad.gov.co", headers={"Reply-To": "atacante@otro.example"}))
    env.run_once()
    [ack] = [raw for raw, m in zip(env.sent_raw(), env.sent()) if m["X-Helpdesk-Kind"] == "ack"]
    env.deliver(mails.reply_to(ack, sender="atacante@otro.example", attachments=[
        ("cedula.pdf", docfiles.scan_pdf(["CEDULA DE CIUDADANIA"]), "application/pdf")]))
    env.run_once()
    assert "reply_from_outside" in codes(env, "warning")


def test_a_reset_still_answers_the_reply_to(tmp_path):
    env = Embedded(tmp_path / "h")
    env.deliver(mails.request(headers={"Reply-To": "mesa@alcaldia-prueba.gov.co"}))
    env.run_once()
    assert {m["To"] for m in env.sent()} == {"mesa@alcaldia-prueba.gov.co"}


# -- 4. no oracle ----------------------------------------------------------------


def _masked(message) -> str:
    body = text(message)
    body = re.sub(r"[A-Z]{3}-\d{4}-\d{6}", "RADICADO", body)
    return re.sub(r"\b(jperez|mlopez|nadie)\b", "CUENTA", body)


def test_the_emails_to_a_stranger_do_not_tell_whether_or_where_an_account_is_registered(tmp_path):
    env = desk(tmp_path)
    stranger = "juanito1980@gmail.com"
    env.deliver(unlock_mail(stranger, account="nadie"))  # unknown account
    env.deliver(unlock_mail(stranger, account="jperez"))  # registered to juan.perez@
    env.deliver(unlock_mail(stranger, account="mlopez"))  # registered to maria.lopez@
    # Guessing the registered address in From, with a Reply-To to read the answer.
    env.deliver(unlock_mail("juan.perez@entidad.gov.co", headers={"Reply-To": stranger}))
    env.run_once()
    corrections = sent_of(env, "correction")
    assert len(corrections) == 4
    # The guess got no more than the others, and only at the From address it forged.
    assert corrections[3]["To"] == "juan.perez@entidad.gov.co"
    assert len({_masked(m) for m in corrections}) == 1
    assert not any(registered in text(m) for m in corrections
                   for registered in ("juan.perez@", "maria.lopez@", "Juan Pérez Gómez", "María López"))
    # With both documents, the accepted email names no registered address.
    env2 = desk(tmp_path / "dos")
    env2.deliver(unlock_mail(stranger, account="jperez", attachments=[
        ("cedula.pdf", docfiles.text_pdf(["CEDULA DE CIUDADANIA", "JUAN PEREZ GOMEZ", "18.123.456"]),
         "application/pdf"),
        ("declaracion.pdf", docfiles.scan_pdf(["DECLARACION DE RESPONSABILIDAD"]), "application/pdf")]))
    env2.run_once()
    [accepted] = sent_of(env2, "accepted")
    assert "juan.perez@entidad.gov.co" not in accepted.as_string()


# -- 5. identity documents are read --------------------------------------------


def test_a_tiny_white_jpeg_named_ine_is_an_unreadable_identity_document(tmp_path):
    env = desk(tmp_path)
    env.deliver(change_mail(attachments=[("INE.jpg", jpeg(8, 8), "image/jpeg")]))
    [outcome] = env.run_once()
    found = findings_of(env, outcome.radicado)
    assert "8 x 8 píxeles" in found["identity_document_unreadable"]
    assert env.store.one("SELECT state FROM tickets")[0] == "needs_correction"
    [correction] = sent_of(env, "correction")
    assert "No se puede leer su documento de identidad «INE.jpg»" in text(correction)


def test_a_blank_identity_image_of_a_good_size_is_unreadable_and_a_real_scan_is_only_not_read(tmp_path):
    env = desk(tmp_path)
    env.deliver(change_mail(attachments=[("INE.jpg", jpeg(1200, 800, "#f0f0f0"), "image/jpeg")]))
    env.deliver(change_mail(attachments=[("INE.jpg", docfiles.scan_jpeg(
        ["INSTITUTO NACIONAL ELECTORAL", "CREDENCIAL PARA VOTAR"]), "image/jpeg")]))
    blank, scan = env.run_once()
    assert "en blanco" in findings_of(env, blank.radicado)["identity_document_unreadable"]
    found = findings_of(env, scan.radicado)
    assert "identity_document_unreadable" not in found and "scan_not_read" in found
    [row] = env.store.query("SELECT document FROM findings WHERE code = 'scan_not_read'")
    assert row["document"] == "INE.jpg"


def test_a_tiny_image_wrapped_in_a_pdf_is_an_unreadable_identity_document(tmp_path):
    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (8, 8), 255).save(out, format="PDF")
    env = desk(tmp_path)
    env.deliver(change_mail(attachments=[("INE.pdf", out.getvalue(), "application/pdf")]))
    [outcome] = env.run_once()
    assert "identity_document_unreadable" in findings_of(env, outcome.radicado)


def test_an_identity_pdf_whose_text_lacks_the_number_or_the_name_is_a_mismatch(tmp_path):
    env = desk(tmp_path)
    good = docfiles.text_pdf(["INSTITUTO NACIONAL ELECTORAL", "CREDENCIAL PARA VOTAR", "SANCHEZ RUIZ BEATRIZ",
                              f"CURP {CURP}"])
    other = docfiles.text_pdf(["INSTITUTO NACIONAL ELECTORAL", "CREDENCIAL PARA VOTAR", "GOMEZ LARA CARLOS",
                               "CURP GOLC800101HDFMRR01"])
    env.deliver(change_mail(attachments=[("ine.pdf", good, "application/pdf")]))
    env.deliver(change_mail(attachments=[("ine.pdf", other, "application/pdf")]))
    matching, forged = env.run_once()
    assert "identity_document_mismatch" not in findings_of(env, matching.radicado)
    detail = findings_of(env, forged.radicado)["identity_document_mismatch"]
    assert CURP in detail and "Beatriz Sánchez" in detail


# -- 6. the holder's name --------------------------------------------------------


def test_the_holders_name_is_shown_beside_the_forms_and_a_different_person_is_warned(tmp_path):
    env = desk(tmp_path)
    env.deliver(change_mail(name="Beatriz Sánchez"))  # the directory says "Beatriz Sánchez Ruiz"
    env.deliver(change_mail(name="Carlos Gómez Lara", attachments=[("INE.jpg", docfiles.scan_jpeg(
        ["INSTITUTO NACIONAL ELECTORAL", "CREDENCIAL PARA VOTAR"]), "image/jpeg")]))
    same, other = env.run_once()
    assert "account_holder_differs" not in findings_of(env, same.radicado)
    assert findings_of(env, other.radicado)["account_holder_differs"] == (
        "el formato dice «Carlos Gómez Lara»; el directorio registra la cuenta bsanchez a nombre de "
        "«Beatriz Sánchez Ruiz»")
    shown = json.loads(run_helpdesk("--config", env.config_path, "show", other.radicado, "--json").stdout)
    assert shown["registered_name"] == "Beatriz Sánchez Ruiz" and "registered_name" not in shown["form"]
    lines = run_helpdesk("--config", env.config_path, "show", other.radicado).stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if "Carlos Gómez Lara" in line)
    assert "Titular según el directorio:" in lines[at + 1] and "Beatriz Sánchez Ruiz" in lines[at + 1]
    queued = {t["radicado"]: t for t in json.loads(
        run_helpdesk("--config", env.config_path, "queue", "--json").stdout)}
    assert queued[other.radicado]["registered_name"] == "Beatriz Sánchez Ruiz"


def test_no_name_from_the_directory_is_nothing_to_compare(tmp_path):
    env = desk(tmp_path)
    ACCOUNTS_WITHOUT = {k: {**v, "name": ""} for k, v in ACCOUNTS.items()}
    (tmp_path / "accounts.json").write_text(json.dumps(ACCOUNTS_WITHOUT), encoding="utf-8")
    env.deliver(change_mail(name="Carlos Gómez Lara"))
    env.run_once()
    assert "account_holder_differs" not in codes(env)


# -- 8. ASCII addresses and look-alike domains ---------------------------------


def test_an_address_with_a_character_outside_ascii_is_invalid():
    assert not valid_email("alcalde@alcaldía-prueba.gov.co")
    assert not valid_email("tеsoreria@putumayo.gov.co")  # a Cyrillic е
    assert valid_email("tesoreria@putumayo.gov.co")


def test_a_non_ascii_field_1_2_is_an_invalid_email_problem(tmp_path):
    from . import forms
    from .test_e2e_documents import XLSX

    env = Embedded(tmp_path / "h")
    excel = forms.filled_template(tmp_path, {"Correo electrónico": "alcalde@alcaldía-prueba.gov.co"})
    env.deliver(mails.request(attachments=[("formato.xlsx", excel, XLSX)]))
    env.run_once()
    [detail] = [r["detail"] for r in env.store.query("SELECT detail FROM findings WHERE code = 'invalid_email'")]
    assert "alcalde@alcaldía-prueba.gov.co" in detail


def test_near_misses_of_a_directory_domain():
    known = ["alcaldia-prueba.gov.co", "cali.gov.co"]
    assert near_miss("alcaldla-prueba.gov.co", known)  # one edit (and l for i)
    assert near_miss("alcaldia-pruebas.gov.co", known)
    assert near_miss("аlcaldia-prueba.gov.co", known)  # a Cyrillic а
    assert near_miss("a1caldia-prueba.gov.co", known)
    assert near_miss("alcaldia-prueba.gov-co.com", known)  # the same labels, another suffix
    for fine in ("alcaldia-prueba.gov.co", "correo.alcaldia-prueba.gov.co", "cota.gov.co", "gmail.com",
                 "gobernacion-ejemplo.gov.co"):
        assert near_miss(fine, known) is None, fine


def test_a_sender_on_a_look_alike_domain_is_warned(tmp_path):
    env = Embedded(tmp_path / "h")
    csv = tmp_path / "entidades.csv"
    csv.write_text("NIT;Nombre;Departamento;Municipio;Dominios\r\n"
                   "890905211-1;Alcaldía de Prueba;Antioquia;Medellín;alcaldia-prueba.gov.co\r\n", encoding="utf-8")
    assert run_helpdesk("--config", env.config_path, "entidades", "import", str(csv)).returncode == 0
    from . import forms
    from .test_e2e_documents import XLSX

    env.deliver(mails.request(sender="sistemas@alcaldia-prueba.gov-co.com"))
    excel = forms.filled_template(tmp_path, {"Correo electrónico": "alcalde@alcaldia-prueeba.gov.co"})
    env.deliver(mails.request(attachments=[("formato.xlsx", excel, XLSX)]))
    sender, field = env.run_once()
    assert "el remitente usa alcaldia-prueba.gov-co.com, parecido a alcaldia-prueba.gov.co" in findings_of(
        env, sender.radicado)["lookalike_domain"]
    assert "(campo 1.2) usa alcaldia-prueeba.gov.co" in findings_of(env, field.radicado)["lookalike_domain"]


# -- 7. account orders stay inside the entity ------------------------------------


def test_the_issues_cuentas_correo_attack_is_refused(tmp_path):
    """From forged on the entity's domain, the office's notice to the
    attacker's gmail, the official's address another of theirs: the office
    address is an invalid_email, and the sender is not authenticated (with
    authserv_id unset, as by default)."""
    from .test_accounts import CUENTAS, account_mail

    env = Embedded(tmp_path / "h", procedures={"cuentas-correo": {"addresses": [CUENTAS]}},
                   accounts={"domains": ["putumayo.gov.co"]})
    raw = account_mail(tmp_path, sender="hacienda@putumayo.gov.co", office={
        "Correo electrónico de la dependencia": "hacienda.putumayo@gmail.com"}, official={
        "Correo electrónico personal de contacto": "otro.atacante@proton.me"})
    env.deliver(raw.split(b"\r\n", 1)[1])  # as the attacker wrote it: no result of our server
    [outcome] = env.run_once()
    found = findings_of(env, outcome.radicado)
    assert "hacienda.putumayo@gmail.com" in found["invalid_email"] and "putumayo.gov.co" in found["invalid_email"]
    assert "authserv_id" in found["sender_not_authenticated"]
    assert env.store.one("SELECT state FROM tickets")[0] == "needs_correction"


def test_an_authenticated_office_order_with_its_notice_inside_passes(tmp_path):
    from .test_accounts import account_mail, office

    env = office(tmp_path)  # our server's DMARC pass for putumayo.gov.co in every mail
    env.deliver(account_mail(tmp_path))
    env.run_once()
    assert not codes(env) & {"invalid_email", "sender_not_authenticated"}
    assert env.store.one("SELECT state FROM tickets")[0] == "pending_approval"


def test_an_account_name_with_a_cyrillic_letter_never_passes_for_an_existing_one(tmp_path):
    from .test_accounts import account_mail, office

    env = office(tmp_path)
    env.deliver(account_mail(tmp_path, request={"Cuenta de correo": "tеsoreria@putumayo.gov.co"}))
    [outcome] = env.run_once()
    assert "tеsoreria@putumayo.gov.co" in findings_of(env, outcome.radicado)["invalid_email"]


# -- 9. strangers do not spend the entities' replies ------------------------------


DIRECTORY = ("NIT;Nombre;Departamento;Municipio;Dominios\r\n"
             "890905211-1;Alcaldía de Prueba;Antioquia;Medellín;alcaldia-prueba.gov.co\r\n")


def with_directory(env: Embedded, tmp_path) -> Embedded:
    path = tmp_path / "entidades.csv"
    path.write_text(DIRECTORY, encoding="utf-8")
    assert run_helpdesk("--config", env.config_path, "entidades", "import", str(path)).returncode == 0
    return env


def test_strangers_spend_the_daily_cap_and_an_entity_of_the_directory_still_gets_its_ack(tmp_path):
    env = with_directory(Embedded(tmp_path / "h", replies={"daily_cap_total": 6}), tmp_path)
    for n in range(8):
        env.deliver(mails.request(sender=f"desechable{n}@gmail.com"))
    env.run_once()
    assert len(sent_of(env, "ack")) < 8  # the strangers hit the cap
    assert env.count("SELECT count(*) FROM findings WHERE code = 'reply_cap_reached'") > 0
    env.deliver(mails.request(sender=mails.ENTITY))
    [outcome] = env.run_once()
    ours = [m for m in env.sent() if outcome.radicado in m["Subject"]]
    assert {m["X-Helpdesk-Kind"] for m in ours} == {"ack", "correction"}
    assert all(m["To"] == mails.ENTITY for m in ours)


def test_a_forged_entity_sender_is_a_stranger_for_the_cap_when_our_server_checks(tmp_path):
    env = with_directory(Embedded(tmp_path / "h", replies={"daily_cap_total": 2},
                                  inbox={"authserv_id": OURS}), tmp_path)
    for n in range(3):
        env.deliver(mails.request(sender=f"desechable{n}@gmail.com"))
    env.run_once()
    env.deliver(mails.request(sender=mails.ENTITY, headers=dmarc("fail", "alcaldia-prueba.gov.co")))
    env.deliver(mails.request(sender=mails.ENTITY, headers=dmarc("pass", "alcaldia-prueba.gov.co")))
    forged, genuine = env.run_once()
    assert not [m for m in env.sent() if forged.radicado in m["Subject"]]
    assert [m["X-Helpdesk-Kind"] for m in env.sent() if genuine.radicado in m["Subject"]] == ["ack", "correction"]


def test_senders_sharing_one_reply_to_hit_the_per_address_cap(tmp_path):
    env = Embedded(tmp_path / "h", replies={"daily_cap_per_sender": 3})
    for n in range(5):
        env.deliver(mails.request(sender=f"remitente{n}@gmail.com", headers={"Reply-To": "victima@otro.example"}))
    env.run_once()
    assert [m["To"] for m in env.sent()].count("victima@otro.example") == 3


# -- 10. an invisible image is no scan ----------------------------------------------


def typed_pdf_with_image(width_pt: float, height_pt: float, pixels: int = 600) -> bytes:
    """A PDF typed on a computer with one white image of ``pixels`` square
    drawn at ``width_pt`` x ``height_pt`` points."""
    from PIL import Image
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    c.drawString(72, A4[1] - 72, "FORMATO DE SOLICITUD DE REINICIO DE CLAVE")
    c.drawString(72, A4[1] - 90, "Firma del representante legal")
    c.drawImage(ImageReader(Image.new("L", (pixels, pixels), 255)), 100, 100, width=width_pt, height=height_pt)
    c.showPage()
    c.save()
    return out.getvalue()


def test_an_image_drawn_at_one_point_does_not_make_a_typed_pdf_a_scan(tmp_path):
    from helpdesk.documents.pdf import inspect_pdf

    from . import forms
    from .test_e2e_documents import XLSX

    assert inspect_pdf(typed_pdf_with_image(1, 1)).scanned_pages == 0
    assert inspect_pdf(typed_pdf_with_image(200, 200)).scanned_pages == 0  # a logo: under half the page
    assert inspect_pdf(typed_pdf_with_image(595, 842)).scanned_pages == 1  # drawn over the page
    assert inspect_pdf(docfiles.scan_pdf(["FORMATO"])).scanned_pages == 1
    assert inspect_pdf(docfiles.scan_with_ocr_pdf(["FORMATO"])).scanned_pages == 1
    env = Embedded(tmp_path / "h")
    env.deliver(mails.request(attachments=[
        ("formato firmado.pdf", typed_pdf_with_image(1, 1), "application/pdf"),
        ("formato.xlsx", forms.filled_template(tmp_path), XLSX),
        ("acta de posesion.pdf", docfiles.scan_pdf(["ACTA DE POSESION"]), "application/pdf")]))
    env.run_once()
    assert "signed_form_not_scanned" in codes(env, "problem")


# -- 11. routing by the envelope ----------------------------------------------------------


CUENTAS = "cuentas@putumayo.gov.co"


def routed(tmp_path) -> Embedded:
    return Embedded(tmp_path / "h", procedures={"cuentas-correo": {"addresses": [CUENTAS]}},
                    accounts={"domains": ["putumayo.gov.co"]})


def test_a_senders_cc_never_moves_a_request_into_another_procedure(tmp_path):
    env = routed(tmp_path)
    # Delivered to the public address; the sender put the accounts address in Cc.
    env.deliver(f"Delivered-To: {mails.SUPPORT}\r\n".encode()
                + mails.request(headers={"Cc": CUENTAS}))
    # The topmost Delivered-To is the one our server added last.
    env.deliver(f"Delivered-To: {mails.SUPPORT}\r\nDelivered-To: {CUENTAS}\r\n".encode() + mails.request())
    # Sent with Bcc to the accounts address: only the envelope names it.
    env.deliver(f"X-Original-To: {CUENTAS}\r\n".encode() + mails.request())
    # A message with neither header is matched against To and Cc.
    env.deliver(mails.request(headers={"Cc": CUENTAS}))
    outcomes = env.run_once()
    procedures = [env.store.one("SELECT procedure FROM tickets WHERE radicado = ?", (o.radicado,))[0]
                  for o in outcomes]
    assert procedures == ["reinicio-claves", "reinicio-claves", "cuentas-correo", "cuentas-correo"]


def test_the_ldap_lookup_returns_the_holders_display_name_else_its_cn(tmp_path, slapd):
    from helpdesk.resets.registered import lookup

    env = Embedded(tmp_path / "h", reset={
        "backend": "ldap", "ldap_url": slapd.ldaps_url, "ldap_security": "ssl", "ldap_ca_file": str(slapd.ca_path),
        "ldap_bind_dn": slapd.admin_dn, "password": slapd.admin_password, "ldap_base": slapd.base,
        "ldap_filter": "(|(mail={account})(uid={account}))"},
        selfservice={"ldap_filter": "(uid={identifier})"})
    named = slapd.add_user("jperez", "juan.perez@entidad.gov.co", "Clave-De-Siempre-41")
    slapd.set_attribute(named, "displayName", "Juan Pérez Gómez")
    slapd.add_user("mlopez", "maria.lopez@entidad.gov.co", "Clave-De-Siempre-41")  # cn = "mlopez"
    assert lookup(env.config, "jperez").name == "Juan Pérez Gómez"
    assert lookup(env.config, "mlopez").name == "mlopez"
