"""The Tesseract engine of one worker process: found once, reused.

tesserocr's wheel carries libtesseract, but not the language data: that is
Debian's ``tesseract-ocr-spa`` (with ``tesseract-ocr``, which brings
``osd``). Two API objects per process (LIBRARY_NOTES, measured): one with
``lang="spa"`` that reads, and one with ``lang="osd"`` and
``PSM.OSD_ONLY`` that finds the page's orientation, because asking the
``spa`` API for the orientation aborts the whole process (SIGABRT from
C++, not a Python exception). An API is not thread-safe and takes 0.07-0.2 s
of CPU to load its model: the worker is one thread, so one of each per
process, kept once made. The reader is made at the first scan; the
orienter at the first doubtful page (orient.py), since most pages never
need it and every worker start paid its 0.08 s (10 MB of osd model).

Anything missing (the module, the folder, ``spa.traineddata``) is an
``EngineUnavailable`` whose message is the Spanish reason staff read in
``scan_not_read`` and the operator in ``helpdesk check``; never a crash.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Where Debian (bookworm and later: tesseract 5) and other systems put the
# language data. HELPDESK_TESSDATA names another folder (the tests point
# it at an empty one to prove a machine without the data is said, not
# crashed on); TESSDATA_PREFIX is Tesseract's own variable.
TESSDATA_ENV = "HELPDESK_TESSDATA"
TESSDATA_FOLDERS = ("/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata",
                    "/usr/share/tessdata", "/usr/local/share/tessdata")
LANGUAGE = "spa"

NO_ENGINE = ("no hay motor de OCR: falta el módulo tesserocr en el entorno de helpdesk "
             "(pip install tesserocr)")
INSTALL_SPANISH = "apt-get install tesseract-ocr tesseract-ocr-spa"


class EngineUnavailable(Exception):
    """Tesseract cannot run here: the message says why, in Spanish."""


@dataclass
class Engine:
    """The two APIs of this process and what they are, for ``engine``."""

    reader: object  # tesserocr.PyTessBaseAPI, lang "spa"
    version: str
    tessdata: str
    _orienter: object | None = None
    _orienter_tried: bool = False

    @property
    def name(self) -> str:
        return f"tesseract {self.version} ({LANGUAGE})"

    @property
    def orienter(self):
        """The OSD API (lang "osd", PSM.OSD_ONLY), made at its first use; None
        without osd.traineddata or when Tesseract cannot load it: pages are
        then read as they come (orient.py turns nothing)."""
        if not self._orienter_tried:
            self._orienter_tried = True
            if (Path(self.tessdata) / "osd.traineddata").is_file():
                import tesserocr

                try:
                    self._orienter = _api(self.tessdata, "osd", tesserocr.PSM.OSD_ONLY)
                except RuntimeError:
                    self._orienter = None
        return self._orienter


def _api(folder: str, lang: str, psm):
    """A Tesseract API on ``folder``'s ``lang`` model (tesserocr wants the
    folder with its trailing slash); RuntimeError when it cannot load."""
    import tesserocr

    return tesserocr.PyTessBaseAPI(path=folder.rstrip("/") + "/", lang=lang, psm=psm)


_engines: dict[str, Engine] = {}


def tessdata_folder() -> str:
    """The folder given by HELPDESK_TESSDATA or TESSDATA_PREFIX, else the
    first usual one that holds the Spanish data ("" when none does)."""
    given = os.environ.get(TESSDATA_ENV) or os.environ.get("TESSDATA_PREFIX")
    if given:
        return given
    for folder in TESSDATA_FOLDERS:
        if (Path(folder) / f"{LANGUAGE}.traineddata").is_file():
            return folder
    return ""


def engine(tessdata: str | None = None) -> Engine:
    """This process's engine for ``tessdata`` (default: ``tessdata_folder()``),
    made at the first call; EngineUnavailable when it cannot be."""
    folder = tessdata if tessdata is not None else tessdata_folder()
    if folder in _engines:
        return _engines[folder]
    try:
        import tesserocr
    except ImportError:
        raise EngineUnavailable(NO_ENGINE) from None
    if not folder or not (Path(folder) / f"{LANGUAGE}.traineddata").is_file():
        where = f" en {folder}" if folder else ""
        raise EngineUnavailable(f"faltan los datos del español para el OCR (spa.traineddata{where}); "
                                f"instálelos con {INSTALL_SPANISH}")
    try:
        reader = _api(folder, LANGUAGE, tesserocr.PSM.AUTO)
        # Inverted (white on black) lines are tried only for lines read
        # badly; forms and actas print none, and the retry cost 15-25% of
        # the time on noisy pages (bench/ocr.py).
        reader.SetVariable("tessedit_do_invert", "0")
    except RuntimeError as exc:
        raise EngineUnavailable(f"Tesseract no pudo cargar los datos del español de {folder} ({exc}); "
                                f"reinstálelos con {INSTALL_SPANISH}") from None
    made = Engine(reader, reader.Version(), folder)
    _engines[folder] = made
    return made
