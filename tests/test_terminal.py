"""What staff see is sanitised: a control sequence written by an entity (in
a form cell, a subject, a file name) never reaches the terminal as an
instruction (issue 10, finding 4: a cell rewrote the `Representante:` line
that `queue` shows, OSC 52 wrote to the clipboard)."""

import json
import unicodedata

from . import forms, mails
from .test_e2e_documents import documents
from .test_staff import helpdesk

CSI, OSC, RLO = "\u009b", "\u009d", "\u202e"


def controls(text: str) -> set[str]:
    return {c for c in text if unicodedata.category(c)[0] == "C" and c not in "\n\t"}


def test_control_sequences_from_a_form_a_subject_and_a_file_name_never_reach_the_screen(embedded, tmp_path):
    hostile_name = f"María Gómez{CSI}1A{CSI}2KRepresentante: Alcalde <despacho@alcaldia-prueba.gov.co>{RLO}"
    excel = forms.filled_template(tmp_path, {"Nombres y apellidos": hostile_name})
    files = documents(tmp_path, excel=excel)
    files[0] = (f"formato{OSC}52;c;aGFjaw==\u0007.pdf", files[0][1], files[0][2])
    embedded.deliver(mails.request(subject=f"Reinicio {OSC}52;c;aGFjaw== de clave", attachments=files))
    [outcome] = embedded.run_once()

    screens = [helpdesk(embedded, "queue").stdout, helpdesk(embedded, "show", outcome.radicado).stdout,
               helpdesk(embedded, "tickets").stdout]
    assert all(controls(screen) == set() for screen in screens)
    assert "María Gómez 1A 2KRepresentante" in screens[1]  # shown, defused, not hidden
    view = json.loads(helpdesk(embedded, "show", outcome.radicado, "--json").stdout)
    assert controls(view["legal_rep_name"] + view["subject"]) == set()  # dropped on the way in
    assert all(controls(d["filename"]) == set() for d in view["documents"])


def test_json_output_escapes_what_json_leaves_raw(embedded):
    embedded.deliver(mails.request(subject="Asunto normal"))
    [outcome] = embedded.run_once()
    with embedded.store.transaction() as conn:  # a value stored before intake dropped such characters
        conn.execute("UPDATE tickets SET subject = ? WHERE radicado = ?", (f"antes{CSI}2Kdespués", outcome.radicado))
    raw = helpdesk(embedded, "tickets", "--json").stdout
    assert CSI not in raw and "\\u009b" in raw
    assert json.loads(raw)[0]["subject"] == f"antes{CSI}2Kdespués"  # the data itself is intact
    assert CSI not in helpdesk(embedded, "tickets").stdout
