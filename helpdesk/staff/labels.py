"""Spanish names of states, finding codes and delivery statuses, for the
staff's screens.

The codes stay the contract's (JSON output, the database, the tests); a
person reads the label. One place for them, so that every screen (tickets,
show, queue, review, outbox) says the same thing. The states' labels are
the state machine's own (``tickets.STATE_LABELS`` and ``tickets.state_label``,
which the pipeline, the operations' stats and staff's messages use too).
``state_from_user`` reads ``--state``: a code or a Spanish name, accents
and case ignored."""

from __future__ import annotations

import unicodedata

from ..rules import WEIGHTS, TrustRules
from ..tickets import (
    LINK_SENT,
    NEEDS_CORRECTION,
    PENDING_APPROVAL,
    RECEIVED,
    REJECTED,
    RESOLVED,
    STATE_LABELS,
    STATES,
    WITHDRAWN,
)

# Problem codes -> what staff read. Problems are also worded for the entity
# in rules/problems.toml; these are the short names of a listing.
CODE_LABELS = {
    # Problems (CONTRACT §6).
    "missing_signed_form": "falta el formato firmado y escaneado",
    "missing_excel_form": "falta el formato en Excel",
    "missing_acta_posesion": "falta el acta de posesión",
    "unreadable_document": "documento ilegible",
    "signed_form_not_scanned": "formato firmado generado por computador, sin escaneo ni firma",
    # Problems of a read scan (CONTRACT §11).
    "signed_form_not_the_form": "el escaneo enviado como formato firmado no es el formato",
    "signed_form_unsigned": "el formato escaneado no tiene firma",
    "signed_form_mismatch": "el formato firmado no corresponde al formato Excel",
    "acta_not_an_acta": "el escaneo enviado como acta no es un acta de posesión",
    "missing_field": "falta un dato del formato",
    "invalid_nit": "NIT no válido",
    "invalid_email": "correo electrónico no válido",
    "no_accounts": "el formato no tiene cuentas",
    "invalid_account": "nombre de usuario no válido",
    "invalid_choice": "valor que no es de la lista",
    "invalid_identifier": "identificador (CURP, RFC, cédula o NIT) no válido",
    "missing_identity_document": "falta el documento de identidad",
    "missing_declaration": "falta la declaración de responsabilidad",
    "identity_document_unreadable": "documento de identidad ilegible, en blanco o demasiado pequeño",
    "account_outside_domain": "cuenta fuera de los dominios de la entidad",
    "account_exists": "la cuenta que se pide crear ya existe",
    "account_not_found": "la cuenta que se pide modificar o eliminar no está activa",
    "signature_invalid": "firma digital que no valida o archivo modificado después de firmar",
    # Warnings are labelled, and weighed, in rules/trust.toml.
}

# Outgoing email statuses (outbox rows).
DELIVERY_LABELS = {"pending": "en cola", "sent": "enviado", "failed": "fallido", "bounced": "rebotado"}

# Spanish names typed in --state, besides the contract's codes and the
# labels above; the first of each is the one help and errors suggest.
STATE_NAMES = {
    RECEIVED: ("recibida",),
    NEEDS_CORRECTION: ("por-corregir", "requiere-correccion"),
    PENDING_APPROVAL: ("pendiente", "pendiente-de-aprobacion"),
    LINK_SENT: ("enlaces-enviados", "enlace"),
    RESOLVED: ("resuelta",),
    REJECTED: ("rechazada",),
    WITHDRAWN: ("desistida", "retirada", "desistimiento"),
}


def delivery_label(status: str) -> str:
    return DELIVERY_LABELS.get(status, status)


def code_label(code: str, trust: TrustRules) -> str:
    """What staff read for a finding code: a warning's label from
    rules/trust.toml, a problem's from CODE_LABELS."""
    warning = trust.warnings.get(code)
    return warning.label if warning else CODE_LABELS.get(code, code)


def risk_summary(codes: list[str], trust: TrustRules) -> str:
    """The line queue and show open with: how many warnings, and the
    strongest by its weight in rules/trust.toml (the first of equals)."""
    if not codes:
        return "Riesgo: sin advertencias"
    rank = {weight: n for n, weight in enumerate(WEIGHTS)}
    strongest = min(codes, key=lambda c: rank.get(trust.warnings[c].weight if c in trust.warnings else "bajo", 9))
    weight = trust.warnings[strongest].weight if strongest in trust.warnings else "bajo"
    count = f"{len(codes)} advertencia{'s' if len(codes) != 1 else ''}"
    return f"Riesgo: {count}; la más fuerte: {code_label(strongest, trust)} ({strongest}, peso {weight})"


def state_from_user(text: str) -> str | None:
    """The state code a person typed: a code, a label or a Spanish name
    (accents, case, spaces, hyphens and underscores ignored); None when it
    names none."""
    key = _fold(text)
    for state in STATES:
        if key in {_fold(name) for name in (state, STATE_LABELS[state], *STATE_NAMES[state])}:
            return state
    return None


def state_names_hint() -> str:
    """The names to suggest when --state is wrong: Spanish first, then the codes."""
    spanish = [STATE_NAMES[state][0] for state in STATES]
    return f"{', '.join(spanish[:-1])} o {spanish[-1]} (o el código: {', '.join(STATES)})"


def _fold(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text.strip().casefold())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return "-".join(plain.replace("_", " ").replace("-", " ").split())


def signature_line(sig: dict) -> str:
    """A PDF's digital signature as staff read it (show, review): who signed,
    the issuer, and whether it validates, covers the whole file and chains
    to [documents] trust_roots. Untrusted is information, not a problem."""
    def yes(value: bool) -> str:
        return "sí" if value else "no"

    trust = "de confianza" if sig.get("trusted") else "no de confianza (su raíz no está en [documents] trust_roots)"
    return (f"Firma digital: {sig.get('signer') or '(sin nombre)'}, emitida por {sig.get('issuer') or '(sin nombre)'}; "
            f"válida: {yes(sig.get('valid'))}; cubre todo el archivo: {yes(sig.get('covers_whole_file'))}; {trust}")
