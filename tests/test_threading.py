"""Who may join a ticket: a stranger must not slip a new field 1.2 into
someone else's request (issue 10, findings 1 and 2)."""

import json

from . import forms, mails
from .conftest import Embedded
from .test_e2e_documents import documents
from .test_staff import helpdesk


def state_and_warnings(env: Embedded, radicado: str) -> tuple[str, dict[str, str]]:
    view = json.loads(helpdesk(env, "show", radicado, "--json").stdout)
    return view["state"], {w["code"]: w["detail"] for w in view["warnings"]}


def test_on_shared_webmail_the_subject_tag_joins_only_from_the_same_address(embedded, tmp_path):
    embedded.deliver(mails.request(sender="alcaldia.x@hotmail.com", attachments=documents(tmp_path, with_acta=False)))
    [opened] = embedded.run_once()
    tag = f"RE: [Radicado {opened.radicado}] documentos"
    acta = documents(tmp_path)[2:]
    embedded.deliver(mails.request(sender="otro@hotmail.com", subject=tag, attachments=acta))
    [stranger] = embedded.run_once()
    assert stranger.action == "new_ticket" and stranger.radicado != opened.radicado
    assert "untrusted_radicado_reference" in state_and_warnings(embedded, stranger.radicado)[1]
    assert embedded.store.one("SELECT count(*) FROM documents d JOIN tickets t ON t.id = d.ticket_id "
                              "WHERE t.radicado = ? AND d.kind = 'acta_posesion'", (opened.radicado,))[0] == 0
    embedded.deliver(mails.request(sender="Alcaldia.X@hotmail.com", subject=tag, attachments=acta))
    [same] = embedded.run_once()
    assert same.action == "joined" and same.radicado == opened.radicado


def test_a_reply_from_outside_that_changes_field_1_2_warns_and_approval_needs_acknowledging(embedded, tmp_path):
    embedded.deliver(mails.request(attachments=documents(tmp_path, with_acta=False)))
    [opened] = embedded.run_once()
    assert state_and_warnings(embedded, opened.radicado)[0] == "needs_correction"
    ack = embedded.acks_raw()[0]  # its Message-ID, in References, is what joins the ticket
    forged = forms.filled_template(tmp_path, {"Correo electrónico": "despacho.alcaldia@gmail.com"})
    embedded.deliver(mails.reply_to(ack, sender="soporte@otro-dominio.com",
                                    attachments=documents(tmp_path, excel=forged)))
    [joined] = embedded.run_once()
    assert joined.action == "joined" and joined.radicado == opened.radicado
    state, warnings = state_and_warnings(embedded, opened.radicado)
    assert state == "pending_approval"
    assert "soporte@otro-dominio.com" in warnings["reply_from_outside"]
    changed = warnings["legal_rep_email_changed"]
    assert "despacho@alcaldia-prueba.gov.co" in changed and "despacho.alcaldia@gmail.com" in changed

    refused = helpdesk(embedded, "approve", opened.radicado, "--by", "Ana", "--yes")
    assert refused.returncode == 1 and "--acknowledge-warnings" in refused.stderr
    assert "legal_rep_email_changed" in refused.stderr and "Traceback" not in refused.stderr
    assert "reset" not in embedded.kinds() and state_and_warnings(embedded, opened.radicado)[0] == "pending_approval"
    approved = helpdesk(embedded, "approve", opened.radicado, "--by", "Ana", "--yes", "--acknowledge-warnings")
    assert approved.returncode == 0, approved.stderr
    events = json.loads(helpdesk(embedded, "show", opened.radicado, "--json").stdout)["events"]
    assert any("alto riesgo revisadas: legal_rep_email_changed" in e["detail"] for e in events)


def test_a_reply_from_the_entity_itself_joins_without_warnings(embedded, tmp_path):
    embedded.deliver(mails.request(attachments=documents(tmp_path, with_acta=False)))
    [opened] = embedded.run_once()
    embedded.deliver(mails.reply_to(embedded.acks_raw()[0], attachments=documents(tmp_path)[2:]))
    embedded.run_once()
    state, warnings = state_and_warnings(embedded, opened.radicado)
    assert state == "pending_approval" and set(warnings) == {"account_not_an_address"}  # admin.web


def test_web_user_names_are_allow_listed_and_flagged_for_staff(embedded, tmp_path):
    # Issue 10, finding 3: a "Usuario de página web" was neither validated nor scoped.
    accounts = [("Correo electrónico", "contactenos@alcaldia-prueba.gov.co"),
                ("Usuario de página web", "admin.web"), ("Usuario de página web", "*)(uid=*")]
    excel = forms.filled_template(tmp_path, accounts=accounts)
    embedded.deliver(mails.request(attachments=documents(tmp_path, excel=excel)))
    [opened] = embedded.run_once()
    state, warnings = state_and_warnings(embedded, opened.radicado)
    assert state == "needs_correction"
    correction = embedded.sent()[-1].get_body(("plain",)).get_content()
    assert "nombre de usuario no válido" in correction and "*)(uid=*" in correction
    flags = [r["detail"] for r in embedded.store.query("SELECT detail FROM findings WHERE code = 'account_not_an_address'")]
    assert any("admin.web" in f for f in flags)
