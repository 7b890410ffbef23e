"""Step 1: a scanned page as a greyscale Pillow image at a resolution Tesseract reads well.

A PDF page that is one image drawn over the page, upright (no /Rotate, no
turn or flip in its matrix), as a JPEG (DCTDecode) or 8-bit grey or RGB
pixels (FlateDecode, possibly after ASCII85), is
taken as it is stored: decoding the JPEG costs a few tens of
milliseconds, where pdfium renders the same page at 200 dpi in 100-200 ms
(bench/ocr.py). Any other page (several images, a form XObject, a turned
image, JBIG2, CCITT, JPX) is rendered by pypdfium2 at ``RENDER_DPI``.

Resolution (bench/ocr.py, Tesseract 5.5 ``spa``, a 10 pt page): 150 dpi read
every word of the sample (confidence 94) in 0.52 s, 200 dpi the same words
in 0.66 s, 300 dpi in 0.78 s with no better reading. 200 dpi keeps small
print (8 pt) above the 20 px line height Tesseract needs; larger images are
reduced to ``MAX_LONG_SIDE`` (A4 at 300 dpi), which also bounds memory.
JPEGs are decoded already reduced (``draft``): a 12-megapixel phone photo
is never held whole.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

RENDER_DPI = 200
MAX_LONG_SIDE = 3508  # A4 at 300 dpi
# Pages whose image is smaller than this on its long side (a 100 dpi scan
# is 1169 px) are enlarged 2x: at 100 dpi 10 pt print is 14 px high and
# Tesseract misreads it.
MIN_LONG_SIDE = 1400
# A page rendered larger than this (a hostile MediaBox) is rendered smaller.
MAX_RENDER_PIXELS = 16_000_000
# Share of the page the image must cover to be taken directly.
DIRECT_MIN_COVERAGE = 0.9
# Filters whose output pypdf gives as raw pixels (a chain of them: reportlab
# writes ASCII85 then Flate).
_RAW_FILTERS = ("/FlateDecode", "/ASCII85Decode", "/ASCIIHexDecode", "/LZWDecode", "/RunLengthDecode")


@dataclass(frozen=True)
class Raster:
    image: object  # PIL.Image.Image, mode "L"
    how: str  # "imagen" (taken from the file) or "render" (drawn by pdfium)
    # The page's ink (image_quality.measure) when the caller measured the
    # file already: an image attachment's, measured by examine.py.
    ink_ppm: int | None = None


def sized(image):
    """``image`` in mode L within MIN_LONG_SIDE..MAX_LONG_SIDE (aspect kept)."""
    from PIL import Image

    if image.mode != "L":
        image = image.convert("L")
    long_side = max(image.size)
    if long_side > MAX_LONG_SIDE:
        scale = MAX_LONG_SIDE / long_side
    elif 0 < long_side < MIN_LONG_SIDE:
        scale = 2.0
    else:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR if scale < 1 else Image.Resampling.BICUBIC)


def image_file(data: bytes, max_pixels: int) -> Raster:
    """A JPG or PNG attachment (a scan, a phone photo), upright as its EXIF says."""
    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = max_pixels
    with Image.open(io.BytesIO(data)) as img:
        if img.format == "JPEG":
            img.draft("L", _draft_size(img.size))
        img.load()
        upright = ImageOps.exif_transpose(img)
        return Raster(sized(upright), "imagen")


def _draft_size(size: tuple[int, int]) -> tuple[int, int]:
    """The smallest size ``draft`` may decode to that still reaches MAX_LONG_SIDE."""
    long_side = max(size)
    if long_side <= MAX_LONG_SIDE:
        return size
    scale = MAX_LONG_SIDE / long_side
    return (math.ceil(size[0] * scale), math.ceil(size[1] * scale))


def pdf_page(reader, document, index: int) -> Raster:
    """Page ``index`` (0-based) of a PDF open in pypdf (``reader``) and, when
    it must be rendered, in pdfium (``document``: a callable that opens it
    once, on first need)."""
    try:
        direct = _direct_image(reader.pages[index])
    except Exception:  # pypdf or Pillow on a hostile stream (limits, bad data): pdfium has a go
        direct = None
    if direct is not None:
        return Raster(sized(direct), "imagen")
    return Raster(sized(_render(document(), index)), "render")


def _render(pdf, index: int):
    page = pdf[index]
    try:
        width, height = page.get_size()  # points
        scale = RENDER_DPI / 72
        if width * height * scale * scale > MAX_RENDER_PIXELS:
            scale = math.sqrt(MAX_RENDER_PIXELS / max(1.0, width * height))
        bitmap = page.render(scale=scale, grayscale=True)
        try:
            return bitmap.to_pil().convert("L")
        finally:
            bitmap.close()
    finally:
        page.close()


def _direct_image(page):
    """The page's one image as stored, when it is the whole page, upright,
    and a JPEG or 8-bit grey or RGB pixels (Flate and the like); None
    otherwise (the page is rendered)."""
    from PIL import Image

    if int(page.get("/Rotate", 0) or 0) % 360:
        return None
    resources = page.get("/Resources")
    contents = page.get_contents()
    if resources is None or contents is None:
        return None
    xobjects = resources.get_object().get("/XObject")
    if xobjects is None:
        return None
    xobjects = xobjects.get_object()
    images = [name for name in xobjects if xobjects[name].get_object().get("/Subtype") == "/Image"]
    if len(images) != 1 or len(xobjects) != 1:
        return None
    drawn = _drawn_matrix(contents.operations[:200], images[0])
    if drawn is None:
        return None
    a, b, c, d, e, f = drawn
    if abs(b) > 1e-6 or abs(c) > 1e-6 or a <= 0 or d <= 0:
        return None  # turned or flipped as drawn: pdfium draws it right
    box = page.mediabox
    page_w, page_h = float(box.width), float(box.height)
    if page_w <= 0 or page_h <= 0 or (a * d) / (page_w * page_h) < DIRECT_MIN_COVERAGE:
        return None
    obj = xobjects[images[0]].get_object()
    filters = obj.get("/Filter")
    filters = [filters] if isinstance(filters, str) else list(filters or [])
    jpeg = filters == ["/DCTDecode"]
    if not filters or not (jpeg or all(f in _RAW_FILTERS for f in filters)) or obj.get("/SMask") is not None \
            or obj.get("/ImageMask") or obj.get("/Decode") is not None:
        return None
    colour = obj.get("/ColorSpace")
    if jpeg:
        if colour == "/DeviceCMYK":
            return None  # Adobe's CMYK JPEGs are stored inverted: pdfium knows
        img = Image.open(io.BytesIO(obj.get_data()))  # DCT data comes out as stored: the JPEG file
        img.draft("L", _draft_size(img.size))
        img.load()
        return img
    if colour not in ("/DeviceGray", "/DeviceRGB") or int(obj.get("/BitsPerComponent", 0)) != 8:
        return None
    mode = "L" if colour == "/DeviceGray" else "RGB"
    width, height = int(obj["/Width"]), int(obj["/Height"])
    raw = obj.get_data()  # pypdf's decompression limits (pdf.py) hold here too
    if len(raw) < width * height * len(mode):
        return None
    return Image.frombuffer(mode, (width, height), raw, "raw", mode, 0, 1)


def _drawn_matrix(operations, name) -> tuple | None:
    """The matrix under which ``name`` is drawn at the top level of the
    content stream (q/Q and cm followed); None when it is not drawn once."""
    from ..pdf import draws

    found = [ctm for drawn, ctm in draws(operations) if drawn == name]
    return found[0] if len(found) == 1 else None
