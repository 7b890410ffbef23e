"""Step 2: which way up the page is, by Tesseract's OSD (orientation and script detection).

OSD runs on its own API (``lang="osd"``, engine.py) and only for a page
read badly both upright and turned half round (read._upright, which reads
an upside-down page by the half turn alone): on the sample page it costs
0.34 s, most of a reading (0.47 s), and an upright page read at
confidence 90 or more needs no second opinion. A page read upside down
reads at 21-45 (tests/scans.py's pages, bench/ocr.py).

Resolution (measured, LIBRARY_NOTES and bench/ocr.py): OSD judges by the
shapes of letters and needs them at least ~20 px high. On a 10 pt page at
200 dpi it found 0, 90, 180 and 270 degrees at full and at 3/4 size (its
confidence 11-14), and was wrong at half size (180 read as 0, 90 as 270;
confidence 0.5-3.7). So it gets the page as read, never reduced, and its
answer counts only from ``MIN_CONFIDENCE``.
"""

from __future__ import annotations

MIN_CONFIDENCE = 5.0


def rotation(orienter, image) -> int:
    """Degrees (counter-clockwise, as Pillow's ``rotate``) that turn the
    page upright: 0, 90, 180 or 270; 0 when OSD is unsure or cannot run."""
    if orienter is None:
        return 0
    try:
        orienter.SetImage(image)
        found = orienter.DetectOrientationScript()
    except RuntimeError:  # too few letters to judge
        return 0
    finally:
        orienter.Clear()
    if not found or found.get("orient_conf", 0.0) < MIN_CONFIDENCE:
        return 0
    # orient_deg is how far the page is turned clockwise... as Tesseract
    # reports it; turning it by the same angle counter-clockwise undoes it.
    return int(found.get("orient_deg", 0)) % 360


def turn(image, degrees: int):
    from PIL import Image

    if degrees == 0:
        return image
    return image.transpose({90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180,
                            270: Image.Transpose.ROTATE_270}[degrees])
