"""rules/*.toml -> typed rules, refused at start-up with file, key and reason.

The form's labels, the required fields and the accounts table live in
``rules/form.toml``: an office that renames a label or adds a required
field edits that file, not the code. Labels are stored normalised (see
``normalise``) so that comparing them is a dictionary lookup.
"""

from __future__ import annotations

import os
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError


def shipped_dir() -> Path:
    """The rules shipped inside the package (what ``[rules] path`` overrides)."""
    from .config import Config

    return Config().rules_dir


def __getattr__(name: str) -> Path:
    # RULES_DIR is found when first asked for, not at import: the document
    # worker imports this module too, and a broken install must fail with
    # its one-line error where the rules are loaded, not on an import.
    if name == "RULES_DIR":
        return shipped_dir()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def normalise(text: object) -> str:
    """Accents, case, colons, asterisks and spacing removed: 'CORREO ELECTRÓNICO:' -> 'correo electronico'."""
    text = unicodedata.normalize("NFKD", str(text or ""))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = re.sub(r"[:*()\[\]]", " ", text)
    return " ".join(text.split())


def strip_numbering(text: str) -> str:
    """'1.2 datos del representante legal' -> 'datos del representante legal'."""
    return re.sub(r"^\d+(\.\d+)*\.?\s*", "", text)


# What a field holds, for the checks and the blank form: free text, an
# email address, or one of a short list (a drop-down in the blank form).
FIELD_TYPES = ("text", "email", "choice")


@dataclass(frozen=True)
class FieldRule:
    key: str
    section: str
    labels: tuple[str, ...]  # normalised
    required: bool
    name: str  # how messages call it, in Spanish
    type: str = "text"  # one of FIELD_TYPES
    choices: tuple[str, ...] = ()  # as written in the blank form (type "choice")
    label: str = ""  # the first label as written, for the blank form


@dataclass(frozen=True)
class AccountsRule:
    type_labels: tuple[str, ...]
    account_labels: tuple[str, ...]
    email_types: tuple[str, ...]
    web_user_types: tuple[str, ...]
    max_rows: int


@dataclass(frozen=True)
class FormRules:
    sections: dict[str, tuple[str, ...]]  # section key -> normalised titles, numbering removed
    fields: dict[str, FieldRule]
    accounts: AccountsRule | None  # the accounts table; None: the form has none
    max_rows: int
    max_columns: int
    max_sheets: int
    title: str = ""  # a procedure's own form: the blank form's heading
    section_titles: tuple[tuple[str, str], ...] = ()  # (key, first title as written), in order

    def section_of_title(self, text: str) -> str | None:
        bare = strip_numbering(text)
        for key, titles in self.sections.items():
            if bare in titles:
                return key
        return None


class _Reader:
    """Typed access to one TOML table, every error naming file and key."""

    def __init__(self, path: Path, data: dict, prefix: str = ""):
        self.path, self.data, self.prefix = path, data, prefix

    def fail(self, key: str, reason: str) -> ConfigError:
        return ConfigError(f"{self.path}: {self.prefix}{key}: {reason}")

    def table(self, key: str) -> "_Reader":
        value = self.data.get(key)
        if not isinstance(value, dict):
            raise self.fail(key, "falta la tabla o no es una tabla")
        return _Reader(self.path, value, f"{self.prefix}{key}.")

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(key, "se esperaba una lista no vacía de textos")
        return tuple(value)

    def string(self, key: str) -> str:
        value = self.data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "se esperaba un texto no vacío")
        return value

    def boolean(self, key: str) -> bool:
        value = self.data.get(key)
        if not isinstance(value, bool):
            raise self.fail(key, "se esperaba true o false")
        return value

    def integer(self, key: str, low: int = 1, high: int = 1_000_000, default: int | None = None) -> int:
        """An integer in [low, high]; ``default`` (when given) stands for a
        key that a rules folder of an earlier version does not have yet."""
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(key, f"se esperaba un número entero entre {low} y {high}")
        return value

    def only(self, *keys: str) -> None:
        for key in self.data:
            if key not in keys:
                raise self.fail(key, "clave desconocida")


def _read(rules_dir: Path | None, name: str) -> _Reader:
    rules_dir = rules_dir or shipped_dir()
    path = rules_dir / name
    try:
        with open(path, "rb") as fh:
            return _Reader(path, tomllib.load(fh))
    except FileNotFoundError:
        raise _missing(rules_dir, name) from None
    except tomllib.TOMLDecodeError as exc:
        from .config_errors import invalid_toml

        raise ConfigError(invalid_toml(path, exc)) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: no está en UTF-8; guárdelo con codificación UTF-8") from None
    except OSError as exc:
        from .config_errors import unreadable

        raise ConfigError(unreadable(path, exc)) from None


def _missing(rules_dir: Path, name: str) -> ConfigError:
    """A rule file that is not there: say where it was looked for and which
    key chose that folder, since the file itself has nothing to correct."""
    shipped = shipped_dir()
    if rules_dir == shipped:
        return ConfigError(f"{rules_dir / name}: falta este archivo de las reglas incluidas en helpdesk "
                           "(instalación incompleta); reinstale helpdesk o indique con rules.path "
                           "una carpeta que lo tenga")
    if not rules_dir.is_dir():
        return ConfigError(f"{rules_dir}: no existe la carpeta de reglas; corrija rules.path en la "
                           "configuración o quítela para usar las reglas incluidas en helpdesk")
    return ConfigError(f"{rules_dir / name}: falta este archivo en la carpeta de reglas indicada por "
                       f"rules.path; cópielo de {shipped / name} o corrija rules.path")


def load_form(rules_dir: Path | None = None, own: bool = False) -> FormRules:
    """rules/form.toml, the reset form (its sections, fields and accounts
    table are what the reset procedure's checks read); ``own``: a
    procedure's own form.toml, which needs only what its procedure.toml
    names, may leave out the accounts table and carries its blank form's
    title."""
    top = _read(rules_dir, "form.toml")
    top.only("sections", "fields", "accounts", "reading", *(("title",) if own else ()))
    sections_table = top.table("sections")
    sections, section_titles = {}, []
    for key in sections_table.data:
        titles = sections_table.table(key)
        titles.only("titles")
        written = titles.strings("titles")
        sections[key] = tuple(strip_numbering(normalise(t)) for t in written)
        section_titles.append((key, written[0]))
    for needed in () if own else ("entity", "legal_rep", "accounts"):
        if needed not in sections:
            raise sections_table.fail(needed, "falta esta sección")
    fields_table = top.table("fields")
    fields = {}
    for key in fields_table.data:
        f = fields_table.table(key)
        f.only("section", "labels", "required", "name", "type", "choices")
        section = f.string("section")
        if section not in sections:
            raise f.fail("section", f"la sección {section!r} no está definida en [sections]")
        kind = f.data.get("type", "text")
        if kind not in FIELD_TYPES:
            raise f.fail("type", f"se esperaba uno de: {', '.join(FIELD_TYPES)}")
        choices = f.strings("choices") if kind == "choice" else ()
        if kind != "choice" and "choices" in f.data:
            raise f.fail("choices", 'solo un campo de type = "choice" tiene choices')
        labels = f.strings("labels")
        fields[key] = FieldRule(key, section, tuple(normalise(x) for x in labels), f.boolean("required"),
                                f.string("name"), kind, choices, labels[0])
    for needed in () if own else ("entity_name", "entity_nit", "legal_rep_name", "legal_rep_email"):
        if needed not in fields:
            raise fields_table.fail(needed, "el programa necesita este campo")
    reading = top.table("reading")
    reading.only("max_rows", "max_columns", "max_sheets")
    limits = (reading.integer("max_rows", 10, 100_000), reading.integer("max_columns", 5, 1_000),
              reading.integer("max_sheets", 1, 100))
    title = top.string("title") if own else ""
    accounts = _accounts_table(top) if (not own or "accounts" in top.data) else None
    return FormRules(sections, fields, accounts, *limits, title, tuple(section_titles))


def _accounts_table(top: _Reader) -> AccountsRule:
    acc = top.table("accounts")
    acc.only("type_labels", "account_labels", "email_types", "web_user_types", "max_rows")
    accounts = AccountsRule(
        type_labels=tuple(normalise(x) for x in acc.strings("type_labels")),
        account_labels=tuple(normalise(x) for x in acc.strings("account_labels")),
        email_types=tuple(normalise(x) for x in acc.strings("email_types")),
        web_user_types=tuple(normalise(x) for x in acc.strings("web_user_types")),
        max_rows=acc.integer("max_rows", 1, 10_000),
    )
    return accounts


@dataclass(frozen=True)
class KindRule:
    key: str  # signed_form | excel_form | acta_posesion
    name: str  # as the entity reads it
    text_words: tuple[str, ...]  # normalised
    filename_words: tuple[str, ...]  # normalised


@dataclass(frozen=True)
class DocumentLimits:
    max_file_bytes: int
    max_zip_members: int
    max_zip_member_bytes: int
    max_zip_total_bytes: int
    max_zip_ratio: int
    max_zip_depth: int
    max_image_pixels: int


# Workers started when [worker] processes = 0: one per core, at most this
# many (each may hold memory_mb).
MAX_AUTO_PROCESSES = 4


@dataclass(frozen=True)
class WorkerLimits:
    memory_mb: int
    cpu_seconds: int
    timeout_seconds: int  # wall clock per file
    ticket_seconds: int  # wall clock for all the files of one ticket
    processes: int = 0  # document workers examining at once; 0: one per core the service may use

    def process_count(self) -> int:
        if self.processes:
            return self.processes
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            cores = os.cpu_count() or 1
        return max(1, min(cores, MAX_AUTO_PROCESSES))


@dataclass(frozen=True)
class DocumentRules:
    kinds: dict[str, KindRule]
    limits: DocumentLimits
    worker: WorkerLimits


# Examination time of one ticket when documents.toml does not say (a rules
# folder copied from a version before the key existed).
DEFAULT_TICKET_SECONDS = 60

KINDS = ("signed_form", "excel_form", "acta_posesion")
PROBLEM_CODES = (
    "missing_signed_form", "missing_excel_form", "missing_acta_posesion", "unreadable_document",
    "signed_form_not_scanned", "missing_field", "invalid_nit", "invalid_email", "no_accounts",
)


def load_documents(rules_dir: Path | None = None) -> DocumentRules:
    top = _read(rules_dir, "documents.toml")
    top.only("kinds", "limits", "worker")
    kinds_table = top.table("kinds")
    kinds = {}
    # The reset's three kinds must be there; a procedure may ask for more
    # (identity_document, declaration), each a table of its own.
    for key in (*KINDS, *(k for k in kinds_table.data if k not in KINDS)):
        if not re.fullmatch(r"[a-z][a-z_]{1,40}", key):
            raise kinds_table.fail(key, "nombre de documento no válido; use minúsculas y _")
        k = kinds_table.table(key)
        k.only("name", "text_words", "filename_words")
        text_words = k.data.get("text_words", [])
        if not isinstance(text_words, list) or not all(isinstance(w, str) for w in text_words):
            raise k.fail("text_words", "se esperaba una lista de textos")
        kinds[key] = KindRule(key, k.string("name"), tuple(normalise(w) for w in text_words),
                              tuple(normalise(w) for w in k.strings("filename_words")))
    lim = top.table("limits")
    names = [f for f in DocumentLimits.__dataclass_fields__]
    lim.only(*names)
    limits = DocumentLimits(**{n: lim.integer(n, 1, 10**12) for n in names})
    work = top.table("worker")
    work.only("memory_mb", "cpu_seconds", "timeout_seconds", "ticket_seconds", "processes")
    worker = WorkerLimits(work.integer("memory_mb", 64, 65_536), work.integer("cpu_seconds", 1, 3600),
                          work.integer("timeout_seconds", 1, 3600),
                          work.integer("ticket_seconds", 1, 36_000, default=DEFAULT_TICKET_SECONDS),
                          work.integer("processes", 0, 64, default=0))
    return DocumentRules(kinds, limits, worker)


def load_problems(rules_dir: Path | None = None, shared: dict[str, str] | None = None) -> dict[str, str]:
    """Problem code -> wording with {detail} and {document} placeholders.
    ``shared``: the rules folder's wording, which a procedure's own
    problems.toml overrides code by code (it need not word every one)."""
    top = _read(rules_dir, "problems.toml")
    top.only("problems")
    table = top.table("problems")
    wording = {}
    for code in table.data:
        entry = table.table(code)
        entry.only("text")
        text = entry.string("text")
        try:
            text.format(detail="", document="")
        except (KeyError, IndexError, ValueError) as exc:
            raise entry.fail("text", f"marcador no válido ({exc}); use solo {{detail}} y {{document}}") from None
        wording[code] = text
    if shared is not None:
        return {**shared, **wording}
    for code in PROBLEM_CODES:
        if code not in wording:
            raise table.fail(code, "falta la redacción de este problema")
    return wording


# Warning weights, strongest first (rules/trust.toml).
WEIGHTS = ("alto", "medio", "bajo")


# Every warning code the program raises (a finding of kind "warning"):
# rules/trust.toml labels and weighs them, and a code there that is not one
# of these is a typo that would silently weigh nothing.
WARNING_CODES = (
    "sender_not_authenticated", "legal_rep_email_personal", "legal_rep_email_changed", "reply_from_outside",
    "untrusted_radicado_reference", "entity_not_in_directory", "entity_name_mismatch", "sender_domain_mismatch",
    "legal_rep_domain_mismatch", "legal_rep_not_in_acta", "legal_rep_role_unexpected", "legal_rep_role_not_in_acta",
    "account_domain_mismatch", "account_not_an_address", "account_register_empty", "account_unknown",
    "account_action_failed", "ambiguous_documents", "attachments_skipped", "duplicate_request",
    "examination_failed", "examination_time_exceeded", "message_too_large", "reply_cap_reached", "reset_failed",
    "delivery_bounced", "sender_not_registered", "unclassified_attachment",
    # CONTRACT §13: the procedures that hand over an account.
    "identity_document_mismatch", "scan_not_read", "account_holder_differs", "lookalike_domain",
    "change_cancelled_by_owner",
    # CONTRACT §11: a digital signature by someone else than the form's signer.
    "signature_signer_differs",
    # CONTRACT §11: the signed form's scan names another entity than the Excel form.
    "signed_form_entity_differs",
)
# CONTRACT §6 and §13: these weigh "alto" whatever a local trust.toml says,
# since approval asks for --acknowledge-warnings on them.
CONTRACT_HIGH_RISK = ("sender_not_authenticated", "legal_rep_email_personal", "legal_rep_email_changed",
                      "sender_not_registered", "identity_document_mismatch", "account_holder_differs",
                      "change_cancelled_by_owner")


@dataclass(frozen=True)
class WarningRule:
    label: str  # what staff read
    weight: str  # one of WEIGHTS


@dataclass(frozen=True)
class Role:
    """A legal representative of seed 000 (Alcalde, Gobernador, ...)."""

    name: str
    words: tuple[str, ...]  # normalised
    entity_words: tuple[str, ...]  # normalised


@dataclass(frozen=True)
class TrustRules:
    warnings: dict[str, WarningRule]
    free_mail: frozenset[str]
    roles: tuple[Role, ...]

    def is_free_mail(self, domain: str) -> bool:
        return domain.strip().lower().rstrip(".") in self.free_mail

    def high_risk(self) -> tuple[str, ...]:
        return tuple(code for code, rule in self.warnings.items() if rule.weight == "alto")


def load_trust(rules_dir: Path | None = None) -> TrustRules:
    """rules/trust.toml. A rules folder made before the file existed gets
    the shipped one rather than refusing to start."""
    if rules_dir is not None and not (rules_dir / "trust.toml").exists():
        rules_dir = None
    top = _read(rules_dir, "trust.toml")
    top.only("warnings", "free_mail", "roles")
    warnings = _warning_rules(top.table("warnings"))
    if rules_dir is not None:
        # A local file made before a code existed: the shipped label and
        # weight for it, rather than no weight at all.
        shipped = _warning_rules(_read(None, "trust.toml").table("warnings"))
        warnings = {**shipped, **warnings}
    free = top.table("free_mail")
    free.only("domains")
    roles_data = top.data.get("roles")
    if not isinstance(roles_data, list) or not roles_data:
        raise top.fail("roles", "se esperaba una lista de tablas [[roles]]")
    roles = []
    for n, data in enumerate(roles_data):
        entry = _Reader(top.path, data if isinstance(data, dict) else {}, f"roles[{n}].")
        entry.only("name", "words", "entity_words")
        roles.append(Role(entry.string("name"), tuple(normalise(w) for w in entry.strings("words")),
                          tuple(normalise(w) for w in entry.strings("entity_words"))))
    return TrustRules(warnings, frozenset(d.strip().lower() for d in free.strings("domains")), tuple(roles))


def _warning_rules(table: _Reader) -> dict[str, WarningRule]:
    warnings = {}
    for code in table.data:
        entry = table.table(code)
        if code not in WARNING_CODES:
            raise table.fail(code, "código de advertencia desconocido (¿un error de escritura?)")
        entry.only("label", "weight")
        weight = entry.string("weight")
        if weight not in WEIGHTS:
            raise entry.fail("weight", f"se esperaba uno de: {', '.join(WEIGHTS)}")
        if code in CONTRACT_HIGH_RISK and weight != "alto":
            raise entry.fail("weight", "esta advertencia pesa «alto» (CONTRATO §6): la aprobación pide revisarla")
        warnings[code] = WarningRule(entry.string("label"), weight)
    return warnings


# What approval of a procedure's request does (staff/decisions.py for
# "reset", staff/accounts.py for "account"), and the form fields each
# action reads: a procedure whose form lacks one is refused at start.
ACTIONS = ("reset", "account", "unlock", "change_email")
# Actions that give control of an account to whoever the request names
# (CONTRACT §13): unlock, change of the registered email, and the creation,
# modification or deletion of an account.
HANDOVER_ACTIONS = ("unlock", "change_email", "account")
ACTION_FIELDS = {
    "reset": ("legal_rep_email",),
    "account": ("request_type", "account", "official_name"),
    "unlock": ("account",),
    "change_email": ("identifier", "new_email"),
}
# Not a form field: the address the account has registered in the
# directory, looked up by the examination ([selfservice] lookup); a
# procedure's result_to may name it.
REGISTERED_EMAIL = "registered_email"
# Likewise the holder's name the lookup returns, shown to staff beside the
# form's (CONTRACT §13).
REGISTERED_NAME = "registered_name"
# How a procedure's person proves who they are (helpdesk/identifiers/).
IDENTIFIERS = ("", "curp", "rfc", "cedula", "nit")


@dataclass(frozen=True)
class Procedure:
    """One kind of request (trámite, CONTRACT §9): rules/procedures/ID/procedure.toml."""

    id: str
    name: str
    radicado_prefix: str  # "" : [radicado] prefix
    documents: tuple[str, ...]  # document kinds a complete request carries
    checks: tuple[str, ...]  # names in examination/checks.py's registry, in order
    action: str  # one of ACTIONS
    result_to: str  # the form field with the address the result goes to
    path: Path  # its procedure.toml, for errors
    problems: dict[str, str]  # the wording of its problems: its own problems.toml over the shared one
    form: FormRules  # its own form.toml, else the rules folder's
    notice_to: tuple[str, ...] = ()  # form fields with addresses that get a notice of the result, without secrets
    entity_field: str = "entity_name"  # the form field listings show as the requester (entity or office)
    person_field: str = "legal_rep_name"  # the form field listings show as the person concerned
    # Documents asked for only when the sender is not the account's
    # registered address (seed 003: an identity document and the signed
    # declaración de responsabilidad).
    documents_unless_registered: tuple[str, ...] = ()
    fields_from_text: bool = False  # without a spreadsheet, "Label: value" lines of the email are the form
    identifier: str = ""  # which identifier the form's "identifier" field holds (IDENTIFIERS)
    # Business days to answer (CONTRACT 12; Ley 1755 de 2015, art. 14: 15
    # for a petition, 10 for documents or information, 30 for a consultation).
    deadline_days: int = 15
    # Whose public holidays its terms skip; "": [site] country. Seed 004's
    # procedures serve León, in Mexico.
    country: str = ""

    @property
    def looks_up_registered(self) -> bool:
        """Whether its examination asks the directory who the account is registered to."""
        return bool(self.documents_unless_registered) or self.result_to == REGISTERED_EMAIL \
            or self.action == "change_email"

    @property
    def hands_over_account(self) -> bool:
        """Whether approval gives control of an account to whoever the
        request names (CONTRACT §13): its sender counts as the registered
        address only when our server authenticated it, its results never go
        to a Reply-To, and its identity documents are read."""
        return self.action in HANDOVER_ACTIONS

    @property
    def kinds(self) -> tuple[str, ...]:
        """Every document kind this procedure may ask for."""
        return (*self.documents, *self.documents_unless_registered)


def load_procedures(rules_dir: Path | None, documents: DocumentRules, form: FormRules,
                    problems: dict[str, str]) -> dict[str, Procedure]:
    """Every folder of rules/procedures/. A rules folder made before
    procedures existed gets the shipped ones rather than refusing to start.
    Check names are held against the registry by the examination
    (checks.require_known), which this module does not import."""
    folder = (rules_dir or shipped_dir()) / "procedures"
    if rules_dir is not None and not folder.is_dir():
        folder = shipped_dir() / "procedures"
    if not folder.is_dir():
        raise _missing(folder.parent, "procedures")
    procedures = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,40}", sub.name):
            raise ConfigError(f"{sub}: nombre de trámite no válido; use minúsculas, números y guiones")
        top = _read(folder, f"{sub.name}/procedure.toml")
        top.only("name", "radicado_prefix", "documents", "checks", "action", "result_to", "notice_to",
                 "entity_field", "person_field", "documents_unless_registered", "fields_from_text", "identifier",
                 "deadline_days", "country")
        deadline = top.data.get("deadline_days", 15)
        if isinstance(deadline, bool) or not isinstance(deadline, int) or not 1 <= deadline <= 60:
            raise top.fail("deadline_days", "se esperaba un número de días hábiles entre 1 y 60 (la Ley 1755 de "
                                            "2015 da 15 a una petición)")
        country = top.data.get("country", "")
        if not isinstance(country, str) or (country and not re.fullmatch(r"[A-Za-z]{2}", country)):
            raise top.fail("country", "se esperaba un código de país de dos letras (\"CO\", \"MX\"), o vacío "
                                      "para usar [site] country")
        if country and country.upper() not in ("CO", "MX"):  # the shipped ones need no look-up (0.1 s)
            from .terms.calendar import known_country

            if not known_country(country):
                raise top.fail("country", f"país desconocido «{country}» para los días festivos")
        prefix = top.data.get("radicado_prefix", "")
        if not isinstance(prefix, str) or (prefix and not re.fullmatch(r"[A-Za-z]{2,10}", prefix)):
            raise top.fail("radicado_prefix", "se esperaban de 2 a 10 letras, o vacío para usar [radicado] prefix")
        kinds = _kinds(top, "documents", documents, allow_empty=True)
        unless = _kinds(top, "documents_unless_registered", documents, allow_empty=True)
        text_fields = top.boolean("fields_from_text") if "fields_from_text" in top.data else False
        identifier = top.data.get("identifier", "")
        if identifier not in IDENTIFIERS:
            raise top.fail("identifier", f"se esperaba uno de: {', '.join(i for i in IDENTIFIERS if i)}")
        action = top.string("action")
        if action not in ACTIONS:
            raise top.fail("action", f"acción desconocida «{action}» (use: {', '.join(ACTIONS)})")
        own_form = load_form(sub, own=True) if (sub / "form.toml").exists() else form

        def field(key: str, value: str) -> str:
            if value not in own_form.fields and not (key == "result_to" and value == REGISTERED_EMAIL):
                raise top.fail(key, f"campo desconocido «{value}» del formato")
            return value

        result_to = field("result_to", top.string("result_to"))
        notice_to = tuple(field("notice_to", v) for v in top.strings("notice_to")) if "notice_to" in top.data else ()
        entity_field = field("entity_field", top.string("entity_field") if "entity_field" in top.data else "entity_name")
        person_field = field("person_field",
                             top.string("person_field") if "person_field" in top.data else "legal_rep_name")
        for needed in ACTION_FIELDS[action]:
            if needed not in own_form.fields:
                raise top.fail("action", f"la acción «{action}» lee el campo «{needed}», que el formato no tiene")
        own = load_problems(sub, problems) if (sub / "problems.toml").exists() else problems
        procedures[sub.name] = Procedure(sub.name, top.string("name"), prefix.upper(), kinds, top.strings("checks"),
                                         action, result_to, top.path, own, own_form, notice_to, entity_field,
                                         person_field, unless, text_fields, identifier, deadline, country.upper())
    if not procedures:
        raise ConfigError(f"{folder}: no hay ningún trámite (una carpeta por trámite con su procedure.toml)")
    return procedures


def _kinds(top: _Reader, key: str, documents: DocumentRules, allow_empty: bool = False) -> tuple[str, ...]:
    value = top.data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or (not value and not allow_empty):
        raise top.fail(key, "se esperaba una lista de documentos")
    unknown = [k for k in value if k not in documents.kinds]
    if unknown:
        raise top.fail(key, f"documento desconocido «{unknown[0]}» (use: {', '.join(documents.kinds)})")
    return tuple(value)


def require_configured(procedures: dict[str, Procedure], default: str, routed: list[str], config_path: Path,
                       radicado_prefix: str = "") -> None:
    """config.toml's [procedures] against the procedures the rules define:
    the default and every routed one must exist (named by their key), and
    no procedure's own prefix may be [radicado] prefix (two sequences would
    hand out the same radicados)."""
    for procedure in procedures.values():
        if procedure.radicado_prefix and procedure.radicado_prefix.upper() == radicado_prefix.upper():
            raise ConfigError(f"{procedure.path}: radicado_prefix: «{procedure.radicado_prefix}» es el de "
                              f"[radicado] prefix; déjelo vacío para compartir esa numeración o use otro")
    known = ", ".join(procedures)
    if default not in procedures:
        raise ConfigError(f"{config_path}: procedures.default: no existe el trámite «{default}» (hay: {known})")
    for name in routed:
        if name not in procedures:
            raise ConfigError(f"{config_path}: procedures.{name}: no existe el trámite «{name}» (hay: {known})")


@dataclass(frozen=True)
class Rules:
    """Every rule file, loaded and checked together at start-up."""

    form: FormRules
    documents: DocumentRules
    problems: dict[str, str]
    trust: TrustRules
    procedures: dict[str, Procedure]
    # [documents] trust_roots' PEM bundle, read by load_rules (checks.py):
    # it reaches the document worker with the rules, so the worker never
    # opens a path of the config and a SIGHUP reloads it with them.
    trust_roots_pem: bytes = b""


def load_all(rules_dir: Path | None = None) -> Rules:
    """Every rule file of ``rules_dir``; the shipped rules when None."""
    rules_dir = rules_dir or shipped_dir()
    form, documents, problems = load_form(rules_dir), load_documents(rules_dir), load_problems(rules_dir)
    return Rules(form, documents, problems, load_trust(rules_dir), load_procedures(rules_dir, documents, form, problems))
