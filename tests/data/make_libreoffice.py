"""Regenerate the LibreOffice-saved test forms (needs Debian's libreoffice-calc-nogui).

    .venv/bin/python tests/data/make_libreoffice.py

Writes filled forms with openpyxl, then has LibreOffice open and save them
(as .xlsx, .ods and .xls), so the tests read files written by LibreOffice's
own code, not by openpyxl. The outputs are committed; CI does not need
LibreOffice.
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from tests import forms  # noqa: E402

FILTERS = {
    "xlsx": "xlsx:Calc MS Excel 2007 XML",
    "ods": "ods",
    "xls": "xls:MS Excel 97",
}


def convert(source: Path, target: Path, fmt: str) -> None:
    with tempfile.TemporaryDirectory() as out, tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            ["soffice", f"-env:UserInstallation=file://{profile}", "--headless",
             "--convert-to", FILTERS[fmt], "--outdir", out, str(source)],
            check=True, capture_output=True, timeout=180,
        )
        produced = Path(out) / f"{source.stem}.{fmt}"
        shutil.move(produced, target)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        filled = tmp / "form_filled.xlsx"
        filled.write_bytes(forms.filled_template(tmp))
        convert(filled, HERE / "form_libreoffice.xlsx", "xlsx")
        convert(filled, HERE / "form_libreoffice.ods", "ods")
        convert(filled, HERE / "form_libreoffice.xls", "xls")
    for name in ("form_libreoffice.xlsx", "form_libreoffice.ods", "form_libreoffice.xls"):
        print(name, (HERE / name).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
