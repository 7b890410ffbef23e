"""A correction staff write in several paragraphs reaches the entity with
its paragraphs, in the HTML part as in the text part (issue 25, item 10:
`review` lets staff write them, and each reason is one <li>)."""

from __future__ import annotations

from .test_staff import helpdesk, pending

REASON = ("La firma del formato no es legible.\n\n"
          "Envíe de nuevo el acta de posesión, escaneada completa y a color.")


def test_a_correction_in_two_paragraphs_keeps_them_in_the_html_part(embedded, tmp_path):
    radicado = pending(embedded, tmp_path)
    done = helpdesk(embedded, "correct", radicado, "--by", "Ana", "--reason", REASON)
    assert done.returncode == 0, done.stderr
    [correction] = [m for m in embedded.sent() if m["X-Helpdesk-Kind"] == "correction"]
    html = correction.get_body(("html",)).get_content().replace("\r\n", "\n")  # as sent: CRLF lines
    # An <li> collapses line breaks unless told to keep them.
    assert f'<ol>\n<li style="white-space: pre-line">{REASON}</li>\n</ol>' in html
    assert REASON in correction.get_body(("plain",)).get_content().replace("\r\n", "\n")
