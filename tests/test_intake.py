"""The pipeline on the embedded defaults: tickets, acks, deduplication,
threading, robots and Spanish input, with real MIME and a real Maildir."""

import email
import email.policy
import re
from email.message import EmailMessage
from email.utils import make_msgid

from . import mails
from .conftest import Embedded
from .mails import ENTITY, SUPPORT


def ack_of(env, radicado):
    for msg in env.acks():
        if radicado in msg["Subject"] and msg["X-Helpdesk-Kind"] == "ack":
            return msg
    raise AssertionError(f"no ack for {radicado}")


def test_request_gets_ticket_and_ack_with_radicado(embedded):
    embedded.deliver(mails.request(subject="Solicitud de reinicio"))
    [outcome] = embedded.run_once()
    assert outcome.action == "new_ticket"
    assert outcome.radicado.startswith("GEL-") and outcome.radicado.endswith("-000001")
    [ack] = embedded.acks()
    assert ack["To"] == ENTITY
    assert f"[Radicado {outcome.radicado}]" in ack["Subject"]
    assert ack["X-Helpdesk-Kind"] == "ack"
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["Message-ID"].endswith("@entidad.gov.co>")
    text = ack.get_body(("plain",)).get_content()
    html = ack.get_body(("html",)).get_content()
    assert outcome.radicado in text and outcome.radicado in html
    assert "campo 1.2" in text and "representante legal" in text
    assert "018000 91 0742" in text  # how to follow up (seed 000)


def test_ack_answers_the_request_message(embedded):
    raw = mails.request(message_id="<pedido-1@alcaldia-prueba.gov.co>")
    embedded.deliver(raw)
    embedded.run_once()
    [ack] = embedded.acks()
    assert ack["In-Reply-To"] == "<pedido-1@alcaldia-prueba.gov.co>"
    assert "<pedido-1@alcaldia-prueba.gov.co>" in ack["References"]


def test_reply_to_header_receives_the_ack(embedded):
    embedded.deliver(mails.request(headers={"Reply-To": "mesa@alcaldia-prueba.gov.co"}))
    embedded.run_once()
    [ack] = embedded.acks()
    assert ack["To"] == "mesa@alcaldia-prueba.gov.co"


def test_same_message_id_twice_makes_one_ticket(embedded):
    raw = mails.request(message_id="<dos-veces@alcaldia-prueba.gov.co>")
    embedded.deliver(raw)
    embedded.run_once()
    # Redelivered with other trace headers, as a second MX would.
    embedded.deliver(b"Received: from mx2 by mx1; Mon, 1 Jan 2026 00:00:00 +0000\r\n" + raw)
    [outcome] = embedded.run_once()
    assert outcome.action == "duplicate"
    assert embedded.count("SELECT count(*) FROM tickets") == 1
    assert embedded.kinds() == ["ack", "correction"]  # one request, one examination


def test_same_bytes_without_message_id_makes_one_ticket(embedded):
    raw = mails.request(message_id="")
    assert b"Message-ID" not in raw
    embedded.deliver(raw)
    embedded.deliver(raw)
    outcomes = embedded.run_once()
    assert [o.action for o in outcomes] == ["new_ticket", "duplicate"]
    assert embedded.kinds() == ["ack", "correction"]


def test_processed_message_leaves_new_and_is_flagged_seen(embedded):
    path = embedded.deliver(mails.request())
    embedded.run_once()
    assert not path.exists()
    [moved] = list((embedded.root / "inbox" / "cur").iterdir())
    assert moved.name.endswith(":2,S")


def test_radicados_are_sequential(embedded):
    for n in range(3):
        embedded.deliver(mails.request(sender=f"u{n}@alcaldia-prueba.gov.co"))
    outcomes = embedded.run_once()
    assert [o.radicado[-6:] for o in outcomes] == ["000001", "000002", "000003"]


# -- threading ------------------------------------------------------------


def test_reply_to_our_ack_joins_the_ticket(embedded):
    embedded.deliver(mails.request())
    [first] = embedded.run_once()
    embedded.deliver(mails.reply_to(embedded.acks_raw()[0]))
    [second] = embedded.run_once()
    assert second.action == "joined" and second.radicado == first.radicado
    assert embedded.count("SELECT count(*) FROM tickets") == 1
    assert embedded.kinds() == ["ack", "correction", "correction"]  # no second ack; one reminder


def test_subject_tag_from_same_domain_joins(embedded):
    embedded.deliver(mails.request())
    [first] = embedded.run_once()
    embedded.deliver(mails.request(sender="otra.persona@alcaldia-prueba.gov.co",
                                   subject=f"Documentos [Radicado {first.radicado}]"))
    [second] = embedded.run_once()
    assert second.action == "joined" and second.radicado == first.radicado


def test_subject_tag_from_another_domain_is_a_new_ticket_with_warning(embedded, tmp_path):
    embedded.deliver(mails.request())
    [first] = embedded.run_once()
    embedded.deliver(mails.request(sender="intruso@atacante.example", subject=f"RE: [Radicado {first.radicado}]"))
    [second] = embedded.run_once()
    assert second.action == "new_ticket" and second.radicado != first.radicado
    codes = [r["code"] for r in embedded.store.query(
        "SELECT code FROM findings f JOIN tickets t ON t.id = f.ticket_id WHERE t.radicado = ? AND f.severity = 'warning'",
        (second.radicado,))]
    assert codes == ["untrusted_radicado_reference"]
    first_messages = embedded.count(
        "SELECT count(*) FROM messages m JOIN tickets t ON t.id = m.ticket_id WHERE t.radicado = ? AND direction = 'in'",
        (first.radicado,))
    assert first_messages == 1


# -- robots and loops ---------------------------------------------------


def robot_cases(own_ack: bytes):
    yield "out-of-office", mails.request(subject="Fuera de la oficina", headers={"Auto-Submitted": "auto-replied"})
    yield "exchange-oof", mails.request(subject="Respuesta automática", headers={"X-Auto-Response-Suppress": "All"})
    yield "bulk", mails.request(subject="Boletín", headers={"Precedence": "bulk"})
    yield "list", mails.request(subject="[lista] hola", headers={"List-Id": "<lista.example.org>"})
    yield "mailer-daemon", mails.request(sender="MAILER-DAEMON@mx.example.org", subject="Undelivered")
    yield "null-return-path", b"Return-Path: <>\r\n" + mails.request(subject="Notificación")
    yield "x-loop", mails.request(subject="eco", headers={"X-Loop": SUPPORT})
    yield "own-ack", own_ack


def test_robots_get_no_reply_and_no_radicado(embedded):
    embedded.deliver(mails.request())
    embedded.run_once()
    own_ack = embedded.acks_raw()[0]
    cases = list(robot_cases(own_ack))
    for _name, raw in cases:
        embedded.deliver(raw)
    outcomes = embedded.run_once()
    assert [o.action for o in outcomes] == ["ignored"] * len(cases), [(c[0], o) for c, o in zip(cases, outcomes)]
    assert embedded.count("SELECT count(*) FROM tickets") == 1
    assert embedded.kinds() == ["ack", "correction"]


def test_auto_generated_and_auto_notified_messages_get_no_ack_and_no_radicado(embedded):
    """RFC 3834: every Auto-Submitted value but "no" is a robot, not only
    an out-of-office's "auto-replied": a notification system's
    "auto-generated", a receipt's "auto-notified", in any case, with a
    comment or with parameters."""
    values = ("auto-generated", "auto-notified", "Auto-Generated (sistema de nómina)",
              "auto-notified; owner-email=\"nomina@alcaldia-prueba.gov.co\"")
    for value in values:
        embedded.deliver(mails.request(subject=f"Aviso: {value}", headers={"Auto-Submitted": value}))

    outcomes = embedded.run_once()

    assert [(o.action, o.reason, o.radicado) for o in outcomes] == [("ignored", "auto_reply", None)] * len(values)
    assert embedded.count("SELECT count(*) FROM tickets") == 0
    assert embedded.count("SELECT count(*) FROM outbox") == 0
    assert embedded.count("SELECT count(*) FROM messages WHERE direction = 'in' AND kind = 'auto_reply'") == len(values)
    assert embedded.sent() == []


def test_auto_submitted_no_is_a_human(embedded):
    embedded.deliver(mails.request(headers={"Auto-Submitted": "no"}))
    [outcome] = embedded.run_once()
    assert outcome.action == "new_ticket"


def test_bounce_of_our_ack_is_linked_to_its_ticket(embedded):
    embedded.deliver(mails.request())
    [first] = embedded.run_once()
    embedded.deliver(mails.bounce_of(embedded.acks_raw()[0]))
    [outcome] = embedded.run_once()
    assert outcome.action == "ignored" and outcome.reason == "bounce"
    assert outcome.radicado == first.radicado
    assert embedded.count("SELECT count(*) FROM findings WHERE code = 'delivery_bounced'") == 1
    assert embedded.count("SELECT count(*) FROM outbox WHERE status = 'bounced'") == 1
    assert embedded.kinds() == ["ack", "correction"]


def test_two_helpdesks_answering_each_other_stop_at_once(embedded):
    """Another helpdesk acknowledges our ack with its own ack: we stay quiet."""
    embedded.deliver(mails.request(sender="mesa@otra-mesa.gov.co"))
    embedded.run_once()
    ours = email.message_from_bytes(embedded.acks_raw()[0], policy=email.policy.default)
    theirs = EmailMessage()
    theirs["From"] = "mesa@otra-mesa.gov.co"
    theirs["To"] = SUPPORT
    theirs["Subject"] = f"[Ticket #991] RE: {ours['Subject']}"
    theirs["Message-ID"] = make_msgid(domain="otra-mesa.gov.co")
    theirs["In-Reply-To"] = ours["Message-ID"]
    theirs["Auto-Submitted"] = "auto-replied"
    theirs.set_content("Hemos recibido su mensaje. Ticket #991.")
    embedded.deliver(theirs.as_bytes())
    [outcome] = embedded.run_once()
    assert outcome.action == "ignored"
    assert embedded.kinds() == ["ack", "correction"]


def test_daily_cap_stops_replies_to_a_sender(tmp_path):
    from .conftest import Embedded

    env = Embedded(tmp_path, replies={"daily_cap_per_sender": 3})
    for n in range(5):
        env.deliver(mails.request(subject=f"pedido {n}"))
    outcomes = env.run_once()
    assert [len(o.replies) for o in outcomes] == [1, 1, 1, 0, 0]
    assert env.kinds() == ["ack", "ack", "ack"]  # the cap also holds back the corrections
    assert env.count("SELECT count(*) FROM findings WHERE code = 'reply_cap_reached' AND source = 'intake'") == 2
    assert env.count("SELECT count(*) FROM findings WHERE code = 'reply_cap_reached' AND source = 'examination'") == 5


# -- Spanish input and hostile headers ----------------------------------


def test_latin1_and_windows1252_bodies_and_encoded_headers(embedded):
    raw_latin1 = (
        "From: =?iso-8859-1?Q?Jos=E9_Pe=F1a?= <jose@alcaldia-prueba.gov.co>\r\n"
        f"To: {SUPPORT}\r\nMessage-ID: <l1@alcaldia-prueba.gov.co>\r\n"
        "Subject: =?iso-8859-1?Q?Reinicio_de_contrase=F1a_de_la_Alcald=EDa?=\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode("ascii") + "Solicitamos el reinicio de la contraseña del señor alcalde.\r\n".encode("latin-1")
    raw_cp1252 = (
        f"From: tesoreria@alcaldia-prueba.gov.co\r\nTo: {SUPPORT}\r\nMessage-ID: <w1@alcaldia-prueba.gov.co>\r\n"
        "Subject: =?windows-1252?Q?Solicitud_=93urgente=94_=96_Tesorer=EDa?=\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"X\"\r\n\r\n--X\r\n"
        "Content-Type: text/plain; charset=windows-1252\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode("ascii") + "“Gracias” – Tesorería\r\n".encode("cp1252") + (
        b"--X\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''Acta%20de%20posesi%C3%B3n%20se%C3%B1or%20alcalde.pdf\r\n\r\n"
        b"JVBERi0xLjQK\r\n--X--\r\n"
    )
    embedded.deliver(raw_latin1)
    embedded.deliver(raw_cp1252)
    first, second = embedded.run_once()
    subjects = {r["subject"] for r in embedded.store.query("SELECT subject FROM tickets")}
    assert subjects == {"Reinicio de contraseña de la Alcaldía", "Solicitud “urgente” – Tesorería"}
    acks = {m["To"]: m for m in embedded.acks()}
    assert "Reinicio de contraseña de la Alcaldía" in acks["jose@alcaldia-prueba.gov.co"]["Subject"]
    assert "Solicitud “urgente” – Tesorería" in acks["tesoreria@alcaldia-prueba.gov.co"]["Subject"]

    from helpdesk.config import LimitsConfig
    from helpdesk.intake.message import parse

    intake = parse(raw_cp1252, LimitsConfig())
    assert [a.filename for a in intake.attachments] == ["Acta de posesión señor alcalde.pdf"]
    assert "“Gracias” – Tesorería" in intake.body_text
    assert "señor alcalde" in parse(raw_latin1, LimitsConfig()).body_text


def test_header_injection_in_subject_cannot_reach_the_reply(embedded):
    # An encoded CR/LF inside the subject decodes to a line break; copied
    # naively into our reply it would add a Bcc header (CVE-2024-6923).
    raw = (
        f"From: {ENTITY}\r\nTo: {SUPPORT}\r\nMessage-ID: <inj@alcaldia-prueba.gov.co>\r\n"
        "Subject: =?utf-8?q?Hola=0D=0ABcc:_victima@example.org?=\r\n\r\nCuerpo\r\n"
    ).encode()
    embedded.deliver(raw)
    embedded.run_once()
    [raw_ack] = embedded.acks_raw()
    reparsed = email.message_from_bytes(raw_ack, policy=email.policy.default)
    assert reparsed["Bcc"] is None
    assert b"\nBcc:" not in raw_ack
    assert "Hola Bcc: victima@example.org" in reparsed["Subject"]


# C0 and C1 control characters: what clean_text removes from header values.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def test_terminal_control_characters_in_subject_reach_neither_the_ticket_nor_the_reply(embedded):
    # ESC [2J clears a terminal, ESC ]0;...BEL sets its title, NUL cuts C
    # strings: encoded in a subject, they would reach staff's terminal from
    # the database and the entity's mail client from our ack.
    raw = (
        f"From: {ENTITY}\r\nTo: {SUPPORT}\r\nMessage-ID: <ctl@alcaldia-prueba.gov.co>\r\n"
        "Subject: =?utf-8?q?Hola=1B[2J=1B]0;pwn=07_=00fin?=\r\n\r\nCuerpo\r\n"
    ).encode()
    embedded.deliver(raw)
    [outcome] = embedded.run_once()
    assert outcome.action == "new_ticket"
    stored = embedded.store.one("SELECT subject FROM tickets")["subject"]
    assert stored == "Hola [2J ]0;pwn fin", repr(stored)
    [ack] = embedded.acks()
    assert "Hola [2J ]0;pwn fin" in ack["Subject"], repr(ack["Subject"])
    assert not CONTROL.search(ack["Subject"]), repr(ack["Subject"])


def test_sender_with_two_addresses_gets_no_reply(embedded):
    # Python 3.11's getaddresses splits this into several addresses.
    raw = mails.request(sender="alice@example.org)<bob@example.org>")
    embedded.deliver(raw)
    [outcome] = embedded.run_once()
    assert outcome.action == "ignored" and outcome.reason == "no_sender"
    assert embedded.sent() == []


def test_oversized_message_is_read_for_headers_only(tmp_path):
    from .conftest import Embedded

    env = Embedded(tmp_path, limits={"max_message_bytes": 20_000})
    env.deliver(mails.request(attachments=[("grande.pdf", b"%PDF-1.4\n" + b"0" * 50_000, "application/pdf")]))
    [outcome] = env.run_once()
    assert outcome.action == "new_ticket"
    assert env.count("SELECT count(*) FROM findings WHERE code = 'message_too_large'") == 1
    assert env.kinds() == ["ack", "correction"]


def test_many_parts_are_bounded_before_parsing(tmp_path):
    from .conftest import Embedded

    env = Embedded(tmp_path, limits={"max_parts": 50})
    atts = [(f"f{n}.txt", b"x", "text/plain") for n in range(60)]
    env.deliver(mails.request(attachments=atts))
    [outcome] = env.run_once()
    assert outcome.action == "new_ticket"
    assert env.count("SELECT count(*) FROM findings WHERE code = 'message_too_large'") == 1


def test_deeply_nested_message_does_not_crash(embedded):
    depth = 3000
    head = "".join(f'Content-Type: multipart/mixed; boundary="b{n}"\r\n\r\n--b{n}\r\n' for n in range(depth))
    raw = f"From: {ENTITY}\r\nTo: {SUPPORT}\r\nSubject: anidado\r\nMIME-Version: 1.0\r\n{head}".encode()
    embedded.deliver(raw)
    [outcome] = embedded.run_once()
    assert outcome.action == "new_ticket"  # bounded: headers only


def test_replies_without_documents_get_one_reminder_not_a_loop(embedded):
    embedded.deliver(mails.request())
    embedded.run_once()
    for _ in range(3):
        embedded.deliver(mails.reply_to(embedded.acks_raw()[0]))
        embedded.run_once()
    assert embedded.kinds() == ["ack", "correction", "correction"]
    reminder = embedded.sent()[2].get_body(("plain",)).get_content()
    assert "no traía adjuntos" in reminder and "Falta el formato" in reminder


def test_forwarded_email_documents_do_not_count_as_the_senders(embedded, tmp_path):
    from email.message import EmailMessage

    from helpdesk.demo import scan_pdf

    inner = EmailMessage()
    inner["From"] = "alcalde@otra-alcaldia.gov.co"
    inner["Subject"] = "documentos"
    inner.set_content("van los documentos")
    inner.add_attachment(scan_pdf(["ACTA DE POSESIÓN"]), maintype="application", subtype="pdf",
                         filename="acta_posesion.pdf")
    outer = EmailMessage()
    outer["From"] = ENTITY
    outer["To"] = SUPPORT
    outer["Subject"] = "RV: documentos"
    outer.set_content("Reenvío lo que nos mandaron.")
    outer.add_attachment(inner)
    embedded.deliver(outer.as_bytes())
    embedded.run_once()
    codes = {r["code"] for r in embedded.store.query("SELECT code FROM findings")}
    assert "missing_acta_posesion" in codes  # the forwarded acta is not the sender's
    warning = embedded.store.one("SELECT detail FROM findings WHERE code = 'unclassified_attachment'")
    assert "mensaje reenviado" in warning["detail"]


def test_parts_without_headers_or_with_bare_cr_line_ends_count_towards_the_limit(embedded):
    # Issue 10, finding 6: parts without Content-Type, or with bare-CR line
    # ends, were not counted; 5.9 million empty parts took the daemon to 2 GB.
    head = (b"From: sistemas@alcaldia-prueba.gov.co\r\nTo: soporteccc@entidad.gov.co\r\nSubject: partes\r\n"
            b"Message-ID: <partes@alcaldia-prueba.gov.co>\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="zz"\r\n\r\n')
    for body in (b"--zz\r\n\r\n" * 5000, b"--zz\r\r" * 5000):
        embedded.deliver(head.replace(b"<partes@", b"<" + str(len(body) + body.count(b"\n")).encode() + b"@")
                         + body + b"--zz--\r\n")
    outcomes = embedded.run_once()
    assert [o.action for o in outcomes] == ["new_ticket", "new_ticket"]
    warnings = [r["detail"] for r in embedded.store.query("SELECT detail FROM findings WHERE code = 'message_too_large'")]
    assert len(warnings) == 2 and all("5000 partes MIME" in w for w in warnings)


def test_an_oversized_maildir_message_is_read_for_its_headers_only(tmp_path):
    # Issue 10, finding 11: the Maildir source read whole files into memory.
    env = Embedded(tmp_path, limits={"max_message_bytes": 200_000})
    try:
        big = mails.request(subject="Adjunto grande", attachments=[("acta.pdf", b"%PDF-1.4 " + b"x" * 1_000_000,
                                                                     "application/pdf")])
        env.deliver(big)
        [outcome] = env.run_once()
        assert outcome.action == "new_ticket" and env.kinds()[0] == "ack"
        [warning] = env.store.query("SELECT detail FROM findings WHERE code = 'message_too_large'")
        assert str(len(big)) in warning["detail"]
        [stored] = env.store.query("SELECT sha256 FROM messages WHERE direction = 'in'")
        assert env.store.raw_path(stored["sha256"]).stat().st_size < 5_000  # the headers, not the megabyte
    finally:
        env.daemon.close()
        env.store.close()


def test_parts_are_counted_the_same_when_the_message_is_read_a_window_at_a_time(monkeypatch, tmp_path):
    # count_parts lowers the message 1 MiB at a time instead of copying it
    # whole; a header or delimiter across a seam must count once.
    from helpdesk.intake import message

    from .test_e2e_documents import documents

    raw = mails.request(attachments=documents(tmp_path))
    whole = message.count_parts(raw, 200)
    assert whole >= 5  # the body, three attachments, their multipart
    for window in (61, 64, 100, 997):
        monkeypatch.setattr(message, "_WINDOW", window)
        assert message.count_parts(raw, 200) == whole, window


def test_the_examination_does_not_load_a_message_read_for_its_headers_only(embedded, monkeypatch):
    # Issue 10, finding 6: a 41 MB message of empty parts was loaded and
    # counted again by the examination while intake held the next one.
    head = (b"From: sistemas@alcaldia-prueba.gov.co\r\nTo: soporteccc@entidad.gov.co\r\nSubject: partes\r\n"
            b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="zz"\r\n\r\n')
    embedded.deliver(head + b"--zz\r\n\r\n" * 5000 + b"--zz--\r\n")
    loaded = []
    original = embedded.store.load_raw
    monkeypatch.setattr(embedded.store, "load_raw", lambda sha256: loaded.append(sha256) or original(sha256))
    embedded.run_once()
    [row] = embedded.store.query("SELECT sha256, headers_only FROM messages WHERE direction = 'in'")
    assert row["headers_only"] == 1 and row["sha256"] not in loaded
    assert embedded.kinds() == ["ack", "correction"]  # examined all the same: no documents


def test_intake_takes_nothing_from_the_examination_the_stage_after_it():
    """Issue 25: pipeline.py took Finding and problem_line from
    examination/; both live in helpdesk/findings.py, which both stages read.
    Read with ast, late imports inside functions included."""
    import ast
    from pathlib import Path

    import helpdesk.intake

    crossing = []
    for path in sorted(Path(helpdesk.intake.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                target = ("helpdesk" if node.level == 2 else "helpdesk.intake" if node.level == 1 else "") + (
                    f".{node.module}" if node.level and node.module else node.module or "")
                if target == "helpdesk.examination" or target.startswith("helpdesk.examination."):
                    crossing.append(f"{path.name}:{node.lineno} {target}")
    assert crossing == []
