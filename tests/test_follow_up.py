"""Nothing waits unseen: every message a person wrote that no automatic rule
answered flags its ticket for staff, on any state; staff read what was
written, answer it (reply), reopen a closed ticket, and see the messages
that opened no ticket (ignored) and the ones that failed (failed)."""

import email
import email.policy
import json
import os
import re
import sqlite3
from datetime import datetime, timezone

from helpdesk import texts
from helpdesk.staff import views
from helpdesk.store import Store

from . import mails
from .conftest import Embedded
from .test_e2e_documents import documents
from .test_migrations import build
from .test_staff import helpdesk, pending


def ticket_row(env: Embedded, radicado: str):
    return env.store.one("SELECT * FROM tickets WHERE radicado = ?", (radicado,))


def reply_with(env: Embedded, ours: bytes, body: str = "Respuesta de la entidad.", attachments=(), html: str = ""):
    """The entity answers one of our emails; the daemon takes it in. Returns its Message-ID."""
    raw = mails.reply_to(ours, body=body, attachments=attachments, html=html)
    env.deliver(raw)
    env.run_once()
    return email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"].strip("<>")


def queue_json(env: Embedded) -> list[dict]:
    return json.loads(helpdesk(env, "queue", "--json").stdout)


def correction_ticket(env: Embedded) -> str:
    env.deliver(mails.request(body="Buenos días, necesitamos reiniciar la clave."))
    [outcome] = env.run_once()
    assert ticket_row(env, outcome.radicado)["state"] == "needs_correction"
    return outcome.radicado


def test_a_second_reply_without_documents_waits_for_a_person(embedded):
    radicado = correction_ticket(embedded)
    reply_with(embedded, embedded.sent_raw()[-1], "Ya les enviamos todo la semana pasada.")
    assert embedded.kinds() == ["ack", "correction", "correction"]  # the one reminder
    assert not ticket_row(embedded, radicado)["follow_up"]
    reply_with(embedded, embedded.sent_raw()[-1], "¿Por qué no nos responden? Llamen al 3001234567.")
    assert embedded.kinds() == ["ack", "correction", "correction"]  # no automatic answer any more
    assert ticket_row(embedded, radicado)["follow_up"] == 1
    [item] = queue_json(embedded)
    assert item["radicado"] == radicado and item["follow_up"] is True and item["state"] == "needs_correction"
    assert "¿Por qué no nos responden?" in item["new_messages"][-1]["text"]
    assert "¿Por qué no nos responden?" in helpdesk(embedded, "queue").stdout


def test_follow_up_on_a_pending_ticket_is_listed_with_its_text(embedded, tmp_path):
    radicado = pending(embedded, tmp_path)
    reply_with(embedded, embedded.sent_raw()[-1], "Cambió el alcalde: el acta nueva llega mañana.")
    [item] = queue_json(embedded)
    assert item["radicado"] == radicado and item["follow_up"] is True and item["state"] == "pending_approval"
    assert item["new_messages"][0]["text"] == "Cambió el alcalde: el acta nueva llega mañana."
    out = helpdesk(embedded, "queue").stdout
    assert "MENSAJE NUEVO DEL SOLICITANTE" in out and "el acta nueva llega mañana" in out
    assert [t["follow_up"] for t in json.loads(helpdesk(embedded, "tickets", "--json").stdout)] == [True]


def test_messages_on_resolved_and_rejected_tickets_wait_for_a_person(embedded, tmp_path):
    resolved = pending(embedded, tmp_path)
    assert helpdesk(embedded, "approve", resolved, "--by", "Ana", "--yes").returncode == 0
    rejected = pending(embedded, tmp_path)
    assert helpdesk(embedded, "reject", rejected, "--by", "Ana", "--reason", "El acta no es de la entidad").returncode == 0
    assert queue_json(embedded) == []
    sent = dict(zip(embedded.kinds(), embedded.sent_raw()))
    reply_with(embedded, sent["reset"], "La clave no funciona.")
    reply_with(embedded, sent["rejected"], "Adjuntamos el acta correcta.",
               attachments=documents(tmp_path, with_form=False)[1:])
    waiting = {t["radicado"]: t for t in queue_json(embedded)}
    assert set(waiting) == {resolved, rejected}
    assert waiting[resolved]["state"] == "resolved" and waiting[rejected]["state"] == "rejected"
    assert embedded.kinds().count("correction") == 0 and embedded.kinds()[-1] == "rejected"  # nothing automatic


def test_a_request_past_the_daily_cap_gets_no_ack_but_waits_for_a_person(tmp_path):
    env = Embedded(tmp_path, replies={"daily_cap_per_sender": 1})
    try:
        env.deliver(mails.request(subject="Primera"))
        env.run_once()
        env.deliver(mails.request(subject="Segunda, con urgencia"))
        [outcome] = env.run_once()
        assert env.kinds() == ["ack"]
        assert ticket_row(env, outcome.radicado)["follow_up"] == 1
        assert outcome.radicado in {t["radicado"] for t in queue_json(env)}
    finally:
        env.daemon.close()
        env.store.close()


def test_reply_answers_the_entity_threaded_audited_and_clears_the_flag(embedded, tmp_path):
    radicado = pending(embedded, tmp_path)
    theirs = reply_with(embedded, embedded.sent_raw()[-1], "¿Cuándo nos responden?")
    result = helpdesk(embedded, "reply", radicado, "--by", "Ana Pérez", "--message", "Esta semana.\nGracias.")
    assert result.returncode == 0, result.stderr
    answer = embedded.sent()[-1]
    assert answer["X-Helpdesk-Kind"] == "reply" and answer["To"] == mails.ENTITY
    assert answer["In-Reply-To"] == f"<{theirs}>" and f"[Radicado {radicado}]" in answer["Subject"]
    assert answer["Auto-Submitted"] is None  # a person wrote it (RFC 3834)
    assert "Esta semana.\nGracias." in answer.get_body(("plain",)).get_content().replace("\r\n", "\n")
    row = ticket_row(embedded, radicado)
    assert row["follow_up"] == 0 and row["state"] == "pending_approval"
    events = json.loads(helpdesk(embedded, "show", radicado, "--json").stdout)["events"]
    assert any(e["action"] == "respuesta del equipo" and "Ana Pérez" in e["actor"] for e in events)
    assert [t["follow_up"] for t in queue_json(embedded)] == [False]


def test_reply_without_text_is_refused(embedded, tmp_path):
    radicado = pending(embedded, tmp_path)
    result = helpdesk(embedded, "reply", radicado, "--by", "Ana", "--message", "   ")
    assert result.returncode == 1 and "--message" in result.stderr and "Traceback" not in result.stderr


def test_reopen_examines_a_rejected_ticket_again_with_its_new_documents(embedded, tmp_path):
    radicado = correction_ticket(embedded)
    assert helpdesk(embedded, "reject", radicado, "--by", "Ana", "--reason", "Faltan documentos").returncode == 0
    reply_with(embedded, embedded.sent_raw()[-1], "Ahora sí van completos.", attachments=documents(tmp_path))
    assert ticket_row(embedded, radicado)["state"] == "rejected" and ticket_row(embedded, radicado)["follow_up"] == 1
    refused = helpdesk(embedded, "reopen", "GEL-2026-999999", "--by", "Ana")
    assert refused.returncode == 1 and "no existe" in refused.stderr
    result = helpdesk(embedded, "reopen", radicado, "--by", "Ana")
    assert result.returncode == 0, result.stderr
    embedded.run_once()
    row = ticket_row(embedded, radicado)
    assert row["state"] == "pending_approval" and row["follow_up"] == 0
    assert embedded.kinds()[-1] == "accepted"
    again = helpdesk(embedded, "reopen", radicado, "--by", "Ana")
    assert again.returncode == 1 and "reabrir" in again.stderr and "Traceback" not in again.stderr


def test_show_prints_what_each_inbound_message_says(embedded, tmp_path):
    radicado = pending(embedded, tmp_path)
    reply_with(embedded, embedded.sent_raw()[-1],
               html="<html><head><style>p {color: red}</style></head><body><p>Hola,&nbsp;equipo</p>"
                    "<p>El acta \x1b[2Kestá <b>firmada</b>.</p><script>alert(1)</script></body></html>")
    view = json.loads(helpdesk(embedded, "show", radicado, "--json").stdout)
    inbound = [m for m in view["messages"] if m["direction"] == "in"]
    assert inbound[0]["text"] == "Adjunto los documentos."
    assert inbound[1]["text"] == "Hola, equipo\n\nEl acta \ufffd[2Kestá firmada."  # HTML as text, escape defused
    assert all("text" not in m for m in view["messages"] if m["direction"] == "out")
    out = helpdesk(embedded, "show", radicado).stdout
    assert "| Adjunto los documentos." in out and "\x1b" not in out


def test_ignored_lists_messages_that_opened_no_ticket_with_why(embedded):
    two_from = with_from(mails.request(subject="Clave del alcalde"), f"{mails.ENTITY}, otro@alcaldia-prueba.gov.co")
    no_sender = with_from(mails.request(subject="Sin remitente"), "alcaldia")
    # An address written as the display name is still no second address.
    named = with_from(mails.request(subject="Nombre con arroba"), f'"{mails.ENTITY}" <alcaldia>')
    out_of_office = mails.request(subject="Fuera de oficina", headers={"Auto-Submitted": "auto-replied"})
    for raw in (two_from, no_sender, named, out_of_office):
        embedded.deliver(raw)
    embedded.run_once()
    assert embedded.count("SELECT count(*) FROM tickets") == 0 and embedded.kinds() == []
    rows = {r["subject"]: r for r in json.loads(helpdesk(embedded, "ignored", "--json").stdout)}
    assert rows["Clave del alcalde"]["reason"] == "several_senders"
    assert "otro@alcaldia-prueba.gov.co" in rows["Clave del alcalde"]["from"]
    assert rows["Sin remitente"]["reason"] == "no_sender" and rows["Sin remitente"]["from"] == "alcaldia"
    assert rows["Nombre con arroba"]["reason"] == "no_sender"
    assert rows["Fuera de oficina"]["reason"] == "auto_reply"
    # Robots proper are listed too, marked; what a person may have written is not.
    assert {subject: r["automatic"] for subject, r in rows.items()} == {
        "Clave del alcalde": False, "Sin remitente": False, "Nombre con arroba": False, "Fuera de oficina": True}
    out = helpdesk(embedded, "ignored").stdout
    assert "varias direcciones en el remitente" in out and "Asunto: Sin remitente" in out
    lines = out.splitlines()
    [marked] = [n for n, line in enumerate(lines) if "(automático)" in line]
    assert lines[marked + 1].strip() == "Asunto: Fuera de oficina"


def test_failed_shows_sender_subject_and_date(tmp_path):
    from .test_store import broken_templates

    env = Embedded(tmp_path, replies={"templates": str(broken_templates(tmp_path))})
    try:
        env.deliver(mails.request(subject="Reinicio urgente \x1b]52;c;aGFjaw==\x07 de clave"))
        assert helpdesk(env, "run", "--once").returncode == 0
        [item] = json.loads(helpdesk(env, "failed", "--json").stdout)
        assert item["sender"] == mails.ENTITY and item["date"]
        assert item["subject"].startswith("Reinicio urgente") and "\x1b" not in item["subject"]
        out = helpdesk(env, "failed").stdout
        assert f"De: {mails.ENTITY}" in out and "Asunto: Reinicio urgente" in out and "Fecha: " in out
        assert "\x1b" not in out and "\x07" not in out
    finally:
        env.daemon.close()
        env.store.close()


def with_from(raw: bytes, from_value: str) -> bytes:
    """The same message with another From header, as a client wrote it."""
    return raw.replace(f"From: {mails.ENTITY}".encode(), f"From: {from_value}".encode(), 1)


def test_a_message_while_the_documents_are_examined_stays_shown_after_the_verdict(embedded):
    # Both arrive in one batch: the second joins the ticket while it is
    # still "received" (by its subject tag, from the same sender).
    year = datetime.now(timezone.utc).year
    embedded.deliver(mails.request(body="Buenos días, necesitamos reiniciar la clave."))
    embedded.deliver(mails.request(subject=f"[Radicado GEL-{year}-000001] Una cosa más",
                                   body="La cuenta es alcalde@alcaldia-prueba.gov.co, no la del formato."))
    assert [o.action for o in embedded.run_once()] == ["new_ticket", "joined"]
    assert embedded.kinds() == ["ack", "correction"]  # the verdict went out after the message
    [item] = queue_json(embedded)
    assert item["state"] == "needs_correction" and item["follow_up"] is True
    # The automatic correction answered the documents, not what was written.
    assert [m["text"] for m in item["new_messages"]] == ["La cuenta es alcalde@alcaldia-prueba.gov.co, no la del formato."]


def test_a_verdict_held_back_by_the_cap_shows_the_request_in_the_queue(tmp_path):
    env = Embedded(tmp_path, replies={"daily_cap_per_sender": 1})
    try:
        env.deliver(mails.request(body="Necesitamos la clave del alcalde hoy mismo."))
        env.run_once()
        assert env.kinds() == ["ack"]  # the correction stayed unsent
        [item] = queue_json(env)
        assert item["follow_up"] is True and item["state"] == "needs_correction"
        assert [m["text"] for m in item["new_messages"]] == ["Necesitamos la clave del alcalde hoy mismo."]
    finally:
        env.daemon.close()
        env.store.close()


def test_a_reply_with_two_from_addresses_waits_for_a_person(embedded, tmp_path):
    radicado = pending(embedded, tmp_path)
    raw = mails.reply_to(embedded.sent_raw()[-1], body="Firmamos los dos: el alcalde y sistemas.")
    embedded.deliver(with_from(raw, f"{mails.ENTITY}, alcalde@alcaldia-prueba.gov.co"))
    [outcome] = embedded.run_once()
    assert outcome.action == "joined" and outcome.radicado == radicado
    assert embedded.kinds() == ["ack", "accepted"]  # nobody to answer automatically
    [item] = queue_json(embedded)
    assert item["follow_up"] is True
    [message] = item["new_messages"]
    assert message["text"] == "Firmamos los dos: el alcalde y sistemas." and "alcalde@" in message["from"]
    events = json.loads(helpdesk(embedded, "show", radicado, "--json").stdout)["events"]
    assert events[-1]["action"] == "mensaje para el equipo" and "sin un remitente" in events[-1]["detail"]
    assert not any(e["action"] == "mensaje automático recibido" for e in events)
    # A person answers; the next message is the only one waiting.
    assert helpdesk(embedded, "reply", radicado, "--by", "Ana", "--message", "Recibido.").returncode == 0
    assert ticket_row(embedded, radicado)["follow_up"] == 0
    reply_with(embedded, embedded.sent_raw()[-1], "Gracias, quedamos atentos.")
    assert [m["text"] for m in queue_json(embedded)[0]["new_messages"]] == ["Gracias, quedamos atentos."]


def test_a_reply_too_large_to_read_gets_no_reminder_and_waits(tmp_path):
    env = Embedded(tmp_path, limits={"max_message_bytes": 200_000})
    try:
        radicado = correction_ticket(env)
        big = [("acta escaneada.pdf", os.urandom(300_000), "application/pdf")]
        reply_with(env, env.sent_raw()[-1], "Van los documentos.", attachments=big)
        assert env.kinds() == ["ack", "correction"]  # not "you sent no attachments"
        row = ticket_row(env, radicado)
        assert row["follow_up"] == 1 and row["state"] == "needs_correction"
        codes = [w["code"] for w in json.loads(helpdesk(env, "show", radicado, "--json").stdout)["warnings"]]
        assert "message_too_large" in codes
        [item] = queue_json(env)
        assert [m["text"] for m in item["new_messages"]] == [texts.HEADERS_ONLY]
    finally:
        env.daemon.close()
        env.store.close()


def test_the_queue_shows_the_newest_waiting_messages_and_counts_the_rest(embedded, tmp_path):
    radicado = pending(embedded, tmp_path)
    ours = embedded.sent_raw()[-1]
    extra = views.MAX_NEW_MESSAGES + 2
    for n in range(1, extra + 1):
        embedded.deliver(mails.reply_to(ours, body=f"Mensaje número {n}."))
    embedded.run_once()
    [item] = queue_json(embedded)
    assert item["new_messages_total"] == extra
    assert [m["text"] for m in item["new_messages"]] == [
        f"Mensaje número {n}." for n in range(3, extra + 1)]
    shown = helpdesk(embedded, "queue").stdout.splitlines()
    assert f"  (2 mensajes anteriores sin responder: vea helpdesk show {radicado})" in shown


def test_migration_keeps_what_an_older_flagged_ticket_waits_for(tmp_path):
    db = tmp_path / "helpdesk.db"
    build(db, 9)  # the version before follow_up_since
    conn = sqlite3.connect(db, isolation_level=None)
    for number, flagged in ((11, 1), (12, 1), (13, 0)):
        conn.execute("INSERT INTO tickets(id, radicado, state, sender, requester, subject, created_at, updated_at, "
                     "follow_up) VALUES (?, ?, 'pending_approval', 'a@b.gov.co', 'a@b.gov.co', 's', '2026-01-01T00:00:00+00:00', "
                     "'2026-01-01T00:00:00+00:00', ?)", (number, f"GEL-2026-0000{number}", flagged))
    thread = {11: ["in:request", "out:ack", "in:reply", "in:reply"], 12: ["in:request", "out:ack"], 13: ["in:request"]}
    for ticket, rows in thread.items():
        for shape in rows:
            direction, kind = shape.split(":")
            conn.execute("INSERT INTO messages(direction, ticket_id, kind, at) VALUES (?, ?, ?, '2026-01-01')",
                         (direction, ticket, kind))
    conn.close()
    store = Store(db, tmp_path / "raw")
    try:
        since = {r["id"]: r["follow_up_since"] for r in store.query("SELECT id, follow_up_since FROM tickets "
                                                                    "WHERE id > 10")}
        first_reply = store.one("SELECT min(id) FROM messages WHERE ticket_id = 11 AND kind = 'reply'")[0]
        request = store.one("SELECT id FROM messages WHERE ticket_id = 12 AND kind = 'request'")[0]
        # Waiting since the first message after our last email, else the latest one.
        assert since == {11: first_reply, 12: request, 13: None}
        waiting = {t["radicado"]: len(t["new_messages"]) for t in views.queue(store)}
        assert waiting == {"GEL-2026-000011": 2, "GEL-2026-000012": 1, "GEL-2026-000013": 0}
    finally:
        store.close()


def test_a_message_with_two_from_fields_opens_no_ticket_and_is_listed_with_both(embedded):
    # RFC 5322 allows one From: with two, staff would read one address and
    # the credentials' thread could follow the other. Neither is trusted.
    raw = mails.request(subject="Dos remitentes")
    raw = raw.replace(b"From: ", b"From: atacante@gmail.com\nFrom: ", 1)
    # A second Reply-To alone is not trusted either: answers go to From.
    two_reply_to = mails.request(subject="Dos Reply-To", headers={"Reply-To": "atacante@gmail.com"})
    two_reply_to = two_reply_to.replace(b"Reply-To: ", b"Reply-To: otro@gmail.com\nReply-To: ", 1)
    embedded.deliver(raw)
    embedded.deliver(two_reply_to)
    embedded.run_once()
    [ticket] = embedded.store.query("SELECT subject, requester FROM tickets")
    assert (ticket["subject"], ticket["requester"]) == ("Dos Reply-To", mails.ENTITY)
    assert [m["To"] for m in embedded.acks()] == [mails.ENTITY]
    [row] = [r for r in json.loads(helpdesk(embedded, "ignored", "--json").stdout) if r["subject"] == "Dos remitentes"]
    assert row["reason"] == "several_senders"
    assert "atacante@gmail.com" in row["from"] and mails.ENTITY in row["from"]


# -- a first message that is a question (issue 25, item 6) -------------------

QUESTION_HEAD = re.compile(
    r"Cordial saludo:\n\nHemos recibido su mensaje\. Su número de radicado de atención es:\n\n    (?P<radicado>\S+)\n\n"
    r"Consérvelo y menciónelo si vuelve a escribirnos sobre este asunto\. Una persona de nuestro equipo lo leerá y "
    r"le responderá por este medio a más tardar el \d{1,2} de [a-z]+ de \d{4}, 15 días hábiles después de su "
    r"recepción\. No es necesario que escriba de nuevo\.\n\nSi lo que desea es presentar una solicitud, responda a "
    r"este mensaje sin cambiar el asunto con los datos y los documentos que pide el trámite\.\n\n"
    r"Recuerde: para cambiar la clave de una cuenta de correo electrónico, el primer paso es la recuperación que "
    r"ofrece el proveedor del correo \(los pasos publicados por Google\)\. Esta solicitud es para los casos en que "
    r"ese proceso no permite cambiar la contraseña o la entidad necesita una clave nueva de correo o de usuario de "
    r"página web; si ya recuperó el acceso por ese medio, avísenos respondiendo a este mensaje\.\n\n"
    r"Este es un mensaje automático\.\n")


def question(env: Embedded) -> str:
    env.deliver(mails.request(subject="Consulta", body="¿Me pueden llamar?\n\nPedro Gómez\nAlcaldía de Guacarí"))
    [outcome] = env.run_once()
    assert (outcome.action, outcome.reason, outcome.replies) == ("new_ticket", "pregunta", ["ack"])
    return outcome.radicado


def test_a_first_message_that_only_asks_waits_for_a_person_with_an_ack_that_says_so(embedded):
    """Pedro's «¿Me pueden llamar?» got the reset's ack and a correction
    listing three documents; now a person answers it, and queue shows it at once."""
    radicado = question(embedded)

    assert embedded.kinds() == ["ack"]  # no correction: nothing was examined
    row = ticket_row(embedded, radicado)
    assert (row["state"], row["follow_up"], row["examine_pending"]) == ("received", 1, 0)
    [ack] = embedded.sent()
    assert ack["Subject"] == f"[Radicado {radicado}] Mensaje recibido: Consulta"
    assert ack["Auto-Submitted"] == "auto-replied"
    text = ack.get_body(("plain",)).get_content().replace("\r\n", "\n")  # as sent: CRLF
    head = text.split("\nSi tiene alguna inquietud", 1)[0]  # the footer is every email's (test_emails)
    match = QUESTION_HEAD.fullmatch(head)
    assert match and match["radicado"] == radicado, head
    html = ack.get_body(("html",)).get_content()
    assert "Una persona de nuestro equipo lo leerá" in html and "solicitud de reinicio" not in html
    [item] = queue_json(embedded)
    assert (item["radicado"], item["follow_up"], item["state"]) == (radicado, True, "received")
    assert [m["text"] for m in item["new_messages"]] == ["¿Me pueden llamar?\n\nPedro Gómez\nAlcaldía de Guacarí"]


def test_a_second_message_after_a_question_gets_no_automatic_reminder(embedded):
    radicado = question(embedded)

    reply_with(embedded, embedded.sent_raw()[-1], "¿Me llaman hoy? Es urgente.")

    assert embedded.kinds() == ["ack"]
    [item] = queue_json(embedded)
    assert item["radicado"] == radicado
    assert [m["text"] for m in item["new_messages"]] == [
        "¿Me pueden llamar?\n\nPedro Gómez\nAlcaldía de Guacarí", "¿Me llaman hoy? Es urgente."]


def test_a_staff_reply_answers_a_question_and_closes_it(embedded):
    # A question is never examined, so nothing else would ever move it out
    # of «recibida»: its legal term would run on and it would count as open.
    radicado = question(embedded)
    assert "helpdesk reply" in helpdesk(embedded, "show", radicado).stdout.split("Siguiente:")[-1]

    done = helpdesk(embedded, "reply", radicado, "--by", "ana", "--message", "Lo llamamos hoy a las 3 p. m.")

    assert done.returncode == 0, done.stderr
    row = ticket_row(embedded, radicado)
    assert (row["state"], row["follow_up"]) == ("resolved", 0)
    assert queue_json(embedded) == []
    actions = [r["action"] for r in embedded.store.query(
        "SELECT action FROM events WHERE ticket_id = ? ORDER BY id", (row["id"],))]
    assert actions[-2:] == ["respuesta del equipo", "pregunta respondida"]
    # The entity writes again: a person sees it, on the resolved ticket.
    reply_with(embedded, embedded.sent_raw()[-1], "Gracias, ¿y si no contesto?")
    [item] = queue_json(embedded)
    assert (item["radicado"], item["state"]) == (radicado, "resolved")


def test_a_staff_reply_to_a_request_being_examined_does_not_close_it(embedded, tmp_path):
    embedded.deliver(mails.request(attachments=documents(tmp_path)))
    embedded.daemon.examiner = None  # acknowledged, its documents not yet examined
    [outcome] = [embedded.daemon.handle(incoming) for incoming in embedded.daemon.source.fetch()]

    helpdesk(embedded, "reply", outcome.radicado, "--by", "ana", "--message", "Estamos revisando.")

    row = ticket_row(embedded, outcome.radicado)
    assert (row["state"], row["examine_pending"]) == ("received", 1)


def test_documents_sent_after_a_question_are_examined(embedded, tmp_path):
    radicado = question(embedded)

    reply_with(embedded, embedded.sent_raw()[-1], "Adjunto el acta.",
               attachments=documents(tmp_path, with_form=False)[1:])

    assert embedded.kinds() == ["ack", "correction"]
    assert ticket_row(embedded, radicado)["state"] == "needs_correction"
    correction = embedded.sent()[-1].get_body(("plain",)).get_content()
    assert "Falta el formato de solicitud firmado por el representante legal y escaneado" in correction
    assert "Falta el formato de solicitud en Excel" in correction and "Falta la copia del acta" not in correction


def test_a_question_waits_while_incomplete_requests_get_their_correction_at_once(embedded):
    """Both errors at once: the question must not get a correction, and a
    municipality that forgot the files, or asks for the reset in words, must
    not wait for a person to learn what is missing."""
    embedded.deliver(mails.request(subject="Solicitud de reinicio de clave", body="Adjunto el formato."))
    embedded.deliver(mails.request(subject="Consulta", body="¿Cuánto se demora el trámite?"))
    embedded.deliver(mails.request(subject="Reinicio de clave", body="Solicito el reinicio de la clave de la alcaldía."))

    adjunto, consulta, solicito = embedded.run_once()

    assert [(o.action, o.reason) for o in (adjunto, consulta, solicito)] == [
        ("new_ticket", ""), ("new_ticket", "pregunta"), ("new_ticket", "")]
    assert sorted(embedded.kinds()) == ["ack", "ack", "ack", "correction", "correction"]
    states = {o.radicado: (ticket_row(embedded, o.radicado)["state"], ticket_row(embedded, o.radicado)["follow_up"])
              for o in (adjunto, consulta, solicito)}
    assert states == {adjunto.radicado: ("needs_correction", 0), consulta.radicado: ("received", 1),
                      solicito.radicado: ("needs_correction", 0)}
    subjects = sorted(ack["Subject"] for ack in embedded.acks())
    assert subjects == sorted([f"[Radicado {adjunto.radicado}] Solicitud recibida: Solicitud de reinicio de clave",
                               f"[Radicado {consulta.radicado}] Mensaje recibido: Consulta",
                               f"[Radicado {solicito.radicado}] Solicitud recibida: Reinicio de clave"])
    assert [item["radicado"] for item in queue_json(embedded)] == [consulta.radicado]
