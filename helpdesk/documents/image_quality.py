"""Whether an image can be an identity document at all: big enough, not blank.

An identity document hands over an account (CONTRACT §13), so a file named
``INE.jpg`` must be more than a name: an 8x8 white JPEG, a blank page or a
uniform grey square is ``identity_document_unreadable``. The worker
measures (``measure``, Pillow, inside the limited process); the checks
judge the numbers against the thresholds below (``judge``), never pixels.
Reading the text of a scan is OCR's part (CONTRACT §11); an image that
passes these checks but is not read is a ``scan_not_read`` warning.
"""

from __future__ import annotations

from dataclasses import dataclass

# The smallest image that can show an identity card legibly: an ID-1 card
# (85.6 x 54 mm) scanned at 120 dpi is 404 x 255 px, where its printed
# number (about 2.5 mm tall) is 12 px, the least a person (or OCR) reads
# reliably. Phone photos are 1000 px and more on each side; a 150 dpi scan
# of the card is 505 x 319 px.
MIN_LONG_SIDE = 400
MIN_SHORT_SIDE = 250

# Ink: the share of pixels (parts per million) clearly darker than the
# paper (INK_DARKER grey levels below the median), after a 3x3 median
# filter that removes scanner speckle. Measured on the test scans
# (tests/docfiles.page_image, grey paper 240 with 0.5% random speckle,
# reduced to 1000 px): a page with nothing but its 2-inch signature
# stroke 240 ppm, one letter "X" besides 270 ppm, two lines of capitals
# 1830 ppm; an 8x8 white image, a uniform grey one and speckle alone 0.
# A real identity document (photo, text, guilloches) is far above.
MIN_INK_PPM = 50
INK_DARKER = 80
# Larger images are reduced to this many pixels a side before measuring:
# a 12-megapixel phone photo in ~60 ms, and the ink share barely moves.
MEASURE_SIDE = 1000


@dataclass(frozen=True)
class ImageQuality:
    width: int
    height: int
    ink_ppm: int  # see MIN_INK_PPM


def measure(img) -> ImageQuality:
    """The numbers ``judge`` needs, from a loaded Pillow image."""
    from PIL import ImageFilter

    width, height = img.size
    grey = img.convert("L")
    grey.thumbnail((MEASURE_SIDE, MEASURE_SIDE))
    if min(grey.size) >= 3:
        grey = grey.filter(ImageFilter.MedianFilter(3))
    histogram = grey.histogram()
    total = sum(histogram) or 1
    seen, paper = 0, 0
    for level, count in enumerate(histogram):
        seen += count
        if seen * 2 >= total:
            paper = level
            break
    ink = sum(histogram[: max(0, paper - INK_DARKER)])
    return ImageQuality(width, height, round(ink * 1_000_000 / total))


def judge(width: int, height: int, ink_ppm: int | None) -> str:
    """Why this image cannot be an identity document, in Spanish for the
    requester ("" when it may be one)."""
    long_side, short_side = max(width, height), min(width, height)
    if long_side < MIN_LONG_SIDE or short_side < MIN_SHORT_SIDE:
        return (f"la imagen mide {width} x {height} píxeles, demasiado pequeña para leerla; escanee o fotografíe "
                f"el documento completo (al menos {MIN_LONG_SIDE} x {MIN_SHORT_SIDE} píxeles)")
    if ink_ppm is not None and ink_ppm < MIN_INK_PPM:
        return "la imagen está en blanco o no muestra ningún documento"
    return ""
