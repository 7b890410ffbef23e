"""An A4 page drawn with Pillow, written in inches and points like a
printer: text, wrapped paragraphs, the template's blue section bands and
boxed value cells, a handwritten-like signature and an office stamp."""

from __future__ import annotations

import functools
import random
from pathlib import Path

from ..errors import HelpdeskError

A4_INCHES = (8.27, 11.69)
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype/liberation")
# (regular, bold) file names; those installed are used (fonts-dejavu-core is
# always there on Debian; fonts-liberation adds two families).
FONT_FAMILIES = (
    ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf"),
    ("LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf"),
    ("LiberationSerif-Regular.ttf", "LiberationSerif-Bold.ttf"),
)


class MissingFont(HelpdeskError):
    """No TrueType font to draw a page with: Pillow's own bitmap font has no
    accents and OCR would not read it as a printed form."""


@functools.cache
def installed_fonts() -> tuple[tuple[Path, Path], ...]:
    """The (regular, bold) font files of every installed family, DejaVu first."""
    found = []
    for regular, bold in FONT_FAMILIES:
        paths = [next((Path(d) / f for d in FONT_DIRS if (Path(d) / f).is_file()), None) for f in (regular, bold)]
        if all(paths):
            found.append(tuple(paths))
    if not found:
        raise MissingFont("no hay fuentes TrueType para dibujar los documentos: instale el paquete "
                          "fonts-dejavu-core (apt-get install fonts-dejavu-core)")
    return tuple(found)


class Page:
    """An A4 page at ``dpi``, written in points and inches like a printer."""

    def __init__(self, dpi: int, font: int, colour: bool, rng: random.Random):
        from PIL import Image, ImageDraw

        self.dpi, self.rng = dpi, rng
        self.width, self.height = round(A4_INCHES[0] * dpi), round(A4_INCHES[1] * dpi)
        paper = (250, 248, 240) if colour else (246, 246, 246)
        self.image = Image.new("RGB", (self.width, self.height), paper)
        self.draw = ImageDraw.Draw(self.image)
        self.regular, self.bold = installed_fonts()[font % len(installed_fonts())]
        self.y = 0.7  # inches from the top

    def px(self, inches: float) -> int:
        return round(inches * self.dpi)

    def font(self, points: float, bold: bool = False):
        from PIL import ImageFont

        return ImageFont.truetype(str(self.bold if bold else self.regular), max(6, round(points / 72 * self.dpi)))

    def text(self, x: float, text: str, points: float = 11, bold: bool = False, fill=(20, 20, 20),
             y: float | None = None) -> None:
        self.draw.text((self.px(x), self.px(self.y if y is None else y)), text, font=self.font(points, bold), fill=fill)

    def line(self, gap: float = 0.28) -> None:
        self.y += gap

    def paragraph(self, text: str, points: float = 11, width_in: float = 6.6, x: float = 0.9) -> None:
        font = self.font(points)
        words, line = text.split(), ""
        for word in words:
            trial = f"{line} {word}".strip()
            if self.draw.textlength(trial, font=font) > self.px(width_in) and line:
                self.text(x, line, points)
                self.line(points / 72 * 1.5)
                line = word
            else:
                line = trial
        if line:
            self.text(x, line, points)
            self.line(points / 72 * 1.5)

    def band(self, title: str) -> None:
        """A section title as the template prints it: white on dark blue."""
        top = self.px(self.y - 0.04)
        self.draw.rectangle((self.px(0.8), top, self.px(7.4), top + self.px(0.27)), fill=(31, 78, 120))
        self.text(0.88, title, 11, bold=True, fill=(255, 255, 255))
        self.line(0.36)

    def field(self, label: str, value: str, boxed: bool = True) -> None:
        self.text(0.88, label, 10.5, bold=True)
        top = self.px(self.y - 0.05)
        if boxed:  # the template's cell borders, as Excel prints them
            self.draw.rectangle((self.px(3.3), top, self.px(7.4), top + self.px(0.26)), outline=(150, 150, 150),
                                width=1)
        self.text(3.38, value, 10.5)
        self.line(0.3)


def _bezier(p0, p1, p2, p3, steps: int = 40):
    for i in range(steps + 1):
        t = i / steps
        a, b, c, d = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t ** 3
        yield (a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0], a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1])


def scribble(page: Page, x: float, y: float, colour: bool) -> None:
    """A handwritten-like signature: a few joined random Bézier strokes
    across ~2 inches above the line at (x, y) inches."""
    rng = page.rng
    ink = (20, 40, 140) if colour else (25, 25, 25)
    width = max(2, page.dpi // 70)
    cx, cy = page.px(x), page.px(y)
    point = (cx, cy - page.px(0.15))
    for _ in range(rng.randrange(3, 6)):
        step = page.px(rng.uniform(0.3, 0.6))
        end = (point[0] + step, cy - page.px(rng.uniform(0.05, 0.45)))
        c1 = (point[0] + rng.uniform(-0.2, 0.6) * step, point[1] - page.px(rng.uniform(-0.4, 0.5)))
        c2 = (end[0] - rng.uniform(-0.2, 0.6) * step, end[1] + page.px(rng.uniform(-0.4, 0.5)))
        page.draw.line(list(_bezier(point, c1, c2, end)), fill=ink, width=width, joint="curve")
        point = end
    # the flourish under the name
    page.draw.line([(cx - page.px(0.1), cy - page.px(0.05)), (point[0], cy - page.px(0.12))], fill=ink, width=width)


def stamp(page: Page, x: float, y: float, colour: bool, town: str) -> None:
    """The office's round stamp over the line, in violet ink (grey when not colour)."""
    ink = (110, 60, 160) if colour else (90, 90, 90)
    r = page.px(0.62)
    cx, cy = page.px(x), page.px(y) - page.px(0.2)
    w = max(2, page.dpi // 75)
    page.draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=ink, width=w)
    page.draw.ellipse((cx - r + 3 * w, cy - r + 3 * w, cx + r - 3 * w, cy + r - 3 * w), outline=ink, width=max(1, w // 2))
    font = page.font(7, bold=True)
    for n, line in enumerate(("ALCALDÍA", town.upper()[:12], "DESPACHO")):
        tw = page.draw.textlength(line, font=font)
        page.draw.text((cx - tw / 2, cy - page.px(0.2) + n * page.px(0.14)), line, font=font, fill=ink)
