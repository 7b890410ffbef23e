"""An image attachment's ink is measured once (issue 23's backlog: measuring
it twice, for the file and for its page, was 5% of the examination)."""

from __future__ import annotations

import time

from helpdesk.documents import examine as examine_module
from helpdesk.documents import image_quality
from helpdesk.documents.ocr.read import Budget, Options
from helpdesk.rules import load_all

from .test_ocr import form_page, png


def test_an_image_attachments_page_carries_the_ink_measured_for_the_file(monkeypatch):
    measured = []
    measure = image_quality.measure

    def counted(img):
        measured.append(img.size)
        return measure(img)

    monkeypatch.setattr(image_quality, "measure", counted)
    facts = examine_module.examine("formato.png", png(form_page(dpi=150, signed=True)), load_all(),
                                   options=Options(), budget=Budget(time.monotonic() + 60))
    assert facts.reading is not None and facts.reading.pages[0].read
    assert facts.reading.pages[0].ink_ppm == facts.image_ink_ppm > 0
    assert len(measured) == 1
