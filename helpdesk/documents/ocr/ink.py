"""Step 5: the signature area of a form, and how much ink is in it.

The area is found by its printed label in the words read: "Firma del
representante legal", "Firma y sello", "FIRMA:", or "Firma" alone on its
line (accents, case and one OCR slip ignored: "FIRMA", "Fírma", "Flrma").
People sign over the line the label sits under, after a "FIRMA:" to its
right, or in the space a label heads, so three bands are measured: one
``ABOVE_LINES`` label-heights tall above the label's line, one
``RIGHT_WIDTHS`` label-heights wide to its right, and one ``BELOW_LINES``
tall under it; ``ink_ppm`` is the inkiest band's (a signature fills one
band, and an empty band beside it must not dilute it).

Ink is a pixel ``INK_DARKER`` grey levels below the page's paper (its
median), after a 3x3 median filter that removes speckle, counted in parts
per million of the area. What is printed is kept out of the count: the
words Tesseract read with confidence (``PRINTED_CONFIDENCE``) and of the
print's size (``PRINTED_HEIGHTS``) are blanked,
and so is any straight horizontal run of ink ``LINE_RUN_HEIGHTS``
label-heights long (the printed line or underscores one signs on).

The checks decide signed or not from ``ink_ppm`` (examination/). Measured
on tests/test_ocr.form_page at 150, 200 and 300 dpi: an empty line under
the label 0 ppm (840 ppm on a page 1.5 degrees askew, bench/ocr.py); a
scribbled signature over it 32,700-37,700 ppm. Printed
words read with little confidence stay in the count (tests/docfiles' small
noisy page: 61,000 ppm without a signature near its label): a doubt makes
a form look signed, never unsigned.
"""

from __future__ import annotations

import re
import unicodedata

from ..reading import SignatureInk, Word

INK_DARKER = 80
PRINTED_CONFIDENCE = 70
# A word read with confidence is printed only up to this many label
# heights tall (the label's line: 15-21 px at 150 dpi; capitals and
# accents reach 1.3 times it).
PRINTED_HEIGHTS = 2.0
# A horizontal run of ink this many label-heights long is a printed line
# (at 200 dpi, 10 pt: 80 px, 0.4 in); a signature's strokes are curves.
LINE_RUN_HEIGHTS = 3.0
ABOVE_LINES = 4.0
BELOW_LINES = 3.0
RIGHT_WIDTHS = 14.0
# Labels by strength: the later words that make a "firma" a signature label.
_STRONG = (("del", "representante"), ("y", "sello"), ("representante",), ("autorizada",), ("responsable",))


def fold(text: str) -> str:
    """Lower case without accents: how labels and marks are compared."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _is_firma(word: str) -> bool:
    """"firma" with accents, case, punctuation and one OCR slip forgiven."""
    letters = re.sub(r"[^a-z]", "", fold(word))
    if letters in ("firma", "firmas"):
        return True
    if len(letters) not in (5, 6):
        return False
    from rapidfuzz.distance import Levenshtein

    return Levenshtein.distance(letters[:5], "firma") <= 1 and letters[0] in "fp" and letters[-1] in "as"


def _close(read: str, word: str) -> bool:
    """``read`` is ``word`` but for OCR slips: a stamp over "representante"
    read "represógtante" (one edit in four letters allowed)."""
    from rapidfuzz.distance import Levenshtein

    return Levenshtein.distance(read, word, score_cutoff=len(word) // 4) <= len(word) // 4


def _line_of(word: Word, words: list[Word]) -> list[Word]:
    """The words on ``word``'s line: their middles within its height."""
    x0, y0, x1, y1 = word.box
    return sorted((w for w in words if w.page == word.page and y0 <= (w.box[1] + w.box[3]) / 2 <= y1),
                  key=lambda w: w.box[0])


def find_label(words: list[Word]) -> tuple[Word, list[Word], str] | None:
    """(the "firma" word, its line, the label as read) of the strongest label; lowest on the page wins ties."""
    best = None
    for word in words:
        if not _is_firma(word.text):
            continue
        line = _line_of(word, words)
        after = [fold(w.text).strip(":.,;") for w in line if w.box[0] > word.box[0]]
        strength = 1 if len(line) <= 3 or word.text.rstrip().endswith(":") else 0
        first = not any(w.box[2] <= word.box[0] for w in line)
        if first and after and after[0] in ("del", "y"):
            strength = 2  # "Firma del ..." heading its line, the rest under a stamp
        for follow in _STRONG:
            if len(after) >= len(follow) and all(_close(a, f) for a, f in zip(after, follow)):
                strength = 3
        if strength == 0:
            continue  # "firma" inside a sentence (instructions), not a label
        key = (strength, word.page == 0, word.box[1])
        if best is None or key > best[0]:
            label = " ".join(w.text for w in line if w.box[0] >= word.box[0])
            best = (key, word, line, label)
    return None if best is None else best[1:]


def measure(image, words: list[Word], page: int) -> SignatureInk:
    """The ink in the signature area of ``image`` (the page as read, upright)."""
    found = find_label([w for w in words if w.page == page])
    if found is None:
        return SignatureInk(False, 0)
    word, line, label = found
    from PIL import ImageDraw, ImageFilter

    height = max(8, max(w.box[3] - w.box[1] for w in line))
    left = max(0, word.box[0] - height)
    line_right = max(w.box[2] for w in line)
    top = max(0, word.box[1] - round(ABOVE_LINES * height))
    above = (left, top, min(image.width, max(line_right, word.box[0] + round(RIGHT_WIDTHS * height))), word.box[1])
    right = (min(image.width, line_right + height // 2), max(0, word.box[1] - height),
             min(image.width, line_right + round(RIGHT_WIDTHS * height)), min(image.height, word.box[3] + height))
    below = (above[0], min(image.height, max(w.box[3] for w in line) + height // 4), above[2],
             min(image.height, max(w.box[3] for w in line) + round(BELOW_LINES * height)))
    paper = _median(image)
    ppm = 0
    # A form's print is of one size: a "word" much taller than the label's
    # line is a signature Tesseract read as letters ("CAL" at 70 over a
    # 72 px scribble, bench/scan_precision.py seed 1504), and stays ink.
    printed = [w for w in words if w.page == page and w.confidence >= PRINTED_CONFIDENCE
               and w.box[3] - w.box[1] <= PRINTED_HEIGHTS * height]
    for area in (above, right, below):
        if area[2] - area[0] < 3 or area[3] - area[1] < 3:
            continue
        patch = image.crop(area)
        draw = ImageDraw.Draw(patch)
        for w in printed:  # printed words inside the area are not ink
            draw.rectangle((w.box[0] - area[0], w.box[1] - area[1], w.box[2] - area[0], w.box[3] - area[1]),
                           fill=paper)
        patch = patch.filter(ImageFilter.MedianFilter(3))
        ink = patch.point(lambda v: 255 if v < paper - INK_DARKER else 0)
        dark = _ink_off_lines(ink, round(LINE_RUN_HEIGHTS * height))
        ppm = max(ppm, round(dark * 1_000_000 / (patch.width * patch.height)))
    return SignatureInk(True, ppm, label[:80], page)


def _ink_off_lines(ink, min_run: int) -> int:
    """Ink pixels (255) of the mask, without horizontal runs of ``min_run``
    or more: the printed line and underscores one signs on. Runs are found
    on the mask thickened by a pixel (``MaxFilter``): a line scanned a
    fraction of a degree askew steps from row to row, and would otherwise
    leave its short steps counted as ink."""
    from PIL import ImageFilter

    width = ink.width
    kept = bytearray(ink.tobytes())
    thick = ink.filter(ImageFilter.MaxFilter(3)).tobytes()
    run = re.compile(rb"\xff{%d,}" % max(2, min_run))
    for y in range(ink.height):
        for m in run.finditer(thick, y * width, (y + 1) * width):
            kept[m.start():m.end()] = bytes(m.end() - m.start())
    return kept.count(255)


def _median(image) -> int:
    histogram = image.histogram()
    total, seen = sum(histogram) or 1, 0
    for level, count in enumerate(histogram):
        seen += count
        if seen * 2 >= total:
            return level
    return 255
