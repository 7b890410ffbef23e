"""OCR of scans in the document worker (issue 23, CONTRACT 11): real
Tesseract (tesserocr and Debian's Spanish data) on page images drawn here
with Pillow and a DejaVu font, deterministic and small (half an A4 page at
150-200 dpi), each read once and shared by the tests that judge it."""

from __future__ import annotations

import io
import math

import pytest

from helpdesk.config import DocumentsConfig
from helpdesk.documents.ocr import rasterise
from helpdesk.documents.ocr.engine import TESSDATA_ENV
from helpdesk.documents.ocr.read import Budget, Options, read_image, read_pdf
from helpdesk.documents.worker import Worker
from helpdesk.rules import load_all

from .conftest import embedded_sections, run_helpdesk, write_config

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
LINES = ["FORMATO DE SOLICITUD DE RESTABLECIMIENTO", "Datos del representante legal",
         "Nombre: María Fernanda López Gómez", "Cargo: Alcaldesa municipal",
         "Entidad: Alcaldía de Santa Rosa de Osos", "NIT: 890.981.391-9",
         "Cuentas a las que se solicita el restablecimiento", "contacto@santarosadeosos.gov.co"]


def form_page(dpi: int = 200, signed: bool = False, label: str = "Firma del representante legal"):
    """The top half of a signed form as scanned: grey paper, text, a line to sign
    on with its label under it, and a handwritten-like stroke over the line."""
    from PIL import Image, ImageDraw, ImageFont

    width, height = round(8.27 * dpi), round(5.8 * dpi)
    page = Image.new("L", (width, height), 236)
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(FONT, round(dpi * 11 / 72))
    for n, line in enumerate(LINES):
        draw.text((dpi, dpi // 2 + n * round(dpi * 0.28)), line, fill=30, font=font)
    line_y = height - dpi
    draw.line((dpi, line_y, round(3.8 * dpi), line_y), fill=30, width=max(2, dpi // 70))
    draw.text((dpi, line_y + dpi // 20), label, fill=30, font=font)
    if signed:  # a scribble: a few loops of a pen above the line
        points = [(dpi * (1.3 + t / 90), line_y - dpi * (0.25 + 0.18 * math.sin(t / 6.0) * math.cos(t / 17.0)))
                  for t in range(0, 180)]
        draw.line(points, fill=15, width=max(2, dpi // 60), joint="curve")
    return page


def png(image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def pdf_of(image, dpi: int, rotate: int = 0) -> bytes:
    """The image as a scanner's PDF page; ``rotate``: the page's /Rotate, the
    image stored turned counter-clockwise so the page, turned clockwise
    when shown, shows it upright."""
    out = io.BytesIO()
    image.rotate(rotate, expand=True).save(out, "PDF", resolution=float(dpi)) if rotate else \
        image.save(out, "PDF", resolution=float(dpi))
    if not rotate:
        return out.getvalue()
    import pypdf

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(out.getvalue())))
    writer.pages[0].rotate(rotate)
    turned = io.BytesIO()
    writer.write(turned)
    return turned.getvalue()


def budget() -> Budget:
    import time

    return Budget(time.monotonic() + 60)


@pytest.fixture(scope="module")
def upright():
    return read_image(png(form_page()), Options(), budget(), 60_000_000)


@pytest.fixture(scope="module")
def signed_and_unsigned():
    return (read_image(png(form_page(signed=True)), Options(), budget(), 60_000_000),
            read_image(png(form_page(signed=False)), Options(), budget(), 60_000_000))


def test_an_upright_scan_is_read_with_its_words_boxes_and_confidence(upright):
    assert upright.engine.startswith("tesseract 5") and upright.engine.endswith("(spa)")
    assert upright.pages_read == 1 and upright.pages[0].read and upright.pages[0].rotation == 0
    assert upright.confidence >= 80
    # Spanish data: the accents are read, not just the letters.
    assert "María Fernanda López Gómez" in upright.text and "890.981.391-9" in upright.text
    nit = next(w for w in upright.words if w.text == "890.981.391-9")
    x0, y0, x1, y1 = nit.box
    assert 0 < x0 < x1 and 0 < y0 < y1 < upright.pages[0].height and nit.confidence >= 80


def test_an_upside_down_scan_is_turned_and_read():
    reading = read_image(png(form_page(dpi=150).rotate(180)), Options(), budget(), 60_000_000)
    assert reading.pages[0].rotation == 180 and reading.pages[0].read
    assert "Datos del representante legal" in reading.text
    assert reading.signature.found  # the label is found on the page as turned upright


def test_an_upside_down_scan_is_read_by_the_half_turn_without_asking_osd(monkeypatch):
    """A sheet fed upside down reads at 21-45 upright: read turned half round
    at once, where OSD cost as long as a second reading."""
    from helpdesk.documents.ocr import engine as engine_mod

    monkeypatch.setattr(engine_mod, "_engines", {})  # this process's engine made afresh
    reading = read_image(png(form_page(dpi=150).rotate(180)), Options(), budget(), 60_000_000)
    assert reading.pages[0].rotation == 180 and reading.pages[0].read and reading.confidence >= 80
    assert engine_mod.engine()._orienter_tried is False


@pytest.mark.parametrize("seed", [2019, 2104])
def test_an_upside_down_scan_osd_took_for_upright_is_read(seed):
    """Generated scans (a shadow, a slight skew, blur) that OSD called upright
    (0 degrees), so they were left unread at 21-31."""
    from . import scans

    form = scans.request(seed).form
    assert form.capture.upside_down
    reading = read_image(form.data, Options(), budget(), 60_000_000)
    assert reading.pages[0].read and reading.pages[0].rotation == 180 and reading.confidence >= 80


@pytest.mark.parametrize("lying", [90, 270])
def test_a_scan_on_its_side_is_stood_up_whichever_way_it_lies(lying):
    """Tesseract reads a page on its side well one way of the two, with the
    boxes of the page as it lies; the page is stood up, so its signature
    label's line is found (it was not, lying at 270)."""
    reading = read_image(png(form_page(dpi=150).rotate(lying, expand=True)), Options(), budget(), 60_000_000)
    page = reading.pages[0]
    assert page.read and page.rotation == (360 - lying) % 360 and page.width > page.height
    assert reading.signature.found and reading.signature.label == "Firma del representante legal"
    nit = next(w for w in reading.words if w.text == "890.981.391-9")
    assert nit.box[2] - nit.box[0] > nit.box[3] - nit.box[1]  # a word wider than tall: upright


def tiny_print_page():
    """A page no one reads well either way up: 5-point print on grainy paper."""
    import random

    from PIL import Image, ImageDraw

    rng = random.Random(7)
    page = Image.frombytes("L", (1240, 1754), bytes(200 + rng.randrange(56) for _ in range(1240 * 1754)))
    draw = ImageDraw.Draw(page)
    for n in range(40):
        draw.text((100, 120 + 35 * n), f"ACTA DE POSESIÓN — línea {n} del documento escaneado", fill=30)
    return page


def test_the_orientation_model_is_loaded_only_for_a_page_read_badly_both_ways_up(monkeypatch):
    """OSD's model (10 MB, 0.08 s of CPU) was loaded by every worker that read
    a scan, though an upright page never needs it, and an upside-down one
    is read by the half turn."""
    from helpdesk.documents.ocr import engine as engine_mod

    monkeypatch.setattr(engine_mod, "_engines", {})  # this process's engine made afresh
    for page in (form_page(dpi=150), form_page(dpi=150).rotate(180)):
        assert read_image(png(page), Options(), budget(), 60_000_000).pages[0].read
    made = engine_mod.engine()
    assert made._orienter_tried is False and made._orienter is None
    reading = read_image(png(tiny_print_page()), Options(), budget(), 60_000_000)
    assert not reading.pages[0].read and "confianza" in reading.pages[0].reason
    assert made._orienter is not None


def test_a_pdf_page_that_is_one_image_is_taken_as_stored_and_another_is_rendered():
    import pypdf
    import pypdfium2

    image = form_page(dpi=150)
    plain, turned = pdf_of(image, 150), pdf_of(image, 150, rotate=90)
    how = [rasterise.pdf_page(pypdf.PdfReader(io.BytesIO(data)), lambda d=data: pypdfium2.PdfDocument(d), 0).how
           for data in (plain, turned)]
    assert how == ["imagen", "render"]  # /Rotate: pdfium draws the page as it is shown
    for data in (plain, turned):
        reading = read_pdf(data, [0], Options(), budget())
        assert reading.pages[0].read and reading.pages[0].rotation == 0
        assert "Cuentas a las que se solicita" in reading.text


def test_ink_over_the_signature_line_is_measured_and_an_empty_line_is_not(signed_and_unsigned):
    signed, unsigned = signed_and_unsigned
    assert signed.signature.found and unsigned.signature.found
    assert signed.signature.label == unsigned.signature.label == "Firma del representante legal"
    # The printed line and label are not ink; the scribble is.
    assert unsigned.signature.ink_ppm < 1_000
    assert signed.signature.ink_ppm > 20 * max(unsigned.signature.ink_ppm, 500)


def stamped_page(dpi: int = 150):
    """The unsigned form with a round stamp pressed over its label."""
    from PIL import ImageDraw, ImageFont

    page = form_page(dpi=dpi)
    draw = ImageDraw.Draw(page)
    cx, cy, r = round(2.3 * dpi), page.height - dpi, round(0.45 * dpi)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=40, width=3)
    draw.ellipse((cx - r + 6, cy - r + 6, cx + r - 6, cy + r - 6), outline=40, width=2)
    font = ImageFont.truetype(FONT.replace("DejaVuSans", "DejaVuSans-Bold"), round(dpi * 8 / 72))
    for k, text in enumerate(["ALCALDÍA", "SANTA ROSA", "DESPACHO"]):
        draw.text((cx - r + 12, cy - r // 2 + k * round(dpi * 0.14)), text, fill=40, font=font)
    return page


def test_a_signature_tesseract_reads_as_a_tall_word_stays_ink(signed_and_unsigned):
    # Words read with confidence are print, blanked before ink is counted;
    # a scribble read as "CAL" at 70, 72 px tall over a 15 px label, was
    # blanked with them and a signed form found unsigned (bench seed 1504).
    from helpdesk.documents.ocr import ink
    from helpdesk.documents.reading import Word

    signed, _unsigned = signed_and_unsigned
    page = form_page(signed=True)
    words = list(signed.words)
    label = next(w for w in words if w.text.startswith("Firma"))
    h = label.box[3] - label.box[1]
    over_the_scribble = (label.box[0], label.box[1] - 4 * h, label.box[0] + 14 * h, label.box[1] - h // 2)
    alone = ink.measure(page, words, 0).ink_ppm
    tall = ink.measure(page, words + [Word("CAL", 90, 0, over_the_scribble)], 0).ink_ppm
    printed = ink.measure(page, words + [Word("CAL", 90, 0, (over_the_scribble[0], over_the_scribble[3] - h,
                                                               over_the_scribble[2], over_the_scribble[3]))], 0).ink_ppm
    assert tall == alone >= 3_000  # the tall word is no print: its ink stays
    assert printed < alone  # a word of the print's size over it is blanked


def test_a_stamp_over_the_label_still_finds_it_and_counts_as_ink(signed_and_unsigned):
    reading = read_image(png(stamped_page()), Options(), budget(), 60_000_000)
    # The stamp garbles "representante": the label is known by "Firma del" heading its line.
    assert reading.signature.found and reading.signature.label.startswith("Firma del")
    assert reading.signature.ink_ppm > 10_000 > 1_000 > signed_and_unsigned[1].signature.ink_ppm


def shadowed_page():
    """The form's half page with a shadow across it: the right side up to 110 levels darker."""
    from PIL import Image, ImageChops

    page = form_page(dpi=150)
    shade = Image.linear_gradient("L").rotate(90).resize(page.size).point(lambda v: 255 - v * 110 // 255)
    return ImageChops.multiply(page, shade)


def test_a_shadow_across_the_page_is_evened_out_and_the_page_read():
    from helpdesk.documents.ocr import clean

    shadowed = shadowed_page()
    cleaned = clean.clean(shadowed.copy())
    assert cleaned.evened and not cleaned.cropped
    reading = read_image(png(shadowed), Options(), budget(), 60_000_000)
    assert reading.pages[0].read and "Cuentas a las que se solicita" in reading.text


def test_a_shadow_is_divided_out_within_a_level_on_average_of_the_exact_division():
    """even() divides the page by its paper with 8-bit operations (a gain
    under 1, then a doubling) instead of ImageMath's slower division: on
    this page 0.7 levels apart on average, 4 at most."""
    from PIL import Image, ImageChops, ImageMath, ImageOps

    from helpdesk.documents.ocr import clean

    shadowed = shadowed_page()
    paper = clean.paper_brightness(shadowed).resize(shadowed.size, Image.Resampling.BILINEAR)
    exact = ImageMath.lambda_eval(lambda a: a["convert"](a["page"] * 255 / (a["paper"] + 1), "L"),
                                  page=shadowed, paper=paper)
    ours, evened = clean.even(shadowed)
    differ = ImageChops.difference(ours, ImageOps.autocontrast(exact, cutoff=(0.5, 0.5))).histogram()
    assert evened
    assert sum(level * count for level, count in enumerate(differ)) / sum(differ) < 1.0
    assert max(level for level, count in enumerate(differ) if count) <= 4


def test_a_page_with_no_signature_label_has_no_signature_area(upright):
    reading = read_image(png(form_page(dpi=150, label="Observaciones generales")), Options(), budget(), 60_000_000)
    assert reading.pages[0].read and reading.signature is not None and not reading.signature.found
    assert reading.signature.ink_ppm == 0


def test_a_blank_page_is_read_and_has_no_words():
    from PIL import Image

    reading = read_image(png(Image.new("L", (1240, 1754), 236)), Options(), budget(), 60_000_000)
    assert reading.engine and reading.pages_read == 1 and reading.pages[0].read
    assert reading.words == () and reading.text == "" and not reading.signature.found


def test_each_pdf_page_carries_its_ink_so_a_blank_scan_is_told_from_a_printed_one():
    # A scanned PDF has no image of its own to measure (an attachment's
    # image_ink_ppm): the page image read gives its ink, for the checks'
    # blank page (scan_checks.BLANK_INK_PPM).
    from PIL import Image

    from helpdesk.examination.scan_checks import BLANK_INK_PPM

    blank = read_pdf(pdf_of(Image.new("L", (1240, 1754), 236), 150), [0], Options(), budget())
    printed = read_pdf(pdf_of(form_page(dpi=150), 150), [0], Options(), budget())
    assert blank.pages[0].read and blank.pages[0].ink_ppm < BLANK_INK_PPM
    assert printed.pages[0].ink_ppm > 10 * BLANK_INK_PPM


def test_a_phone_photo_of_the_page_on_a_dark_table_is_cropped_and_read():
    from PIL import Image

    from helpdesk.documents.ocr import clean

    page = form_page(dpi=150)
    photo = Image.new("L", (page.width + 400, page.height + 300), 70)  # a dark desk around it
    photo.paste(page, (220, 140))
    photo = photo.rotate(3, resample=Image.Resampling.BICUBIC, fillcolor=70)
    cleaned = clean.clean(photo.copy())
    assert cleaned.cropped and 2.5 <= abs(cleaned.skew) <= 3.5
    assert cleaned.image.width < photo.width - 300
    jpeg = io.BytesIO()
    photo.convert("RGB").save(jpeg, "JPEG", quality=70)
    reading = read_image(jpeg.getvalue(), Options(), budget(), 60_000_000)
    assert reading.pages[0].read and "Datos del representante legal" in reading.text


def test_a_spent_budget_leaves_the_page_unread_with_a_reason():
    import time

    reading = read_image(png(form_page(dpi=150)), Options(), Budget(time.monotonic()), 60_000_000)
    assert reading.pages_read == 0 and not reading.pages[0].read
    assert "se agotó el tiempo" in reading.pages[0].reason and reading.signature is None


def test_only_the_first_pages_are_read_and_the_rest_are_said(upright):
    from PIL import Image

    page = form_page(dpi=150)
    pages = [page, Image.new("L", page.size, 236), Image.new("L", page.size, 236)]
    out = io.BytesIO()
    pages[0].save(out, "PDF", resolution=150.0, save_all=True, append_images=pages[1:])
    reading = read_pdf(out.getvalue(), [0, 1, 2], Options(pages=1), budget())
    assert [(p.page, p.read) for p in reading.pages] == [(0, True), (1, False), (2, False)]
    assert "primeras 1 páginas" in reading.pages[2].reason and "ocr_pages" in reading.pages[2].reason


def test_without_spanish_data_the_worker_says_so_and_keeps_serving(tmp_path, monkeypatch):
    monkeypatch.setenv(TESSDATA_ENV, str(tmp_path))  # an empty folder: no spa.traineddata
    worker = Worker(load_all())
    try:
        facts = worker.examine("formato_firmado.png", png(form_page(dpi=150)))
        assert facts.readable and facts.reading is not None
        assert facts.reading.engine == "" and facts.reading.pages_read == 0
        [page] = facts.reading.pages
        assert not page.read and "spa.traineddata" in page.reason and "tesseract-ocr-spa" in page.reason
        again = worker.examine("acta.pdf", pdf_of(form_page(dpi=150), 150))
        assert again.readable and again.pdf.is_scan and again.reading.engine == ""
    finally:
        worker.close()


def test_with_ocr_off_a_scan_has_no_reading(tmp_path):
    worker = Worker(load_all(), DocumentsConfig(ocr=False))
    try:
        facts = worker.examine("formato_firmado.png", png(form_page(dpi=150)))
        assert facts.readable and facts.image_size is not None and facts.reading is None
    finally:
        worker.close()


def test_check_reads_the_sample_and_fails_without_spanish_data(tmp_path):
    config = write_config(tmp_path / "config.toml", embedded_sections())
    good = run_helpdesk("--config", config, "check", timeout=60)
    [line] = [line for line in good.stdout.splitlines() if "ocr" in line.split(":")[0]]
    assert line.startswith("OK") and "tesseract 5" in line and "leyó la imagen de muestra en" in line
    empty = tmp_path / "tessdata"
    empty.mkdir()
    bad = run_helpdesk("--config", config, "check", env={TESSDATA_ENV: str(empty)}, timeout=60)
    assert bad.returncode == 1 and "Traceback" not in bad.stdout + bad.stderr
    [line] = [line for line in bad.stdout.splitlines() if "ocr" in line.split(":")[0]]
    assert line.startswith("FALLA") and "apt-get install tesseract-ocr tesseract-ocr-spa" in bad.stdout
