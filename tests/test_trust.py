"""Trust signals (issue 11): every sign of a forged request is in front of
staff before credentials go out.

Sender authentication is read from our own receiving server's
Authentication-Results only, in the shapes real servers write them; the
entity directory holds the NIT, name and domains an office knows, and
learns each approval's legal representative's address; the Cargo of field
1.2 must be the legal representative the entity's name calls for.
"""

from __future__ import annotations

import json

import pytest

from helpdesk.intake import authresults

from . import docfiles, forms, mails
from .conftest import Embedded, run_helpdesk
from .test_documents import ACTA_LINES, complete_set, findings_for, warnings
from .test_e2e_documents import documents
from .test_staff import LEGAL_REP, helpdesk, pending

OURS = "mx.entidad.gov.co"

# What real servers write (values only, as they reach us, top first).
POSTFIX_OPENDKIM_OPENDMARC = [
    f"{OURS}; dmarc=pass (p=quarantine dis=none) header.from=alcaldia-prueba.gov.co",
    f'{OURS}; dkim=pass (2048-bit key; unprotected) header.d=alcaldia-prueba.gov.co '
    f'header.i=@alcaldia-prueba.gov.co header.a=rsa-sha256 header.s=mail header.b="Xy1+AbCd"',
    f"{OURS}; spf=pass (mailfrom) smtp.mailfrom=alcaldia-prueba.gov.co "
    "(client-ip=190.0.0.1; helo=mail.alcaldia-prueba.gov.co; envelope-from=sistemas@alcaldia-prueba.gov.co)",
]
GOOGLE_FAIL = [
    "mx.google.com; dkim=fail header.i=@alcaldia-prueba.gov.co header.s=google header.b=abc123; "
    "spf=softfail (google.com: domain of transitioning sistemas@alcaldia-prueba.gov.co does not designate "
    "203.0.113.9 as permitted sender) smtp.mailfrom=sistemas@alcaldia-prueba.gov.co; "
    "dmarc=fail (p=REJECT sp=REJECT dis=QUARANTINE) header.from=alcaldia-prueba.gov.co",
]
MICROSOFT_365 = [
    "spf=fail (sender IP is 203.0.113.9) smtp.mailfrom=alcaldia-prueba.gov.co; dkim=none (message not signed) "
    "header.d=none;dmarc=fail action=quarantine header.from=alcaldia-prueba.gov.co;compauth=fail reason=000",
]


def with_results(raw: bytes, values: list[str]) -> bytes:
    """The message as our server hands it over: its headers prepended on top."""
    return b"".join(f"Authentication-Results: {v}\r\n".encode() for v in values) + raw


# -- reading the header ------------------------------------------------------


def test_postfix_with_opendkim_and_opendmarc_passes():
    auth = authresults.read(POSTFIX_OPENDKIM_OPENDMARC, OURS)
    assert auth.unauthenticated == ""
    assert auth.summary() == ("DMARC pass (alcaldia-prueba.gov.co), DKIM pass (alcaldia-prueba.gov.co), "
                              "SPF pass (alcaldia-prueba.gov.co)")


def test_google_dmarc_fail_warns_with_the_domain():
    auth = authresults.read(GOOGLE_FAIL, "mx.google.com")
    assert auth.unauthenticated == "DMARC fail para alcaldia-prueba.gov.co"
    assert [(r.method, r.result) for r in auth.results] == [("dkim", "fail"), ("spf", "softfail"), ("dmarc", "fail")]


def test_microsoft_365_writes_no_authserv_id_and_is_read_when_configured_so():
    auth = authresults.read(MICROSOFT_365, authresults.MICROSOFT_365)
    assert auth.unauthenticated == "DMARC fail para alcaldia-prueba.gov.co"
    assert authresults.read(MICROSOFT_365, OURS).unauthenticated == (
        "el servidor de recepción no registró un resultado DMARC")  # not ours: ignored


def test_a_header_of_another_server_is_ignored_and_one_above_ours_is_noted():
    forged_above = "mx.otro-servidor.com; dmarc=pass header.from=alcaldia-prueba.gov.co"
    ours_fail = f"{OURS}; dmarc=fail header.from=alcaldia-prueba.gov.co"
    auth = authresults.read([forged_above, ours_fail], OURS)
    assert auth.unauthenticated == "DMARC fail para alcaldia-prueba.gov.co"
    assert auth.foreign_above == ("mx.otro-servidor.com",)
    assert "ATENCIÓN: encabezado de otro servidor (mx.otro-servidor.com) por encima del nuestro" in auth.summary()


def test_headers_with_our_id_that_the_message_already_carried_are_ignored_and_noted():
    """Our server wrote SPF only (no DMARC milter); the sender wrote a whole
    block with our id into the message, below our server's Received."""
    ours_spf = f"{OURS}; spf=fail smtp.mailfrom=alcaldia-prueba.gov.co"
    forged = [f"{OURS}; dmarc=pass header.from=alcaldia-prueba.gov.co",
              f"{OURS}; dkim=pass header.d=alcaldia-prueba.gov.co"]
    # Milter style: ours above our Received (0), the forged ones below it (1).
    auth = authresults.read([ours_spf, *forged], OURS, (0, 1, 1))
    assert [(r.method, r.result) for r in auth.results] == [("spf", "fail")]
    assert auth.ours_below == 2
    assert auth.unauthenticated == "el servidor de recepción no registró un resultado DMARC"
    assert auth.summary() == ("SPF fail (alcaldia-prueba.gov.co); ATENCIÓN: 2 encabezados con nuestro authserv-id "
                              "que ya traía el mensaje (posible falsificación), ignorados")
    # Dovecot LMTP style: its Received above our block (1), the MX's Received
    # between our block and the forged ones (2).
    assert authresults.read([ours_spf, *forged], OURS, (1, 2, 2)).ours_below == 2
    # A foreign header between ours and a later one of ours also ends the block.
    other = "mx.otro-servidor.com; dmarc=pass header.from=alcaldia-prueba.gov.co"
    assert authresults.read([ours_spf, other, forged[0]], OURS).ours_below == 1
    # Postfix with three milters: one block, three headers, nothing forged.
    assert authresults.read(POSTFIX_OPENDKIM_OPENDMARC, OURS, (0, 0, 0)).ours_below == 0


def test_a_forged_dmarc_pass_below_our_received_warns_through_intake(tmp_path):
    """The message as the sender wrote it, with a DMARC pass under our id,
    then our MX's Received and its SPF result on top."""
    env = Embedded(tmp_path / "h", inbox={"authserv_id": OURS})
    sent = with_results(mails.request(attachments=documents(tmp_path)),
                        [f"{OURS}; dmarc=pass header.from=alcaldia-prueba.gov.co"])
    received = f"Received: from mail.atacante.example by {OURS}\r\n".encode()
    env.deliver(with_results(received + sent, [f"{OURS}; spf=pass smtp.mailfrom=alcaldia-prueba.gov.co"]))
    [outcome] = env.run_once()
    [warning] = env.store.query("SELECT detail FROM findings WHERE code = 'sender_not_authenticated'")
    assert warning["detail"] == (f"mensaje de {mails.ENTITY}: el servidor de recepción no registró un resultado DMARC")
    shown = helpdesk(env, "show", outcome.radicado).stdout.splitlines()
    assert ("      Autenticación del remitente: SPF pass (alcaldia-prueba.gov.co); ATENCIÓN: 1 encabezado con "
            "nuestro authserv-id que ya traía el mensaje (posible falsificación), ignorado") in shown


@pytest.mark.parametrize("result, warned", [("none", False), ("temperror", True), ("permerror", True), ("pass", False)])
def test_dmarc_none_is_shown_but_not_warned_errors_are(result, warned):
    auth = authresults.read([f"{OURS}; dmarc={result} header.from=alcaldia-prueba.gov.co"], OURS)
    assert bool(auth.unauthenticated) is warned


def test_without_an_authserv_id_the_signal_is_off():
    auth = authresults.read(GOOGLE_FAIL, "")
    assert (auth.checked, auth.unauthenticated) == (False, "")


# -- through intake, show and approve ----------------------------------------


def test_an_unauthenticated_request_is_warned_shown_and_approved_only_when_acknowledged(tmp_path):
    env = Embedded(tmp_path / "h", inbox={"authserv_id": "mx.google.com"})
    env.deliver(with_results(mails.request(attachments=documents(tmp_path)), GOOGLE_FAIL))
    [outcome] = env.run_once()
    [warning] = env.store.query("SELECT detail FROM findings WHERE code = 'sender_not_authenticated'")
    assert warning["detail"] == f"mensaje de {mails.ENTITY}: DMARC fail para alcaldia-prueba.gov.co"
    shown = helpdesk(env, "show", outcome.radicado).stdout
    assert shown.splitlines()[0].startswith("Riesgo: 2 advertencias; la más fuerte: remitente no autenticado (DMARC) "
                                            "(sender_not_authenticated, peso alto)")
    assert "Autenticación del remitente: DKIM fail (alcaldia-prueba.gov.co), SPF softfail (alcaldia-prueba.gov.co), " \
           "DMARC fail (alcaldia-prueba.gov.co)" in shown
    refused = helpdesk(env, "approve", outcome.radicado, "--by", "Ana", "--yes")
    assert refused.returncode == 1 and "sender_not_authenticated" in refused.stderr
    assert env.kinds() == ["ack", "accepted"]
    done = helpdesk(env, "approve", outcome.radicado, "--by", "Ana", "--yes", "--acknowledge-warnings")
    assert done.returncode == 0, done.stderr
    [event] = env.store.query("SELECT detail FROM events WHERE action = 'aprobada'")
    assert "advertencias de alto riesgo revisadas: sender_not_authenticated" in event["detail"]


def test_an_authenticated_request_carries_no_warning_and_check_says_the_signal_is_on(tmp_path):
    env = Embedded(tmp_path / "h", inbox={"authserv_id": OURS})
    env.deliver(with_results(mails.request(attachments=documents(tmp_path)), POSTFIX_OPENDKIM_OPENDMARC))
    env.run_once()
    assert env.count("SELECT count(*) FROM findings WHERE code = 'sender_not_authenticated'") == 0
    check = run_helpdesk("--config", env.config_path, "check", timeout=60).stdout
    assert f"se leen los resultados DMARC, DKIM y SPF de {OURS}" in check


def test_check_says_when_the_signal_is_off(tmp_path):
    env = Embedded(tmp_path / "h")
    check = run_helpdesk("--config", env.config_path, "check", timeout=60).stdout
    assert "señal apagada: sin [inbox] authserv_id" in check


# -- the entity directory ----------------------------------------------------

DIRECTORY_CSV = (
    "NIT;Nombre;Departamento;Municipio;Dominios\r\n"
    "890905211-1;Alcaldía de Prueba;Antioquia;Medellín;alcaldia-prueba.gov.co\r\n"
    "899999061;Gobernación de Ejemplo;Cundinamarca;;gobernacion-ejemplo.gov.co ejemplo.gov.co\r\n"
)


def import_directory(env: Embedded, tmp_path, text: str = DIRECTORY_CSV, encoding: str = "cp1252"):
    path = tmp_path / "entidades.csv"
    path.write_bytes(text.encode(encoding))
    return helpdesk(env, "entidades", "import", str(path))


def test_the_directory_imports_an_excel_csv_and_lists_it(tmp_path):
    env = Embedded(tmp_path / "h")
    result = import_directory(env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Directorio importado: 2 entidades nuevas, 0 actualizadas."
    listed = {e["nit"]: e for e in json.loads(helpdesk(env, "entidades", "--json").stdout)}
    assert listed["890905211"]["name"] == "Alcaldía de Prueba"  # Windows-1252 read right
    assert listed["899999061"]["domains"] == ["gobernacion-ejemplo.gov.co", "ejemplo.gov.co"]
    assert "Alcaldía de Prueba (Medellín, Antioquia)  [importada]" in helpdesk(env, "entidades").stdout


def test_a_directory_file_with_bad_lines_imports_nothing_and_names_each(tmp_path):
    env = Embedded(tmp_path / "h")
    bad = DIRECTORY_CSV + "890905211-9;Otra;;;x.gov.co\r\n" + "800197268;Sin dominio válido;;;no es dominio\r\n"
    result = import_directory(env, tmp_path, "\ufeff" + bad, "utf-8")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "línea 4: NIT no válido «890905211-9»" in result.stderr
    assert "línea 5: dominio no válido «no»" in result.stderr
    assert json.loads(helpdesk(env, "entidades", "--json").stdout) == []


def test_directory_warnings_unknown_nit_other_name_and_addresses_outside_its_domains(tmp_path):
    env = Embedded(tmp_path / "h")
    import_directory(env, tmp_path, DIRECTORY_CSV.replace("Alcaldía de Prueba", "Municipio de Prueba Antioquia")
                     .replace(";alcaldia-prueba.gov.co", ";prueba.gov.co"))
    excel = forms.filled_template(tmp_path, {"Correo electrónico": "despacho@alcaldia-prueba.gov.co"})
    env.deliver(mails.request(attachments=documents(tmp_path, excel=excel)))
    unknown = forms.filled_template(tmp_path, {"NIT": "800197268-4"})
    env.deliver(mails.request(sender="u2@alcaldia-prueba.gov.co", attachments=documents(tmp_path, excel=unknown)))
    env.run_once()
    found = {(r["radicado"][-1], r["code"]): r["detail"] for r in env.store.query(
        "SELECT t.radicado, f.code, f.detail FROM findings f JOIN tickets t ON t.id = f.ticket_id")}
    assert found[("1", "entity_name_mismatch")] == ("el formato dice «Alcaldía de Prueba»; el directorio registra "
                                                    "el NIT 890905211 como «Municipio de Prueba Antioquia»")
    assert found[("1", "sender_domain_mismatch")] == (f"escribió {mails.ENTITY}; según el directorio de entidades, "
                                                      "la entidad usa prueba.gov.co")
    assert found[("1", "legal_rep_domain_mismatch")].startswith(
        "el correo del representante legal (campo 1.2) es de alcaldia-prueba.gov.co")
    assert found[("2", "entity_not_in_directory")].startswith("el NIT 800197268 no está en el directorio")


def test_a_personal_legal_rep_address_is_high_risk(tmp_path):
    env = Embedded(tmp_path / "h")
    excel = forms.filled_template(tmp_path, {"Nombre de la entidad": "Concejo Municipal de Prueba",
                                             "Cargo": "Presidente del Concejo",
                                             "Correo electrónico": "pedropablo.suarez72@gmail.com"})
    env.deliver(mails.request(attachments=documents(tmp_path, excel=excel)))
    [outcome] = env.run_once()
    radicado = outcome.radicado
    [warning] = env.store.query("SELECT detail FROM findings WHERE code = 'legal_rep_email_personal'")
    assert "pedropablo.suarez72@gmail.com, de un proveedor de correo gratuito" in warning["detail"]
    refused = helpdesk(env, "approve", radicado, "--by", "Ana", "--yes")
    assert refused.returncode == 1 and "legal_rep_email_personal" in refused.stderr


def test_approvals_teach_the_directory_and_a_changed_representative_address_is_high_risk(tmp_path):
    env = Embedded(tmp_path / "h")
    first = pending(env, tmp_path)
    assert helpdesk(env, "approve", first, "--by", "Ana", "--yes").returncode == 0
    [learned] = json.loads(helpdesk(env, "entidades", "--json").stdout)
    assert (learned["nit"], learned["source"], learned["last_legal_rep_email"], learned["last_radicado"]) == (
        "890905211", "aprendida", LEGAL_REP, first)
    assert learned["domains"] == ["alcaldia-prueba.gov.co"]  # the request's own domains, the web user's none
    excel = forms.filled_template(tmp_path, {"Correo electrónico": "alcaldesa.nueva@alcaldia-prueba.gov.co"})
    env.deliver(mails.request(sender="otra@alcaldia-prueba.gov.co", attachments=documents(tmp_path, excel=excel)))
    [second] = env.run_once()
    [warning] = env.store.query("SELECT detail FROM findings WHERE code = 'legal_rep_email_changed'")
    assert warning["detail"].startswith("el correo del representante legal (campo 1.2) es "
                                        f"alcaldesa.nueva@alcaldia-prueba.gov.co; en la última solicitud aprobada "
                                        f"de este NIT ({first}, del ")
    assert warning["detail"].endswith(f") era {LEGAL_REP}")
    refused = helpdesk(env, "approve", second.radicado, "--by", "Ana", "--yes")
    assert refused.returncode == 1 and "legal_rep_email_changed" in refused.stderr
    queue = helpdesk(env, "queue").stdout.splitlines()
    assert queue[3].startswith("  Riesgo: ") and "cambió el correo del representante legal" in queue[3]


def test_an_import_with_empty_cells_keeps_what_approvals_taught(tmp_path):
    env = Embedded(tmp_path / "h")
    first = pending(env, tmp_path)
    assert helpdesk(env, "approve", first, "--by", "Ana", "--yes").returncode == 0
    result = import_directory(env, tmp_path, "NIT;Nombre;Departamento;Municipio;Dominios\r\n"
                                             "890905211-1;Alcaldía de Prueba;Antioquia;;\r\n")
    assert result.stdout.strip() == "Directorio importado: 0 entidades nuevas, 1 actualizada."
    [entry] = json.loads(helpdesk(env, "entidades", "--json").stdout)
    assert (entry["source"], entry["department"], entry["domains"]) == (
        "importada", "Antioquia", ["alcaldia-prueba.gov.co"])
    assert entry["last_legal_rep_email"] == LEGAL_REP


# -- the representative's role -----------------------------------------------


def role_findings(tmp_path, values: dict, acta: bytes | None = None):
    excel = forms.filled_template(tmp_path, values)
    return [f for f in findings_for(complete_set(tmp_path, excel=excel, acta=acta)) if f.code.startswith("legal_rep_role")]


def test_a_cargo_that_is_no_legal_representative_is_warned(tmp_path):
    [found] = role_findings(tmp_path, {"Cargo": "Secretario de Gobierno"})
    assert found.detail.startswith("el cargo «Secretario de Gobierno» no es el de un representante legal (Alcalde, ")


@pytest.mark.parametrize("cargo", ["Secretario del Alcalde", "Exalcalde", "Asesor de despacho de la alcaldesa"])
def test_a_cargo_that_only_mentions_the_role_is_warned(tmp_path, cargo):
    [found] = role_findings(tmp_path, {"Cargo": cargo})
    assert found.detail.startswith(f"el cargo «{cargo}» no es el de un representante legal")


@pytest.mark.parametrize("cargo", ["Alcalde", "ALCALDESA MUNICIPAL", "Alcalde (E)", "Alcalde encargado de Prueba"])
def test_a_cargo_that_is_the_role_with_a_qualifier_is_not_warned(tmp_path, cargo):
    assert role_findings(tmp_path, {"Cargo": cargo}) == []


def test_a_cargo_of_another_kind_of_entity_is_warned(tmp_path):
    [found] = role_findings(tmp_path, {"Cargo": "Gobernador"})
    assert found.detail == ("el cargo «Gobernador» no corresponde a «Alcaldía de Prueba», cuyo representante "
                            "legal es el Alcalde")


def test_the_acta_must_name_the_role(tmp_path):
    lines = [line.replace("Alcaldesa", "Secretaria") for line in ACTA_LINES]
    [found] = role_findings(tmp_path, {}, acta=docfiles.text_pdf(lines))
    assert (found.code, found.detail) == ("legal_rep_role_not_in_acta", "el acta no menciona el cargo de Alcalde")
    assert role_findings(tmp_path, {}, acta=docfiles.text_pdf(ACTA_LINES)) == []
    assert "legal_rep_role_not_in_acta" not in warnings(findings_for(complete_set(tmp_path)))  # a scan: staff read it


def test_a_dmarc_pass_for_another_domain_than_the_senders_is_no_evidence(tmp_path):
    # Our server and our parser must agree on who wrote: a pass for the
    # domain the server read is worth nothing for another sender's domain.
    auth = authresults.read([f"{OURS}; dmarc=pass header.from=otro-dominio.com"], OURS)
    assert auth.verdict("alcaldia-prueba.gov.co") == ("el resultado DMARC es de otro-dominio.com, no del dominio "
                                                      "del remitente alcaldia-prueba.gov.co")
    assert auth.verdict("otro-dominio.com") == ""
    env = Embedded(tmp_path / "h", inbox={"authserv_id": OURS})
    env.deliver(with_results(mails.request(), [f"{OURS}; dmarc=pass header.from=otro-dominio.com"]))
    env.run_once()
    [warning] = env.store.query("SELECT detail FROM findings WHERE code = 'sender_not_authenticated'")
    assert "el resultado DMARC es de otro-dominio.com" in warning["detail"]


# -- what the review found (an attacker writing inside our own header) --------


def test_a_result_written_in_the_senders_address_is_not_ours():
    # The server copies the envelope sender into its own header; a quoted
    # local part carrying ";dmarc=pass" must not split into a result.
    value = (f'{OURS}; spf=pass smtp.mailfrom="a;dmarc=pass header.from=victim.gov.co"@evil.com; '
             "dmarc=fail header.from=victim.gov.co")
    auth = authresults.read([value], OURS)
    assert auth.verdict("victim.gov.co") == "DMARC fail para victim.gov.co"


def test_an_encoded_word_in_the_senders_address_is_read_undecoded(tmp_path):
    env = Embedded(tmp_path / "h", inbox={"authserv_id": OURS})
    forged = ("=?utf-8?q?a=3B_dmarc=3Dpass_header.from=3Dalcaldia-prueba.gov.co_?=@evil.com")
    header = f"{OURS}; spf=pass smtp.mailfrom={forged}; dmarc=fail header.from=alcaldia-prueba.gov.co"
    env.deliver(with_results(mails.request(), [header]))
    env.run_once()
    [warning] = env.store.query("SELECT detail FROM findings WHERE code = 'sender_not_authenticated'")
    assert "DMARC fail para alcaldia-prueba.gov.co" in warning["detail"]


@pytest.mark.parametrize("result", ["f", "policy", "bestguesspass"])
def test_a_dmarc_result_that_is_neither_pass_nor_none_warns(result):
    # A value cut short, or one nobody foresaw, is no pass (an allow-list).
    auth = authresults.read([f"{OURS}; dmarc={result} header.from=alcaldia-prueba.gov.co"], OURS)
    assert auth.verdict("alcaldia-prueba.gov.co").startswith(f"DMARC {result} ")


def test_a_nit_with_leading_zeros_is_the_same_entity(tmp_path):
    from helpdesk import nit

    assert nit.parse("0890905211-1").number == "890905211"
    env = Embedded(tmp_path / "h")
    first = pending(env, tmp_path)
    assert helpdesk(env, "approve", first, "--by", "Ana", "--yes").returncode == 0
    excel = forms.filled_template(tmp_path, {"NIT": "0890905211-1",
                                             "Correo electrónico": "otra.persona@alcaldia-prueba.gov.co"})
    env.deliver(mails.request(sender="x@alcaldia-prueba.gov.co", attachments=documents(tmp_path, excel=excel)))
    env.run_once()
    codes = {r["code"] for r in env.store.query("SELECT code FROM findings")}
    assert "legal_rep_email_changed" in codes
