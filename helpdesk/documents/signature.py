"""A PDF's digital signatures, validated with pyHanko (CONTRACT 11).

Runs only inside the limited worker process (``worker.py``): pyHanko has
its own PDF parser and ASN.1 decoder, and a hostile file meets them under
the worker's memory, CPU and wall-clock limits like any other parser.
Nothing goes over the network: the validation context never fetches
certificates, OCSP responses or CRLs (``allow_fetching=False``), so a
signature can point at any URL it likes.

What a clerk needs, and what ``DigitalSignature`` carries:

- ``valid``: every signature's digest is intact and its cryptography
  sound, whatever the trust; false as well when a signature cannot be
  parsed (a field with a garbage value is no evidence).
- ``covers_whole_file``: nothing was changed after signing. The last
  signature covers the entire file (pyHanko's ENTIRE_FILE); an earlier one
  (a document signed twice) covers its whole revision and what came after
  it is only further signatures or form filling, as pyHanko's difference
  analysis judges it. An incremental update that adds content after the
  last signature is not whole.
- ``signer`` / ``issuer``: the certificates' common names, "; " between
  distinct names when several people signed.
- ``trusted``: every signer's certificate chains to a root of
  ``[documents] trust_roots`` (none configured: untrusted, which is shown
  to staff and is never a problem).
"""

from __future__ import annotations

import io
import logging

from .reading import DigitalSignature

# Signatures validated per file: a form carries one or two (the legal
# representative's, perhaps a certification); a file with hundreds is
# built to spend the worker's time, and is judged on the first ones.
MAX_SIGNATURES = 5
# Names are shown to staff and compared; a certificate may say anything.
MAX_NAME_CHARS = 200

UNREADABLE = "la firma digital no se puede leer (su contenido está dañado o no es una firma PDF válida)"
BROKEN = "la firma digital no corresponde al contenido del archivo (el documento o la firma fueron alterados)"
CHANGED_AFTER = "el archivo fue modificado después de firmarlo (una actualización posterior no está cubierta por la firma)"
TOO_COMPLEX = "la firma digital no se pudo validar (su estructura supera los límites de memoria del examen)"
PARTIAL = "la firma digital no cubre todo el archivo (cubre solo una parte de su contenido)"


def validate(data: bytes, trust_roots_pem: bytes = b"") -> DigitalSignature | None:
    """The file's digital signatures as one judgement; None when it has no
    signature value at all (an empty signature field is not a signature).
    A signature that exhausts the worker's memory or nests too deep is not
    valid, and the rest of the file's facts stay (pypdf read them)."""
    try:
        return _validate(data, trust_roots_pem)
    except (MemoryError, RecursionError):
        return DigitalSignature(False, False, "", "", False, TOO_COMPLEX)


def _validate(data: bytes, trust_roots_pem: bytes) -> DigitalSignature | None:
    # pyHanko logs every anomaly it meets; the reply says what matters.
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)
    try:
        from pyhanko.pdf_utils.reader import PdfFileReader

        reader = PdfFileReader(io.BytesIO(data), strict=False)
        embedded = list(reader.embedded_regular_signatures)
    except Exception:  # pyHanko cannot even list them: pypdf saw a value, so it is a broken one
        return _unreadable()
    if not embedded:
        return None
    roots = _roots(trust_roots_pem)
    verdicts = [_one(sig, roots, last=(i == len(embedded) - 1))
                for i, sig in enumerate(embedded[:MAX_SIGNATURES])]
    if len(embedded) > MAX_SIGNATURES:
        verdicts.append(DigitalSignature(False, False, "", "", False,
                                         f"el archivo tiene más de {MAX_SIGNATURES} firmas digitales"))
    return _combine(verdicts)


def _one(sig, roots: list, last: bool) -> DigitalSignature:
    """One embedded signature, validated; whole means it leaves nothing
    unsigned after it (see the module's docstring)."""
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation import SignatureCoverageLevel, validate_pdf_signature

    try:
        signer, issuer = _names(sig.signer_cert)
    except Exception:
        return _unreadable()
    try:
        status = validate_pdf_signature(sig, _context(roots), key_usage_settings=_lenient_key_usage())
    except Exception:  # an unknown SubFilter, a broken CMS structure, a digest it cannot compute
        return DigitalSignature(False, False, signer, issuer, False, UNREADABLE)
    valid = bool(status.intact and status.valid)
    # After the last signature only archival updates (a DSS with the
    # chain's revocation data, a document timestamp: PAdES-LT/LTA, as
    # accredited CAs' tools add) leave it whole; after an earlier one, also
    # the next signer's field being filled and signed.
    allowed = ModificationLevel.LTA_UPDATES if last else ModificationLevel.FORM_FILLING
    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE or (
        status.coverage == SignatureCoverageLevel.ENTIRE_REVISION
        and status.modification_level is not None and status.modification_level <= allowed
        and status.docmdp_ok is not False)
    error = ""
    if not valid:
        error = BROKEN
    elif not whole:
        error = PARTIAL if status.coverage in (None, SignatureCoverageLevel.UNCLEAR,
                                               SignatureCoverageLevel.CONTIGUOUS_BLOCK_FROM_START) else CHANGED_AFTER
    return DigitalSignature(valid, whole, signer, issuer, bool(status.trusted), error)


def _combine(verdicts: list[DigitalSignature]) -> DigitalSignature:
    """Several signatures are one document: valid and whole only if every
    one is; the names of each, once."""
    return DigitalSignature(
        valid=all(v.valid for v in verdicts),
        covers_whole_file=all(v.covers_whole_file for v in verdicts),
        signer=_join(v.signer for v in verdicts),
        issuer=_join(v.issuer for v in verdicts),
        trusted=all(v.trusted for v in verdicts),
        error=next((v.error for v in verdicts if v.error), ""),
    )


def _join(names) -> str:
    seen: list[str] = []
    for name in names:
        if name and name not in seen:
            seen.append(name)
    return "; ".join(seen)


def _unreadable() -> DigitalSignature:
    return DigitalSignature(False, False, "", "", False, UNREADABLE)


def _names(cert) -> tuple[str, str]:
    """Subject and issuer common names (the organisation when a name has
    no CN), control characters out, bounded."""
    return _common_name(cert.subject), _common_name(cert.issuer)


def _common_name(name) -> str:
    native = name.native
    value = native.get("common_name") or native.get("organization_name") or ""
    if isinstance(value, list):
        value = value[0] if value else ""
    text = "".join(c if c.isprintable() else " " for c in str(value))
    return " ".join(text.split())[:MAX_NAME_CHARS]


def _roots(pem: bytes) -> list:
    """The configured trust roots as certificates (the daemon checked the
    bundle when it loaded the config; a broken one here means none)."""
    if not pem:
        return []
    from asn1crypto import pem as asn1_pem
    from asn1crypto import x509

    roots = []
    try:
        for _, _, der in asn1_pem.unarmor(pem, multiple=True):
            roots.append(x509.Certificate.load(der))
    except Exception:
        return []
    return roots


def _context(roots: list):
    """Trust only in the configured roots (an empty list: none; pyHanko's
    fallback to the system's TLS roots is for web servers, not for
    signers), and never a network fetch: revocation is not checked."""
    from pyhanko_certvalidator import ValidationContext

    return ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")


def _lenient_key_usage():
    """``valid`` is about the cryptography; a certificate whose key usage
    does not name signing is a matter of trust, not of a broken signature."""
    from pyhanko.sign.validation import KeyUsageConstraints

    return KeyUsageConstraints(key_usage=set())


def read_trust_roots(pem: bytes) -> int:
    """How many certificates a PEM bundle holds; ValueError when it holds
    none or one cannot be read (config loading names the key)."""
    from asn1crypto import pem as asn1_pem
    from asn1crypto import x509

    if not asn1_pem.detect(pem):
        raise ValueError("no es un archivo PEM de certificados")
    count = 0
    for kind, _, der in asn1_pem.unarmor(pem, multiple=True):
        if kind != "CERTIFICATE":
            raise ValueError(f"contiene un bloque «{kind}», no un certificado")
        x509.Certificate.load(der).native  # parses it all: a broken one fails here
        count += 1
    if not count:
        raise ValueError("no contiene certificados")
    return count
