"""Step 4: the words of a page, with their boxes and confidences.

The image goes to Tesseract as raw 8-bit grey bytes (``SetImageBytes``):
no PNG or BMP round trip, which tesserocr's ``SetImage`` does. The time
limit is Tesseract's own (``Recognize(timeout)``, in milliseconds), so a
page that would run past the document's budget stops cleanly and is
reported as not read instead of having the worker killed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..reading import Word


@dataclass(frozen=True)
class Recognised:
    words: tuple[Word, ...]
    text: str  # Tesseract's text, lines kept
    confidence: int  # mean confidence of the real words (mean_confidence), 0-100; 0 when none
    finished: bool  # False: the time limit stopped it

    @property
    def sideways(self) -> bool:
        """Read off a page lying on its side: when most of a page's text is
        vertical, Tesseract turns the page a quarter round itself and reads
        it well, but gives the boxes on the page as it lies, each word taller
        than wide, where no signature label's line can be found (ink.py)."""
        long = [w.box for w in self.words if len(w.text) >= 4 and is_word(w.text)]
        tall = sum(1 for x0, y0, x1, y1 in long if y1 - y0 > x1 - x0)
        return tall * 2 > len(long) > 0


def recognise(reader, image, page: int, timeout_ms: int, sparse: bool = False, top: int = 0) -> Recognised:
    """``sparse``: Tesseract's sparse-text mode (no layout analysis: text
    anywhere, in any order), for a second look at part of a page; ``top``:
    where that part begins on the page (added to the boxes' y)."""
    from tesserocr import PSM, RIL, iterate_level

    reader.SetImageBytes(image.tobytes(), image.width, image.height, 1, image.width)
    if sparse:
        reader.SetPageSegMode(PSM.SPARSE_TEXT)
    try:
        finished = reader.Recognize(max(1, timeout_ms))
        if not finished:
            return Recognised((), "", 0, False)
        words = []
        iterator = reader.GetIterator()
        if iterator is not None:
            for word in iterate_level(iterator, RIL.WORD):
                try:
                    text = (word.GetUTF8Text(RIL.WORD) or "").strip()
                except RuntimeError:  # "No text returned": a blank page's iterator has no word at all
                    continue
                box = word.BoundingBox(RIL.WORD)
                if text and box:
                    x0, y0, x1, y1 = (int(v) for v in box)
                    words.append(Word(text, max(0, min(100, round(word.Confidence(RIL.WORD)))), page,
                                      (x0, y0 + top, x1, y1 + top)))
        try:
            text = reader.GetUTF8Text() or ""
        except RuntimeError:
            text = ""
    finally:
        if sparse:
            reader.SetPageSegMode(PSM.AUTO)
        reader.Clear()
    return Recognised(tuple(words), text, mean_confidence(words), True)


# A word for the page's confidence has two letters or digits side by side:
# the specks of a noisy scan and the rules of a form's table read as ".",
# "|", "_" or "==" at confidence 0-30, and dragged a well-read form's mean
# from 83 to 61 (tests/scans.py, 24 forms: mean over all tokens 58-92,
# over these words 72-92).
_WORDLIKE = re.compile(r"\w\w")


def is_word(text: str) -> bool:
    return _WORDLIKE.search(text) is not None


def mean_confidence(words) -> int:
    """The mean confidence of the words that are words, 0-100 (0: none)."""
    real = [w.confidence for w in words if is_word(w.text)]
    return round(sum(real) / len(real)) if real else 0
