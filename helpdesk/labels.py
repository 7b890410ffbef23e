"""Spanish names of states, finding codes and delivery statuses, for the
staff's screens.

The codes stay the contract's (JSON output, the database, the tests); a
person reads the label. One place for them, so that every screen (tickets,
show, queue, review, outbox, stats) says the same thing. The states' labels
are the state machine's own table (``tickets.STATE_LABELS``, which the
pipeline's and staff's messages use too), re-exported here.
``state_from_user`` reads ``--state``: a code or a Spanish name, accents
and case ignored."""

from __future__ import annotations

import unicodedata

from .tickets import (NEEDS_CORRECTION, PENDING_APPROVAL, RECEIVED, REJECTED, RESOLVED, STATE_LABELS,
                      STATES)

# Finding codes -> what staff read. Problems are also worded for the entity
# in rules/problems.toml; these are the short names of a listing.
CODE_LABELS = {
    # Problems (CONTRACT §6).
    "missing_signed_form": "falta el formato firmado y escaneado",
    "missing_excel_form": "falta el formato en Excel",
    "missing_acta_posesion": "falta el acta de posesión",
    "unreadable_document": "documento ilegible",
    "signed_form_not_scanned": "formato firmado generado por computador, sin escaneo ni firma",
    "missing_field": "falta un dato del formato",
    "invalid_nit": "NIT no válido",
    "invalid_email": "correo electrónico no válido",
    "no_accounts": "el formato no tiene cuentas",
    "invalid_account": "nombre de usuario no válido",
    # Warnings (CONTRACT §6 and ours).
    "sender_domain_mismatch": "el remitente no es del dominio de la entidad",
    "account_domain_mismatch": "una cuenta no es del dominio de la entidad",
    "account_not_an_address": "una cuenta es un nombre de usuario, no una dirección de la entidad",
    "legal_rep_not_in_acta": "el acta no menciona al representante legal",
    "unclassified_attachment": "adjunto sin clasificar",
    "ambiguous_documents": "documentos que no se pueden distinguir",
    "duplicate_request": "otra solicitud abierta para la misma entidad y cuentas",
    "sender_not_authenticated": "remitente no autenticado (DMARC)",
    "legal_rep_email_personal": "correo del representante legal en un proveedor gratuito",
    "legal_rep_email_changed": "cambió el correo del representante legal",
    "delivery_bounced": "nuestro correo rebotó",
    "message_too_large": "mensaje demasiado grande: solo se leyeron los encabezados",
    "reply_cap_reached": "límite diario de respuestas automáticas alcanzado",
    "reset_failed": "falló el reinicio de una cuenta",
    "untrusted_radicado_reference": "el asunto cita un radicado de otra entidad",
    "reply_from_outside": "respuesta desde fuera de la entidad",
    "examination_failed": "el examen de los documentos falló varias veces",
    "attachments_skipped": "adjuntos repetidos o de sobra que no se examinaron",
    "examination_time_exceeded": "adjuntos sin examinar por falta de tiempo",
}

# Outgoing email statuses (outbox rows).
DELIVERY_LABELS = {"pending": "en cola", "sent": "enviado", "failed": "fallido", "bounced": "rebotado"}

# Spanish names typed in --state, besides the contract's codes and the
# labels above; the first of each is the one help and errors suggest.
STATE_NAMES = {
    RECEIVED: ("recibida",),
    NEEDS_CORRECTION: ("por-corregir", "requiere-correccion"),
    PENDING_APPROVAL: ("pendiente", "pendiente-de-aprobacion"),
    RESOLVED: ("resuelta",),
    REJECTED: ("rechazada",),
}


def state_label(state: str) -> str:
    return STATE_LABELS.get(state, state)


def delivery_label(status: str) -> str:
    return DELIVERY_LABELS.get(status, status)


def code_label(code: str) -> str:
    return CODE_LABELS.get(code, code)


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
