"""The pipeline: a scanned document's pages -> ``ScanReading``.

Per page: rasterise (rasterise.py) -> clean (clean.py) -> recognise
(recognise.py); a page read badly is read again upside down, and one
read badly both ways is asked which way up it is (orient.py) and, when
turned, read again, keeping the best reading (``_upright``); then the signature area's ink (ink.py) on the page that
has the label. Runs in the document worker only (worker.py), within a
deadline the worker sets from its own limits, so a slow page is a page
not read, never a killed worker.

Never raises for a missing engine or data, a page that cannot be
rendered, or a spent budget: each such page is a ``PageReading`` with
``read=False`` and the Spanish reason staff see in ``scan_not_read``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from .. import image_quality
from ..reading import PageReading, ScanReading, SignatureInk, Word
from . import clean, engine, ink, orient, rasterise
from . import recognise as recognise_module
from .recognise import Recognised, mean_confidence, recognise

# A page read at a mean word confidence under this is not used: its words
# would be guesses (a page read upside down reads at 35-40, a clean scan
# at 85-95, a poor phone photo at 60-75; bench/ocr.py).
MIN_PAGE_CONFIDENCE = 55
# A page read with words under this is read again turned half round
# (_upright): upside down, it read at 21-45; still under it so turned,
# OSD is asked whether the page is turned otherwise (orient.py).
TURNED_BELOW = MIN_PAGE_CONFIDENCE
# A page whose text has one of these is the request form, whose signature
# label is looked for again when the first reading missed it.
FORM_MARKS = ("formato de solicitud", "datos del representante legal", "datos de la entidad")
SECOND_LOOK_FROM = 0.5  # the lower half of the page: the form is signed at its end
MAX_WORDS = 3000
MAX_TEXT_CHARS = 20_000
# Time a page is expected to need when none was read yet (a dense page at
# 200 dpi on a loaded core, LIBRARY_NOTES: 1.9 s): a page is not begun
# with less left than this, nor than the slowest page so far.
FIRST_PAGE_SECONDS = 1.0


@dataclass(frozen=True)
class Options:
    """How a worker reads scans: config.documents and its limits."""

    ocr: bool = True
    pages: int = 3  # [documents] ocr_pages
    tessdata: str | None = None  # None: engine.tessdata_folder()


@dataclass
class Budget:
    """The document's deadline (time.monotonic()), set by the worker."""

    deadline: float
    slowest: float = FIRST_PAGE_SECONDS

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def allows_a_page(self) -> bool:
        return self.left() >= min(self.slowest, FIRST_PAGE_SECONDS * 3)


@dataclass
class _Document:
    pages: list[PageReading] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    signature: SignatureInk | None = None
    engine_name: str = ""


def spent_reason() -> str:
    return "no se leyó: se agotó el tiempo de examen del documento"


def read_images(images, page_numbers: list[int], options: Options, budget: Budget,
                skipped: dict[int, str] | None = None) -> ScanReading:
    """Read the pages ``images(n)`` gives for each ``n`` in ``page_numbers``
    (a callable: a page is rasterised only when its turn comes and there is
    time). ``skipped``: pages not read for a reason known beforehand."""
    doc = _Document()
    eng, reason = None, ""
    for n in page_numbers:
        if not reason and not budget.allows_a_page():
            doc.pages.append(PageReading(n, 0, 0, 0, 0, False, spent_reason()))
            continue
        if eng is None and not reason:
            # Made at the first page there is time for (loading the model
            # takes 0.1-0.3 s): a document past its time never pays for it.
            try:
                eng = engine.engine(options.tessdata)
                doc.engine_name = eng.name
            except engine.EngineUnavailable as exc:
                reason = str(exc)
        if eng is None:
            doc.pages.append(PageReading(n, 0, 0, 0, 0, False, f"no se leyó: {reason}"))
        else:
            started = time.monotonic()
            try:
                _read_page(eng, images, n, budget, doc)
            except Exception as exc:  # an engine error on one page: that page alone is not read
                doc.pages.append(PageReading(n, 0, 0, 0, 0, False,
                                             f"no se leyó: falló la lectura de la página ({type(exc).__name__})"))
            budget.slowest = max(budget.slowest, time.monotonic() - started)
    for n, why in sorted((skipped or {}).items()):
        doc.pages.append(PageReading(n, 0, 0, 0, 0, False, why))
    doc.pages.sort(key=lambda p: p.page)
    return _reading(doc)


def _read_page(eng, images, n: int, budget: Budget, doc: _Document) -> None:
    try:
        raster = images(n)
        # On the page as received, like an image attachment's (examine.py),
        # so one threshold judges both; an image attachment's is that one
        # (measured twice, it was 5% of a backlog's examination).
        ink_ppm = raster.ink_ppm if raster.ink_ppm is not None else image_quality.measure(raster.image).ink_ppm
        page = clean.clean(raster.image).image
    except MemoryError:
        raise
    except Exception as exc:  # a page pdfium or Pillow cannot draw: this page alone is not read
        doc.pages.append(PageReading(n, 0, 0, 0, 0, False,
                                     f"no se leyó: la página no se pudo convertir en imagen ({type(exc).__name__})"))
        return
    got, page, rotation = _upright(eng, page, n, budget)
    if not got.finished:
        doc.pages.append(PageReading(n, page.width, page.height, rotation, 0, False, spent_reason(), ink_ppm))
        return
    if not any(recognise_module.is_word(w.text) for w in got.words):
        got = Recognised((), "", 0, True)  # specks and rules, no word: a blank page, read
    if got.words and got.confidence < MIN_PAGE_CONFIDENCE:
        doc.pages.append(PageReading(n, page.width, page.height, rotation, got.confidence, False,
                                     f"no se leyó con la confianza necesaria ({got.confidence} de 100; "
                                     f"se necesita {MIN_PAGE_CONFIDENCE})", ink_ppm))
        return
    measured = None
    if doc.signature is None or not doc.signature.found:
        measured = ink.measure(page, list(got.words), n)
        if not measured.found and _is_the_form(got.text) and budget.left() > 1:
            looked = _second_look(eng, page, n, got, budget)
            if looked is not None:
                measured, extra = looked
                got = Recognised(got.words + extra, got.text, got.confidence, True)
    # Nothing is added before this point: a page that fails above is one page not read (read_images).
    doc.pages.append(PageReading(n, page.width, page.height, rotation, got.confidence, True, "", ink_ppm))
    doc.words.extend(got.words)
    doc.texts.append(got.text.strip())
    if measured is not None and (measured.found or doc.signature is None):
        doc.signature = measured


def _upright(eng, received, n: int, budget: Budget):
    """(the reading, the page, the degrees it was turned) of the page
    ``received`` the way up it reads best.

    A page that reads with words under ``TURNED_BELOW`` is read again
    turned half round: a sheet fed upside down is the commonest turn, and
    OSD was both slower (0.27 s a page, as long as the second reading) and
    worse at it. On tests/scans.py's pages (seeds 2000-2149, 300 pages) the
    32 upside-down ones read at 21-45 upright, and every upright one at 69
    or more; turned, the 32 read at 69-97, where OSD had called 3 of them
    upright (0 degrees) and left them unread. OSD is asked only about a
    page read badly both ways. (It had been asked about every page under
    75; on the 4 upright ones from 69 to 75 of those 300 it found no turn.)
    A page with no word (blank) has nothing to turn.

    A page on its side is read well one way of its two (Tesseract stands
    its lines up itself, Recognised.sideways) and badly the other, which
    the half turn makes the first; then a quarter turn more stands the
    page itself up, so that its boxes are the right way."""
    best = (recognise(eng.reader, received, n, _ms(budget)), received, 0)
    tried = {0}

    def attempt(turn: int) -> None:
        nonlocal best
        tried.add(turn)
        turned = orient.turn(received, turn)
        again = recognise(eng.reader, turned, n, _ms(budget))
        if again.finished and again.confidence > best[0].confidence:
            best = (again, turned, turn)

    if best[0].finished and 0 < best[0].confidence < TURNED_BELOW and budget.left() > 0:
        attempt(180)
        if best[0].confidence < TURNED_BELOW and budget.left() > 0:
            turn = orient.rotation(eng.orienter, received)
            if turn not in tried:
                attempt(turn)
    got, _page, rotation = best
    if got.finished and got.sideways and budget.left() > 0:
        # Read well but on its side: a quarter turn more (counter-clockwise)
        # stands it up, and its boxes with it.
        quarter_more = (rotation + 90) % 360
        upright = orient.turn(received, quarter_more)
        again = recognise(eng.reader, upright, n, _ms(budget))
        if again.finished and not again.sideways and again.confidence >= MIN_PAGE_CONFIDENCE:
            best = (again, upright, quarter_more)
    return best


def _is_the_form(text: str) -> bool:
    folded = ink.fold(text)
    return any(mark in folded for mark in FORM_MARKS)


def _second_look(eng, page, n: int, got: Recognised, budget: Budget):
    """(ink, words) of the signature label read again in the lower part of a form's page
    in sparse-text mode: a stamp over the label makes Tesseract's layout
    analysis take label and stamp for a picture and skip both (measured
    on tests/scans.py's stamped forms: 2 of 6 labels unread, found here)."""
    top = round(page.height * SECOND_LOOK_FROM)
    again = recognise(eng.reader, page.crop((0, top, page.width, page.height)), n, _ms(budget), sparse=True, top=top)
    if not again.finished:
        return None
    measured = ink.measure(page, [w for w in got.words if w.box[1] < top] + list(again.words), n)
    if not measured.found:
        return None
    # The words only this look read (the label's, the stamp's) join the
    # page's, so the checks see the label they are told of.
    extra = tuple(w for w in again.words if not any(_overlap(w.box, v.box) for v in got.words))
    return measured, extra


def _overlap(a: tuple, b: tuple) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _ms(budget: Budget) -> int:
    return max(1, int(budget.left() * 1000))


def _reading(doc: _Document) -> ScanReading:
    read = [p for p in doc.pages if p.read]
    words = doc.words
    confidence = mean_confidence(words)
    text = "\n\n".join(t for t in doc.texts if t)[:MAX_TEXT_CHARS]
    return ScanReading(engine=doc.engine_name, pages_read=len(read), confidence=confidence, text=text,
                       words=tuple(words[:MAX_WORDS]), pages=tuple(doc.pages),
                       signature=doc.signature if read else None)


# -- the two kinds of file -------------------------------------------------


def read_image(data: bytes, options: Options, budget: Budget, max_pixels: int,
               ink_ppm: int | None = None) -> ScanReading:
    """A JPG or PNG attachment: one page; ``ink_ppm``, its ink when measured already."""
    return read_images(lambda n: replace(rasterise.image_file(data, max_pixels), ink_ppm=ink_ppm),
                       [0], options, budget)


def read_pdf(data: bytes, scanned: list[int], options: Options, budget: Budget) -> ScanReading:
    """The scanned pages (0-based ``scanned``, as pdf.py found them) of a
    PDF: the first ``options.pages`` of the document are read, the others
    are said not to be."""
    import io

    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        reader.decrypt("")  # pdf.py opened it so already, or the file is unreadable before OCR
    opened = []

    def pdfium():
        if not opened:
            import pypdfium2

            opened.append(pypdfium2.PdfDocument(data))
        return opened[0]

    wanted = [n for n in scanned if n < options.pages]
    skipped = {n: f"no se leyó: se leen las primeras {options.pages} páginas de cada documento "
                  "([documents] ocr_pages)" for n in scanned if n >= options.pages}
    try:
        return read_images(lambda n: rasterise.pdf_page(reader, pdfium, n), wanted, options, budget, skipped)
    finally:
        for pdf in opened:
            pdf.close()
