"""Spanish text for the errors other code raises: the operating system's
(errno), SQLite's and tomllib's.

Their own texts are English (``Permission denied``, ``unable to open
database file``, ``Invalid value (at line 12, column 10)``) and reached
staff and operators through ``str(exc)`` or ``exc.strerror``. Every
message that shows such an error renders it here, so each kind is
translated in one place; one not in the tables is named by its code
(``EXDEV``), never shown in English. ``tests/test_spanish_screens.py``
fails when an English text reaches a screen.
"""

from __future__ import annotations

import ast
import errno
import re
import socket
import sqlite3
import ssl

OS_REASONS = {
    errno.ENOENT: "no existe",
    errno.EACCES: "permiso denegado",
    errno.EPERM: "operación no permitida",
    errno.EISDIR: "es una carpeta, no un archivo",
    errno.ENOTDIR: "una parte de la ruta no es una carpeta",
    errno.EEXIST: "ya existe",
    errno.ENOTEMPTY: "la carpeta no está vacía",
    errno.ENOSPC: "no queda espacio en el disco",
    errno.EDQUOT: "se agotó la cuota de disco",
    errno.EROFS: "el sistema de archivos es de solo lectura",
    errno.EIO: "error de lectura o escritura en el disco",
    errno.ENAMETOOLONG: "el nombre es demasiado largo",
    errno.ELOOP: "demasiados enlaces simbólicos seguidos",
    errno.EMFILE: "demasiados archivos abiertos",
    errno.ENFILE: "demasiados archivos abiertos en el sistema",
    errno.EBUSY: "está en uso",
    errno.ETXTBSY: "el programa está en uso",
    errno.ENOEXEC: "no es un programa ejecutable",
    errno.EXDEV: "no se puede mover entre dos sistemas de archivos",
    errno.ENOMEM: "no hay memoria suficiente",
    errno.EAGAIN: "recurso no disponible por ahora",
    errno.ECONNREFUSED: "conexión rechazada (¿está en marcha el servidor en ese puerto?)",
    errno.ECONNRESET: "el servidor cortó la conexión",
    errno.ECONNABORTED: "la conexión se interrumpió",
    errno.ETIMEDOUT: "se agotó el tiempo de espera",
    errno.EHOSTUNREACH: "no hay ruta hasta el servidor",
    errno.ENETUNREACH: "la red no está disponible",
    errno.EADDRINUSE: "la dirección ya está en uso",
    errno.EADDRNOTAVAIL: "la dirección no es de esta máquina",
    errno.EPIPE: "la otra parte cerró la conexión",
    errno.ENOTCONN: "no hay conexión",
}

# getaddrinfo's failures (socket.gaierror) carry EAI_* codes instead of errno.
DNS_REASONS = {
    socket.EAI_NONAME: "el nombre del servidor no existe (DNS)",
    socket.EAI_AGAIN: "falla temporal al resolver el nombre del servidor (DNS)",
    socket.EAI_FAIL: "falla al resolver el nombre del servidor (DNS)",
}


def os_reason(exc: OSError) -> str:
    """What went wrong, without the file name: ``permiso denegado``."""
    if isinstance(exc, socket.gaierror):
        return DNS_REASONS.get(exc.errno, "no se pudo resolver el nombre del servidor (DNS)")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificado no válido ({exc.verify_message})" if exc.verify_message else "certificado no válido"
    if isinstance(exc, ssl.SSLError):
        return f"falla de TLS ({exc.reason})" if exc.reason else "falla de TLS"
    if exc.errno in OS_REASONS:
        return OS_REASONS[exc.errno]
    if isinstance(exc, TimeoutError):
        return OS_REASONS[errno.ETIMEDOUT]
    if exc.errno:
        return f"error del sistema {errno.errorcode.get(exc.errno, exc.errno)}"
    return f"error del sistema ({type(exc).__name__})"


def os_error(exc: OSError) -> str:
    """The reason and the file it concerns: ``permiso denegado: /etc/helpdesk/config.toml``."""
    reason = os_reason(exc)
    if exc.filename is not None and exc.filename2 is not None:
        return f"{reason}: {exc.filename} -> {exc.filename2}"
    if exc.filename is not None:
        return f"{reason}: {exc.filename}"
    return reason


# sqlite3 reports by message, not by code, on Python 3.11 for most errors.
SQLITE_REASONS = (
    ("unable to open database file", "no se puede abrir el archivo de la base de datos (¿existe su carpeta y "
                                     "tiene permiso este usuario?)"),
    ("database is locked", "la base de datos está bloqueada por otro proceso"),
    ("attempt to write a readonly database", "este usuario no puede escribir en la base de datos"),
    ("file is not a database", "el archivo no es una base de datos SQLite"),
    ("database disk image is malformed", "la base de datos está dañada (restaure una copia)"),
    ("disk I/O error", "error de lectura o escritura en el disco"),
    ("database or disk is full", "no queda espacio en el disco"),
)


def sqlite_reason(exc: sqlite3.Error) -> str:
    text = str(exc)
    for english, spanish in SQLITE_REASONS:
        if english in text:
            return spanish
    return f"error de SQLite ({type(exc).__name__})"


# tomllib (Python 3.11) writes "<reason> (at line L, column C)" or "(at end of document)".
TOML_POSITION = re.compile(r"^(?P<reason>.*) \(at (?:line (?P<line>\d+), column (?P<column>\d+)|end of document)\)$",
                           re.DOTALL)
TOML_REASONS = (
    (r"Invalid value", "valor no válido (un texto va entre comillas; verdadero o falso es true o false)"),
    (r"Invalid statement", "línea no válida (se espera clave = valor o [sección])"),
    (r"Expected newline or end of document after a statement", "sobra algo después del valor"),
    (r"Expected '=' after a key in a key/value pair", "falta «=» después de la clave"),
    (r"Invalid initial character for a key part", "carácter no válido al comienzo de una clave"),
    (r"Expected '\]' at the end of a table declaration", "falta «]» al final del nombre de la sección"),
    (r"Expected '\]\]' at the end of an array declaration", "falta «]]» al final del nombre de la sección"),
    (r"Unclosed array", "falta cerrar la lista con «]»"),
    (r"Unclosed inline table", "falta cerrar la tabla con «}»"),
    (r"Unterminated string", "falta cerrar las comillas del texto"),
    (r"Unescaped '\\' in a string", "una «\\» dentro de comillas dobles debe escribirse «\\\\» "
                                    "(o use comillas simples)"),
    (r"Invalid hex value", "código \\u o \\U no válido dentro de un texto"),
    (r"Escaped character is not a Unicode scalar value", "carácter escapado que no existe en Unicode"),
    (r"Invalid date or datetime", "fecha u hora no válida"),
    (r"Cannot overwrite a value", "la clave ya tiene un valor (está repetida)"),
    (r"Cannot declare (?P<key>.+) twice", "la sección {key} aparece dos veces"),
    (r"Cannot mutate immutable namespace (?P<key>.+)", "{key} ya se definió entera y no se puede ampliar"),
    (r"Cannot redefine namespace (?P<key>.+)", "{key} ya se definió y no se puede redefinir"),
    (r"Duplicate inline table key (?P<key>.+)", "clave repetida en la tabla: {key}"),
    (r"Found invalid character (?P<char>.+)", "carácter no válido: {char}"),
    (r"Illegal character (?P<char>.+)", "carácter no permitido: {char}"),
    (r"Expected (?P<char>.+)", "se esperaba {char}"),
)


def _toml_key(text: str) -> str:
    """tomllib names a key as a tuple, ``('inbox', 'port')``: show ``[inbox.port]``."""
    try:
        parts = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    if isinstance(parts, tuple):
        return "[" + ".".join(str(p) for p in parts) + "]"
    return str(parts)


def toml_error(exc: ValueError, text: str | None = None) -> str:
    """``TOML inválido en la línea 12, columna 10 («port = abc»): valor no
    válido (...)`` for a tomllib.TOMLDecodeError; ``text`` is the document,
    to quote its line."""
    message = str(exc)
    match = TOML_POSITION.match(message)
    reason = match["reason"] if match else message
    spanish = "sintaxis no válida"
    for pattern, template in TOML_REASONS:
        found = re.fullmatch(pattern, reason)
        if found:
            values = found.groupdict()
            if "key" in values:
                values["key"] = _toml_key(values["key"])
            spanish = template.format(**values)
            break
    if not match:
        return f"TOML inválido: {spanish}"
    if match["line"] is None:
        return f"TOML inválido al final del archivo: {spanish}"
    number = int(match["line"])
    lines = text.splitlines() if text is not None else []
    quoted = f" («{lines[number - 1].strip()[:80]}»)" if 0 < number <= len(lines) and lines[number - 1].strip() else ""
    return f"TOML inválido en la línea {number}, columna {match['column']}{quoted}: {spanish}"


# imaplib and imapclient put a server's reply in their message as a bytes
# literal: "b'[AUTHENTICATIONFAILED] Authentication failed.'".
BYTES_LITERAL = re.compile(r"""b(['"])((?:\\.|(?!\1).)*)\1""")


def _decoded(literal: str) -> str:
    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError):
        return literal
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def server_words(exc: BaseException) -> str:
    """A mail server's refusal as ``«its own words»`` (decoded; they are the
    server's, in its language), or what became of the connection."""
    import imaplib

    if isinstance(exc, EOFError):
        return "el servidor cerró la conexión"
    raw = exc.args[0] if exc.args else ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    text = BYTES_LITERAL.sub(lambda m: _decoded(m.group(0)), text).strip()
    if isinstance(exc, imaplib.IMAP4.abort):
        return f"la conexión con el servidor se cortó ({text})" if text else "la conexión con el servidor se cortó"
    return f"«{text}»" if text else f"el servidor no dio explicación ({type(exc).__name__})"


def describe(exc: BaseException) -> str:
    """Any error a screen may show, in Spanish (expected failures keep their own text)."""
    from .errors import HelpdeskError

    if isinstance(exc, HelpdeskError):
        return str(exc)
    if isinstance(exc, OSError):
        return os_error(exc)
    if isinstance(exc, sqlite3.Error):
        return sqlite_reason(exc)
    return f"error inesperado ({type(exc).__name__})"
