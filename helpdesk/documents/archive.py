"""Zip files checked before anything decompresses them.

A zip's central directory declares each member's sizes; these are checked
against the limits (member count, size per member, total, compression
ratio) in well under a millisecond, before openpyxl or our own extraction
reads a byte. Extraction then reads at most the declared size plus one
byte, so a member that lies about its size is caught too.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class ZipLimits:
    max_members: int
    max_member_bytes: int
    max_total_bytes: int
    max_ratio: int


class UnsafeArchive(Exception):
    """The zip is a bomb, too large, or corrupt; the message says which, in Spanish."""


def check(data: bytes, limits: ZipLimits) -> list[zipfile.ZipInfo]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise UnsafeArchive(f"el archivo comprimido está dañado ({type(exc).__name__})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_members:
            raise UnsafeArchive(f"el archivo comprimido tiene {len(infos)} archivos; el máximo es {limits.max_members}")
        total = 0
        for info in infos:
            if info.file_size > limits.max_member_bytes:
                raise UnsafeArchive(f"«{info.filename[:80]}» ocupa {_mb(info.file_size)} descomprimido; "
                                    f"el máximo es {_mb(limits.max_member_bytes)}")
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_ratio and info.file_size > 1_000_000:
                raise UnsafeArchive(f"«{info.filename[:80]}» tiene una compresión anómala ({ratio:.0f}:1)")
            total += info.file_size
        if total > limits.max_total_bytes:
            raise UnsafeArchive(f"el contenido descomprimido ocupa {_mb(total)}; el máximo es {_mb(limits.max_total_bytes)}")
        return infos


def extract(data: bytes, limits: ZipLimits) -> list[tuple[str, bytes]]:
    """(name, bytes) of each file in a checked zip, folders skipped."""
    infos = check(data, limits)
    files = []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in infos:
            if info.is_dir() or is_system_file(info.filename):
                continue
            try:
                with zf.open(info) as member:
                    content = member.read(info.file_size + 1)
            except (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, OSError, EOFError,
                    ValueError) as exc:
                # RuntimeError: an encrypted member.
                raise UnsafeArchive(f"no se puede abrir «{info.filename[:80]}» ({type(exc).__name__})") from None
            if len(content) > info.file_size:
                raise UnsafeArchive(f"«{info.filename[:80]}» no tiene el tamaño que declara")
            files.append((info.filename.replace("\\", "/").rsplit("/", 1)[-1], content))
    return files


# What macOS and Windows add to a zip on their own: not the entity's files.
_SYSTEM_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}


def is_system_file(path: str) -> bool:
    parts = path.replace("\\", "/").split("/")
    name = parts[-1].lower()
    return "__MACOSX" in parts or name.startswith("._") or name in _SYSTEM_NAMES


def _mb(n: int) -> str:
    return f"{n / 1_048_576:.1f} MB"
