"""The checks of a PDF's digital signature (CONTRACT 11).

The worker validated each signature with pyHanko (documents/signature.py)
and sent the facts; these checks judge them, like any other check:

- ``signature_invalid`` (problem): a document the request relies on
  carries a signature that does not validate, or that does not cover the
  whole file (it was changed after signing). A signature field with a
  value proves nothing until it validates.
- ``signature_signer_differs`` (warning, "alto" in rules/trust.toml): the
  signed form's certificate names someone other than the person the form
  says signs it. The certificate's name is exact (no OCR in between), so
  a difference is a fact, not a misreading: someone else signed the
  authorisation that sends credentials to field 1.2's address, and
  approving it should need a deliberate acknowledgement. Names are
  compared tolerantly (accents, case, order and a missing second name or
  surname ignored) so that "LOPEZ GOMEZ MARIA FERNANDA 52123456" is
  María Fernanda López.

An untrusted root is not a finding: ``show`` says trusted or untrusted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rapidfuzz.distance import Levenshtein

from ..documents.classify import SIGNED_FORM
from ..documents.reading import DigitalSignature
from ..findings import PROBLEM, WARNING, Finding
from ..rules import Rules, normalise

if TYPE_CHECKING:
    # checks.py imports this module to register its checks.
    from .checks import Examination

# The form field naming who signs the form: the reset form's legal
# representative, or the account form's head of office (cuentas-correo).
SIGNER_FIELDS = ("legal_rep_name", "authoriser_name")
# Words of a name that say nothing about whose it is.
PARTICLES = frozenset({"de", "del", "la", "las", "los", "y", "e", "da", "van", "von"})
# A long name part still matches with one letter typed differently
# ("Gomes" for "Gómez" is two, "Jhon" for "John" is two: they do not).
TYPO_MIN_LENGTH = 5


def signature_counts(signature: DigitalSignature | None) -> bool:
    """Whether a digital signature is evidence: it validates and covers the whole file."""
    return signature is not None and signature.valid and signature.covers_whole_file


def check_signature_invalid(exam: Examination, rules: Rules) -> list[Finding]:
    """Each chosen document whose digital signature fails (a problem: the
    entity sends the document as it was signed, or signs it again)."""
    findings = []
    for classified in exam.chosen.values():
        signature = classified.facts.digital_signature
        if signature is not None and not signature_counts(signature):
            findings.append(Finding(PROBLEM, "signature_invalid", signature.error or _why(signature),
                                    classified.facts.filename))
    return findings


def _why(signature: DigitalSignature) -> str:
    if not signature.valid:
        return "la firma no corresponde al contenido del archivo"
    return "el archivo fue modificado después de firmarlo"


def check_signature_signer_differs(exam: Examination, rules: Rules) -> list[Finding]:
    """The signed form's valid digital signature names someone other than
    the form's signer (a warning for staff)."""
    signed = exam.chosen.get(SIGNED_FORM)
    form = exam.form
    signature = signed.facts.digital_signature if signed is not None else None
    if signature is None or not signature.valid or not signature.signer or form is None:
        return []  # an invalid one is signature_invalid's; its name proves nothing
    name = next((form.fields[f] for f in SIGNER_FIELDS if form.fields.get(f)), "")
    if not name or any(same_person(name, signer) for signer in signature.signer.split("; ")):
        return []
    issued = f" (certificado emitido por {signature.issuer})" if signature.issuer else ""
    return [Finding(WARNING, "signature_signer_differs",
                    f"el formato está firmado digitalmente por «{signature.signer}»{issued}, "
                    f"y quien lo firma según el formato es «{name}»", signed.facts.filename)]


def name_words(text: str) -> list[str]:
    """A name's words that identify someone: letters only, accents and case
    ignored, particles and initials out (a certificate's CN may carry a
    cédula number or "FIRMA" words: digits are dropped too)."""
    words = "".join(c if c.isalpha() else " " for c in normalise(text)).split()
    return [w for w in words if len(w) > 1 and w not in PARTICLES]


def same_person(form_name: str, certificate_name: str) -> bool:
    """The certificate names the form's person: at least two of the form
    name's words (all of them when it has one) are among the certificate's,
    in any order, a long word allowing one typo; and one of them is in the
    second half of the form's name, where "Nombres y apellidos" puts the
    surnames (the same first names alone are not the same person)."""
    wanted, have = name_words(form_name), name_words(certificate_name)
    if not wanted:
        return True  # nothing to compare: no warning drawn from an empty field
    found = [any(_same_word(w, h) for h in have) for w in wanted]
    return sum(found) >= min(2, len(wanted)) and any(found[len(wanted) // 2:])


def _same_word(a: str, b: str) -> bool:
    if a == b:
        return True
    return min(len(a), len(b)) >= TYPO_MIN_LENGTH and Levenshtein.distance(a, b, score_cutoff=1) <= 1
