"""Writing files where someone else may have been first.

Staff save an entity's attachments (``show --save-attachments``) and take
backups into folders that may already exist, in /tmp or a shared disk: a
symlink planted there under the expected name would make a plain ``open``
write through it, anywhere the staff member may write. Every file here is
created new (``O_EXCL``), never through a symlink (``O_NOFOLLOW``), private
to its owner; and names an entity chose are cut by bytes, not characters
(a long UTF-8 name cut at 200 characters can still exceed NAME_MAX).
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import Refused

# Well under NAME_MAX (255 bytes on Linux file systems).
MAX_NAME_BYTES = 200


def create_new(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to a file that must not exist yet (nor be a symlink)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError:
        raise Refused(f"{path} ya existe; elija una carpeta nueva o vacía") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def fit_name(name: str, limit: int = MAX_NAME_BYTES) -> str:
    """``name`` cut to ``limit`` UTF-8 bytes, keeping a short extension."""
    if len(name.encode("utf-8")) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    suffix = f".{ext}" if dot and stem and len(ext.encode("utf-8")) <= 10 else ""
    head = (stem if suffix else name).encode("utf-8")[: limit - len(suffix.encode("utf-8"))]
    return head.decode("utf-8", "ignore") + suffix
