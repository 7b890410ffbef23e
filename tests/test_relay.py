"""The desk is no phishing relay (issue 10, finding 5): an email never
repeats more of what an entity wrote than a short excerpt without links,
and automatic replies stop at a daily cap overall, not only per sender."""

from . import forms, mails
from .conftest import Embedded
from .test_e2e_documents import documents

PHISH = "Su cuenta fue suspendida: verifique en https://banco-falso.example/login o www.falso.co HOY MISMO"


def text_of(msg) -> str:
    return msg.get_body(("plain",)).get_content() + msg["Subject"]


def test_the_ack_does_not_relay_a_spam_subject_to_a_reply_to_victim(embedded):
    victim = {"Reply-To": "victima@alcaldia-prueba.gov.co"}
    embedded.deliver(mails.request(subject=PHISH + " " + "x" * 300, headers=victim))
    embedded.run_once()
    [ack] = embedded.acks()
    assert "banco-falso" not in text_of(ack) and "falso.co" not in text_of(ack)
    echoed = ack["Subject"].split("Solicitud recibida: ", 1)[1]
    assert echoed.startswith("Su cuenta fue suspendida") and len(echoed) <= 60


def test_a_correction_quotes_a_cell_only_as_a_short_excerpt_without_links(embedded, tmp_path):
    excel = forms.filled_template(tmp_path, {"NIT": PHISH + " " + "y" * 500})
    embedded.deliver(mails.request(attachments=documents(tmp_path, excel=excel)))
    embedded.run_once()
    correction = [m for m in embedded.sent() if m["X-Helpdesk-Kind"] == "correction"][-1]
    body = text_of(correction)
    assert "NIT" in body and "Su cuenta fue suspendida" in body
    assert "banco-falso" not in body and "www.falso" not in body and "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy" not in body


def test_automatic_replies_stop_at_the_overall_daily_cap(tmp_path):
    env = Embedded(tmp_path, replies={"daily_cap_total": 3})
    try:
        for n in range(4):
            env.deliver(mails.request(sender=f"u{n}@alcaldia-prueba.gov.co"))
        env.run_once()
        # Acks come first (a backlog is acknowledged before examination):
        # three go out, then nothing more today, to anybody.
        assert env.kinds() == ["ack", "ack", "ack"]
        flagged = env.store.query("SELECT radicado FROM tickets WHERE follow_up = 1")
        assert len(flagged) == 4  # every request left unanswered waits for a person
        detail = env.store.one("SELECT detail FROM findings WHERE code = 'reply_cap_reached'")["detail"]
        assert "en total" in detail
    finally:
        env.daemon.close()
        env.store.close()
