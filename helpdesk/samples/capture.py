"""How a drawn page becomes a file: the scanner or the phone.

A scanner gives 100-300 dpi, grey or colour, JPEG of some quality, PNG or
an image-only PDF, sometimes skewed, upside down, blurred, noisy or
shadowed; a phone photographs the page in perspective on a darker table.
``Capture`` says which; ``captured`` applies it to a page's image and
``encode`` writes the file's bytes.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Capture:
    """How a page became an image: scanner or phone, and its defects."""

    dpi: int = 150
    colour: bool = False
    fmt: str = "jpeg"  # "jpeg", "png" or "pdf" (an image-only PDF)
    quality: int = 80  # JPEG quality
    skew: float = 0.0  # degrees
    upside_down: bool = False
    blur: float = 0.0  # Gaussian radius, pixels at 150 dpi
    noise: int = 0  # speckle strength, 0-40
    shadow: bool = False
    phone: bool = False  # perspective on a darker background
    font: int = 0  # index into the installed font families (page.installed_fonts)


# A plain office scan: grey, 150 dpi, a little sensor noise. What a sample
# or a test's flaw is shown on when the flaw, not the scanner, is the point.
PLAIN = Capture(dpi=150, colour=False, fmt="jpeg", quality=75, noise=8)


def captured(page, cap: Capture, rng: random.Random):
    """The page (samples.page.Page) as the scanner or the phone returns it (a PIL image)."""
    from PIL import Image

    # A grey scan is made grey first: every step after costs a third.
    img = page.image if cap.colour else page.image.convert("L")
    if cap.shadow:
        shade = Image.linear_gradient("L").resize(img.size).point(lambda v: 255 - v // 4)  # up to 25% darker at the top
        if rng.random() < 0.5:
            shade = shade.rotate(90, expand=False)
        img = Image.composite(img, Image.new(img.mode, img.size, 0), shade)
    if cap.blur:
        # Out of focus: through a smaller image and back (a quarter of a
        # Gaussian filter's time, the same softness to the eye and to OCR).
        small = (round(img.width / (1 + cap.blur)), round(img.height / (1 + cap.blur)))
        img = img.resize(small, Image.BILINEAR).resize(img.size, Image.BILINEAR)
    if cap.skew:
        img = img.rotate(cap.skew, resample=Image.BILINEAR, expand=False,
                         fillcolor=(245, 245, 245) if cap.colour else 245)
    if cap.phone:
        img = _phone(img, rng)
    if cap.noise:
        img = _noise(img, cap.noise, rng)
    if cap.upside_down:
        img = img.rotate(180)
    return img


def _noise(img, strength: int, rng: random.Random):
    """Sensor noise: Gaussian, ``strength`` grey levels, around the page's own."""
    from PIL import Image, ImageChops

    # Drawn at half size and doubled: four times cheaper, grain of two pixels.
    noise = seeded_noise((img.width // 2 + 1, img.height // 2 + 1), strength, rng).resize(
        (img.width + 2, img.height + 2), Image.NEAREST).crop((0, 0, img.width, img.height))
    if img.mode == "RGB":
        noise = Image.merge("RGB", (noise, noise, noise))
    return ImageChops.add(img, noise, scale=1.0, offset=-128)


# When every generated PDF scan says it was made.
SCANNED_AT = datetime(2026, 3, 2, 9, 30).timetuple()  # Pillow writes a struct_time as a PDF date
# The standard deviation of the mean of three uniform bytes (0-255):
# 255 / sqrt(12) / sqrt(3).
_MEAN_OF_THREE_SD = 255 / 6


def seeded_noise(size: tuple[int, int], strength: int, rng: random.Random):
    """Grey noise around 128 with a standard deviation of ``strength``,
    drawn from ``rng`` so that a seed gives the same grain every run
    (Pillow's ``effect_noise`` takes no seed). The mean of three uniform
    planes is near enough to Gaussian for sensor grain (Irwin-Hall), and
    ``randbytes`` draws them at C speed: 20 ms for a half-size A4 page."""
    from PIL import Image, ImageChops

    width, height = size
    a, b, c = (Image.frombytes("L", size, rng.randbytes(width * height)) for _ in range(3))
    mean = Image.blend(ImageChops.add(a, b, scale=2.0), c, 1 / 3)
    scale = strength / _MEAN_OF_THREE_SD
    return mean.point([max(0, min(255, round(128 + (v - 127.5) * scale))) for v in range(256)])


def _phone(img, rng: random.Random):
    """The page photographed on a darker table: a larger frame, the page in
    perspective inside it, light falling off to one side."""
    from PIL import Image

    w, h = img.size
    margin = 0.08
    table, edge = ((70, 58, 48), (60, 50, 42)) if img.mode == "RGB" else (60, 52)
    frame = Image.new(img.mode, (round(w * (1 + 2 * margin)), round(h * (1 + 2 * margin))), table)
    frame.paste(img, (round(w * margin), round(h * margin)))
    fw, fh = frame.size
    j = lambda: rng.uniform(-0.035, 0.035)  # noqa: E731
    # Where the frame's corners come from: a gentle keystone.
    quad = (fw * (0.0 + j()), fh * (0.0 + j()), fw * (0.0 + j()), fh * (1.0 + j()),
            fw * (1.0 + j()), fh * (1.0 + j()), fw * (1.0 + j()), fh * (0.0 + j()))
    return frame.transform(frame.size, Image.QUAD, quad, resample=Image.BILINEAR, fillcolor=edge)


def encode(img, cap: Capture) -> tuple[bytes, str, str]:
    """(bytes, extension, MIME type)."""
    out = io.BytesIO()
    if cap.fmt == "png":
        img.save(out, format="PNG", dpi=(cap.dpi, cap.dpi))
        return out.getvalue(), "png", "image/png"
    if cap.fmt == "pdf":
        # A scanner's PDF: the JPEG page as the only content (image-only).
        # Dated by the capture, not the clock, so a seed gives the same bytes.
        img.save(out, format="PDF", resolution=float(cap.dpi), quality=cap.quality,
                 creationDate=SCANNED_AT, modDate=SCANNED_AT)
        return out.getvalue(), "pdf", "application/pdf"
    img.save(out, format="JPEG", quality=cap.quality, dpi=(cap.dpi, cap.dpi))
    return out.getvalue(), "jpg", "image/jpeg"
