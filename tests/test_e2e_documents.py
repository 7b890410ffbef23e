"""Requests with documents, end to end: Dovecot in, aiosmtpd out."""

import io
import zipfile

from helpdesk.demo import acta_scan, form_scan, scan_pdf

from . import forms, mails
from .forms import GOOD

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def documents(tmp_path, excel: bytes | None = None, with_acta=True, with_form=True):
    files = []
    if with_form:
        files.append(("formato_firmado.pdf", form_scan(GOOD["Nombre de la entidad"], GOOD["Nombres y apellidos"],
                                                       GOOD["Cargo"]), "application/pdf"))
    files.append(("Formato solicitud.xlsx", excel if excel is not None else forms.filled_template(tmp_path), XLSX))
    if with_acta:
        files.append(("acta_posesion.pdf", acta_scan(GOOD["Nombres y apellidos"], GOOD["Cargo"]), "application/pdf"))
    return files


def verdicts(networked, count):
    assert networked.smtp.wait_for(count, timeout=10)
    return [(m.message["X-Helpdesk-Kind"], m.message) for m in networked.smtp.snapshot()]


def body(msg) -> str:
    return msg.get_body(("plain",)).get_content()


def test_complete_request_gets_ack_then_accepted(networked, tmp_path):
    networked.deliver(mails.request(attachments=documents(tmp_path)))
    [outcome] = networked.run_once()
    sent = verdicts(networked, 2)
    assert [k for k, _ in sent] == ["ack", "accepted"]
    accepted = sent[1][1]
    assert outcome.radicado in accepted["Subject"]
    assert accepted["To"] == mails.ENTITY
    assert "despacho@alcaldia-prueba.gov.co" in body(accepted)  # where the credentials will go
    row = networked.store.one("SELECT state, entity_nit, legal_rep_email FROM tickets")
    assert tuple(row) == ("pending_approval", "890905211-1", "despacho@alcaldia-prueba.gov.co")


def test_missing_acta_then_reply_with_acta_is_accepted_on_the_same_radicado(networked, tmp_path):
    networked.deliver(mails.request(attachments=documents(tmp_path, with_acta=False)))
    [first] = networked.run_once()
    sent = verdicts(networked, 2)
    assert [k for k, _ in sent] == ["ack", "correction"]
    text = body(sent[1][1])
    assert "acta de posesión" in text and "Falta" in text
    assert "formato de solicitud en Excel" not in text

    acta = ("acta.pdf", scan_pdf(["ACTA DE POSESIÓN"]), "application/pdf")
    networked.deliver(mails.reply_to(networked.sent_raw()[1], body="Adjunto lo que faltaba.", attachments=[acta]))
    [second] = networked.run_once()
    assert second.action == "joined" and second.radicado == first.radicado
    sent = verdicts(networked, 3)
    assert [k for k, _ in sent] == ["ack", "correction", "accepted"]
    assert first.radicado in sent[2][1]["Subject"]
    assert networked.store.one("SELECT state FROM tickets")[0] == "pending_approval"
    assert networked.count("SELECT count(*) FROM tickets") == 1


def test_bad_nit_gets_a_correction_naming_the_nit(networked, tmp_path):
    excel = forms.filled_template(tmp_path, {"NIT": "890905211-7"})
    networked.deliver(mails.request(attachments=documents(tmp_path, excel=excel)))
    networked.run_once()
    sent = verdicts(networked, 2)
    assert [k for k, _ in sent] == ["ack", "correction"]
    text = body(sent[1][1])
    assert "NIT" in text and "890905211" in text and "es 1, no 7" in text


def test_a_corrected_form_sent_in_a_reply_replaces_the_bad_one(embedded, tmp_path):
    # Both forms stay on the ticket; the newest of each kind is the one that counts.
    bad = forms.filled_template(tmp_path, {"NIT": "890905211-7"})
    embedded.deliver(mails.request(attachments=documents(tmp_path, excel=bad)))
    [first] = embedded.run_once()
    assert embedded.kinds() == ["ack", "correction"]
    assert "es 1, no 7" in body(embedded.sent()[1])

    corrected = ("Formato solicitud corregido.xlsx", forms.filled_template(tmp_path), XLSX)
    embedded.deliver(mails.reply_to(embedded.sent_raw()[1], body="Va el formato corregido.", attachments=[corrected]))
    [second] = embedded.run_once()
    assert second.action == "joined" and second.radicado == first.radicado
    assert embedded.kinds() == ["ack", "correction", "accepted"]
    row = embedded.store.one("SELECT state, entity_nit FROM tickets")
    assert tuple(row) == ("pending_approval", "890905211-1")
    forms_seen = embedded.store.query("SELECT filename, counted FROM documents WHERE kind = 'excel_form' ORDER BY id")
    assert [tuple(r) for r in forms_seen] == [("Formato solicitud.xlsx", 0), ("Formato solicitud corregido.xlsx", 1)]


def test_zip_bomb_in_the_excel_slot_gets_a_correction_and_the_service_goes_on(networked, tmp_path):
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        with zf.open("xl/sharedStrings.xml", "w") as member:
            chunk = b"A" * 1_000_000
            for _ in range(300):
                member.write(chunk)
    networked.deliver(mails.request(attachments=documents(tmp_path, excel=bomb.getvalue())))
    networked.deliver(mails.request(sender="otra@alcaldia-prueba.gov.co", attachments=documents(tmp_path)))
    outcomes = networked.run_once()
    assert [o.action for o in outcomes] == ["new_ticket", "new_ticket"]
    sent = verdicts(networked, 4)
    by_rcpt = {(m["To"], k): m for k, m in sent}
    correction = by_rcpt[(mails.ENTITY, "correction")]
    assert "No pudimos leer el archivo «Formato solicitud.xlsx»" in body(correction)
    assert "descomprimido" in body(correction)
    assert ("otra@alcaldia-prueba.gov.co", "accepted") in by_rcpt


def test_second_request_for_the_same_nit_and_accounts_is_flagged_duplicate(embedded, tmp_path):
    from .conftest import Embedded  # noqa: F401  (the embedded fixture: no servers needed)

    embedded.deliver(mails.request(attachments=documents(tmp_path)))
    embedded.deliver(mails.request(sender="otra@alcaldia-prueba.gov.co", attachments=documents(
        tmp_path, excel=forms.filled_template(tmp_path, {"NIT": "890.905.211-1"}))))
    first, second = embedded.run_once()
    rows = embedded.store.query("SELECT t.radicado, f.detail FROM findings f JOIN tickets t ON t.id = f.ticket_id "
                                "WHERE f.code = 'duplicate_request'")
    assert [r["radicado"] for r in rows] == [second.radicado]
    assert first.radicado in rows[0]["detail"]


def test_repeated_files_are_examined_once_and_at_most_twenty_per_ticket(tmp_path):
    # Issue 10, finding 8: 30 hostile PDFs in one request held intake for
    # minutes. Each content is examined once, and only the newest 20 files.
    from .conftest import Embedded

    env = Embedded(tmp_path / "h")
    try:
        files = documents(tmp_path)
        extra = [(f"copia-{n}.pdf", files[0][1], "application/pdf") for n in range(5)]
        others = [(f"otro-{n}.pdf", scan_pdf([f"ANEXO {n}"]), "application/pdf") for n in range(20)]
        env.deliver(mails.request(attachments=[*others, *extra, *files]))
        env.run_once()
        examined = env.store.query("SELECT filename FROM documents")
        assert len(examined) == 20
        names = {r["filename"] for r in examined}
        assert {"formato_firmado.pdf", "Formato solicitud.xlsx", "acta_posesion.pdf"} <= names
        assert not any(n.startswith("copia-") for n in names)  # same bytes as the signed form
        [warning] = env.store.query("SELECT detail FROM findings WHERE code = 'attachments_skipped'")
        assert "copia-0.pdf" in warning["detail"] and "otro-0.pdf" in warning["detail"]
        assert env.store.one("SELECT state FROM tickets")["state"] == "pending_approval"
    finally:
        env.daemon.close()
        env.store.close()
