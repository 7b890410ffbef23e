"""Step 3: the page as Tesseract reads it best: cropped, straight, even.

Each step measures on a small copy (``SMALL`` px on the long side, a few
milliseconds) and touches the full image only when it has something to
do, so a clean flat scan (the common case) costs almost nothing here:

- ``crop``: a phone photo of a page on a darker table is cut to the page
  (its border is ``BACKGROUND_DARKER`` levels below the page's paper);
  the table's texture otherwise reads as rows of junk words.
- ``deskew``: the angle whose rows of ink are sharpest (a projection
  profile, ``MAX_SKEW`` degrees each way) is undone when it is at least
  ``MIN_SKEW``; Tesseract's own line finding copes with less (and the
  turn costs ~0.1 s on an A4 page at 200 dpi).
- ``even``: a shadow (a phone's, a book's fold) is divided out when the
  paper's brightness varies by ``UNEVEN`` levels or more across the page;
  then the contrast is stretched so the paper is white and the ink black.
"""

from __future__ import annotations

from dataclasses import dataclass

SMALL = 600  # for finding the page's edges
SKEW_SMALL = 400  # for the projection profile: text lines are still 3-4 px apart
SHADOW_SMALL = 160  # for the paper's brightness: shadows are smooth
BACKGROUND_DARKER = 60
MAX_SKEW = 6.0
# Measured on a dense 10 pt page at 200 dpi (465 words): turned 1.5 degrees
# it read the same words with or without deskewing; turned 3 and 5 degrees
# it misread 2 and 5 words, and none once deskewed. The ink count's line
# test (ink.py) copes with lines up to ~3 degrees askew.
MIN_SKEW = 2.0
UNEVEN = 40
DARK_PAPER = 64  # see even()


@dataclass(frozen=True)
class Cleaned:
    image: object  # PIL.Image.Image, mode "L"
    cropped: bool
    skew: float  # degrees undone (counter-clockwise positive, as Pillow's rotate)
    evened: bool


def clean(image) -> Cleaned:
    image, cropped = crop(image)
    image, skew = deskew(image)
    image, evened = even(image)
    return Cleaned(image, cropped, skew, evened)


def _small(image, side: int = SMALL):
    small = image.copy() if max(image.size) <= side else image.resize(
        _fit(image.size, side), reducing_gap=2.0)
    return small


def _fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    scale = side / max(size)
    return (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))


def _percentile(histogram: list[int], share: float) -> int:
    total, seen = sum(histogram) or 1, 0
    for level, count in enumerate(histogram):
        seen += count
        if seen >= share * total:
            return level
    return 255


def paper_level(image) -> int:
    """The page's background grey: the median (text covers far less than half a page)."""
    return _percentile(image.histogram(), 0.5)


def crop(image):
    """(the page alone, True) when it lies on a clearly darker background."""
    from PIL import Image

    small = _small(image)
    w, h = small.size
    if w < 20 or h < 20:
        return image, False
    frame = max(2, min(w, h) // 30)
    border = [small.crop(b) for b in ((0, 0, w, frame), (0, h - frame, w, h), (0, 0, frame, h), (w - frame, 0, w, h))]
    border_level = _percentile(_sum_hist(border), 0.5)
    paper = _percentile(small.histogram(), 0.75)
    if paper - border_level < BACKGROUND_DARKER:
        return image, False
    cut = (paper + border_level) // 2
    bright = small.point(lambda v: 255 if v > cut else 0)
    rows = bright.resize((1, h), Image.Resampling.BOX).tobytes()  # share of page in each row, 0-255
    cols = bright.resize((w, 1), Image.Resampling.BOX).tobytes()
    ys = [y for y, s in enumerate(rows) if s > 128]
    xs = [x for x, s in enumerate(cols) if s > 128]
    if not ys or not xs:
        return image, False
    x0, x1, y0, y1 = xs[0], xs[-1] + 1, ys[0], ys[-1] + 1
    if (x1 - x0) * (y1 - y0) < 0.2 * w * h or (x1 - x0) * (y1 - y0) > 0.97 * w * h:
        return image, False  # no page found, or the page is the whole picture already
    sx, sy = image.width / w, image.height / h
    return image.crop((round(x0 * sx), round(y0 * sy), round(x1 * sx), round(y1 * sy))), True


def _sum_hist(images) -> list[int]:
    total = [0] * 256
    for img in images:
        for level, count in enumerate(img.histogram()):
            total[level] += count
    return total


def deskew(image):
    """(the page turned straight, the angle) by the sharpest projection profile."""
    from PIL import Image

    small = _small(image, SKEW_SMALL)
    paper = paper_level(small)
    ink = small.point(lambda v: 255 if v < paper - 60 else 0)
    if ink.histogram()[255] < 50:
        return image, 0.0  # nothing printed to straighten by

    def score(angle: float) -> float:
        turned = ink.rotate(angle, resample=Image.Resampling.NEAREST, fillcolor=0)
        profile = turned.resize((1, turned.height), Image.Resampling.BOX).tobytes()
        return sum(v * v for v in profile)

    best = max((float(a) for a in range(int(-MAX_SKEW), int(MAX_SKEW) + 1)), key=score)
    best = max((best + a / 4 for a in range(-3, 4)), key=score)
    if abs(best) < MIN_SKEW:
        return image, 0.0
    return image.rotate(best, resample=Image.Resampling.BILINEAR, fillcolor=paper_level(image)), best


def paper_brightness(image):
    """The paper's brightness around each point, on a SHADOW_SMALL copy:
    the brightest nearby (ink is thin), smoothed."""
    from PIL import ImageFilter

    return _small(image, SHADOW_SMALL).filter(ImageFilter.MaxFilter(5)).filter(ImageFilter.GaussianBlur(3))


def even(image):
    """(the page with its shadows divided out and its contrast stretched, whether it was uneven)."""
    from PIL import Image, ImageChops, ImageOps

    background = paper_brightness(image)
    histogram = background.histogram()
    low, high = _percentile(histogram, 0.05), _percentile(histogram, 0.95)
    evened = high - low >= UNEVEN
    if evened:
        # page * 255 / paper, in the 8-bit operations Pillow does fast:
        # ImageChops.multiply(a, b) is a * b / 255, a gain of at most 1, so
        # the gain 255 / paper is split into 2**doublings (each an
        # ImageChops.add of the image to itself) and a factor under 1
        # worked out on the small copy and enlarged. ImageMath's division
        # on the whole page took 25-57 ms, this 5-11 ms, within
        # 2**doublings levels of it (one doubling on the generated scans'
        # shadows). Paper darker than ``low`` (the darkest 5%) gets a
        # little less gain, and under DARK_PAPER at most 4x: that is a
        # scanner's black border, not paper, and goes white either way.
        doublings = 0
        while (max(low, DARK_PAPER) << doublings) < 255:
            doublings += 1
        gain = background.point(lambda paper: min(255, round(255 * 255 / (max(paper, 1) << doublings))))
        image = ImageChops.multiply(image, gain.resize(image.size, Image.Resampling.BILINEAR))
        for _ in range(doublings):
            image = ImageChops.add(image, image)
    return ImageOps.autocontrast(image, cutoff=(0.5, 0.5)), evened
