"""Spanish names of states and finding codes, for the staff's screens.

The codes stay the contract's (JSON output, the database, the tests); a
person reads the label. One table here, so that every screen (tickets,
show, queue, review, outbox) says the same thing. ``state_from_user``
accepts the Spanish names too for ``--state``, accents and case ignored.
"""

from __future__ import annotations

import unicodedata

from .tickets import STATE_LABELS, STATES

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
}

# Outgoing email statuses (outbox rows).
DELIVERY_LABELS = {"pending": "en cola", "sent": "enviado", "failed": "fallido", "bounced": "rebotado"}

# Spanish names typed in --state, besides the contract's codes.
STATE_NAMES = {
    "recibida": "received",
    "requiere-correccion": "needs_correction",
    "por-corregir": "needs_correction",
    "pendiente": "pending_approval",
    "pendiente-de-aprobacion": "pending_approval",
    "resuelta": "resolved",
    "rechazada": "rejected",
}


def state_label(state: str) -> str:
    return STATE_LABELS.get(state, state)


def delivery_label(status: str) -> str:
    return DELIVERY_LABELS.get(status, status)


def code_label(code: str) -> str:
    return CODE_LABELS.get(code, code)


def state_from_user(text: str) -> str | None:
    """The state code a person typed: a code or a Spanish name (accents,
    case, spaces and underscores ignored); None when it names none."""
    key = _fold(text)
    for state in STATES:
        if key in (_fold(state), _fold(STATE_LABELS[state])):
            return state
    return STATE_NAMES.get(key)


def _fold(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text.strip().casefold())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return "-".join(plain.replace("_", " ").replace("-", " ").split())
