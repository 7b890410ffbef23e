"""Every check runs and records its findings; none of them decides.

Like Mailman's rules: each check looks at one thing and adds what it found
(a *problem* the entity must fix, or a *warning* for staff only) so the
entity gets all its problems in one email. ``examination/decision.py`` turns the
findings into the next state and the email.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import timezone, tzinfo

from .. import localtime, lookalike, nit, wording
from ..addresses import domain_of
from ..config import DEFAULT_PROCEDURE, Config
from ..directory import Entity, same_name
from ..documents.classify import ACTA, EXCEL_FORM, SIGNED_FORM, Classified, newest_by_kind
from ..documents.facts import FormData
from ..documents.reading import ScanReading
from ..documents.text_form import SOURCE
from ..errors import ConfigError
from ..findings import PROBLEM, WARNING, Finding
from ..identifiers import cedula, curp, rfc
from ..register import ACTIVE, RegisteredAccount, account_action
from ..resets.registered import Registered
from ..rules import FormRules, Rules, load_all, normalise, require_configured

# Webmail domains say nothing about which entity someone belongs to.
# A web user's name: letters, digits and . _ -, as directories accept them;
# anything else (spaces, "*", "(", "=", "@") could widen an LDAP search.
WEB_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Examination:
    """Everything the checks need: the ticket's classified files and who wrote."""

    classified: list[Classified]
    classification_notes: list[str]
    sender: str
    forwarded: list[str]  # names of forwarded emails: not the sender's own documents
    other_open_requests: list[tuple[str, str, frozenset[str]]]  # (radicado, nit, accounts)
    directory_entry: Entity | None = None  # the form's NIT in the entity directory
    directory_size: int = 0  # entities in the directory (0: not set up, no NIT is "unknown")
    zone: tzinfo = timezone.utc  # [site] timezone, for dates staff read
    required: tuple[str, ...] = (SIGNED_FORM, EXCEL_FORM, ACTA)  # the procedure's documents
    form_rules: FormRules | None = None  # the procedure's form; None: the rules folder's
    registered: RegisteredAccount | None = None  # the form's account in the register of corporate accounts
    register_size: int = 0  # accounts in that register (0: not kept yet, nothing is "unknown")
    account_domains: tuple[str, ...] = ()  # [accounts] domains: where institutional accounts live
    text_form: FormData | None = None  # "Label: value" lines of the email, for a procedure that reads them
    looked_up: bool = False  # the account was looked up in the directory ([selfservice] lookup)
    registered_to: Registered | None = None  # what the directory says of it (None: unknown)
    identifier_kind: str = ""  # the procedure's identifier (helpdesk/identifiers/)
    unless_registered: tuple[str, ...] = ()  # documents asked for when the sender is not the registered address
    reads_text: bool = False  # the procedure reads "Label: value" lines when no spreadsheet came
    # Our server's DMARC pass for the sender's From domain (authresults.Authentication.authenticates)
    sender_authenticated: bool = False
    hands_over: bool = False  # the procedure hands over an account (Procedure.hands_over_account)
    person_field: str = "legal_rep_name"  # the form field naming the person concerned
    notice_fields: tuple[str, ...] = ()  # form fields whose addresses get a notice of the result
    directory_domains: tuple[str, ...] = ()  # every domain of the entity directory, for look-alikes

    @property
    def chosen(self) -> dict[str, Classified]:
        return newest_by_kind(self.classified)

    def labels(self, rules: Rules) -> FormRules:
        return self.form_rules or rules.form

    @property
    def form(self) -> FormData | None:
        """The spreadsheet's form, else the one written in the email."""
        excel = self.chosen.get(EXCEL_FORM)
        return excel.facts.form if excel and excel.facts.form else self.text_form

    @property
    def form_document(self) -> str:
        """Where the form was read, as problems name it."""
        excel = self.chosen.get(EXCEL_FORM)
        return excel.facts.filename if excel and excel.facts.form else SOURCE


def run_checks(exam: Examination, rules: Rules, names: tuple[str, ...] | None = None) -> list[Finding]:
    """Run the checks ``names`` (a procedure's ``checks``; the default
    procedure's when None) in that order, each adding its findings. A
    procedure that hands over an account also runs HANDOVER_CHECKS,
    whether its file names them or not: CONTRACT §13 makes them part of
    every such procedure, and a local procedure.toml must not drop them."""
    names = names if names is not None else rules.procedures[DEFAULT_PROCEDURE].checks
    if exam.hands_over:
        names = (*names, *(c for c in HANDOVER_CHECKS if c not in names))
    findings: list[Finding] = []
    for name in names:
        findings.extend(REGISTRY[name](exam, rules))
    return findings


def load_rules(config: Config) -> Rules:
    """The rules as the service runs them (start, SIGHUP, ``check``): every
    file valid, every procedure's checks in the registry, and config.toml's
    [procedures] naming procedures that exist."""
    rules = load_all(config.rules_dir)
    rules = replace(rules, trust_roots_pem=_trust_roots(config))
    require_known(rules)
    require_configured(rules.procedures, config.procedures.default, list(config.procedures.addresses),
                       config.source_path, config.radicado.prefix)
    return rules


def _trust_roots(config: Config) -> bytes:
    """[documents] trust_roots' PEM bundle, checked here (start, SIGHUP,
    ``check``) so a missing or broken file is named before any PDF needs it."""
    if not config.documents.trust_roots:
        return b""
    from ..documents.signature import read_trust_roots

    path = config.path(config.documents.trust_roots)
    try:
        pem = path.read_bytes()
        read_trust_roots(pem)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{config.source_path}: documents.trust_roots: {path}: {reason}") from None
    return pem


def require_known(rules: Rules) -> None:
    """Refuse a procedure that names a check the registry does not have,
    with its file and key (at start and on SIGHUP, like any rule file)."""
    for procedure in rules.procedures.values():
        for name in procedure.checks:
            if name not in REGISTRY:
                raise ConfigError(f"{procedure.path}: checks: comprobación desconocida «{name}» "
                                  f"(existen: {', '.join(REGISTRY)})")


def check_documents_present(exam: Examination, rules: Rules) -> list[Finding]:
    """Every document the procedure asks for (its ``documents``)."""
    chosen = exam.chosen
    return [Finding(PROBLEM, f"missing_{kind}", rules.documents.kinds[kind].name)
            for kind in exam.required if kind not in chosen]


def check_readable(exam: Examination, rules: Rules) -> list[Finding]:
    # Only the documents that count: an old unreadable copy replaced by a
    # good one is no longer the entity's problem. An unreadable file that
    # was not meant as any document (a logo in a signature, a cover
    # letter) is for staff to see, not for the entity to fix.
    counted = {id(c) for c in exam.chosen.values()}
    findings = []
    for c in exam.classified:
        if c.facts.readable:
            continue
        if id(c) in counted:
            findings.append(Finding(PROBLEM, "unreadable_document", c.facts.error, c.facts.filename))
        elif c.kind is None:
            findings.append(Finding(WARNING, "unclassified_attachment", f"no se pudo leer: {c.facts.error}",
                                    c.facts.filename))
    return findings


def check_signed_form_is_scanned(exam: Examination, rules: Rules) -> list[Finding]:
    signed = exam.chosen.get(SIGNED_FORM)
    if signed is None or signed.facts.pdf is None or not signed.facts.readable:
        return []
    pdf = signed.facts.pdf
    # A signature field with a value is no evidence until pyHanko validates
    # it over the whole file (CONTRACT 11); signature_invalid says why not.
    ds = signed.facts.digital_signature
    if not pdf.is_scan and not (ds is not None and ds.valid and ds.covers_whole_file):
        return [Finding(PROBLEM, "signed_form_not_scanned", "PDF generado sin escaneo ni firma", signed.facts.filename)]
    return []


def check_form_fields(exam: Examination, rules: Rules) -> list[Finding]:
    excel = exam.chosen.get(EXCEL_FORM)
    if excel is None or excel.facts.form is None:
        return []
    form, doc = excel.facts.form, excel.facts.filename
    findings = _missing_fields(form, exam.labels(rules), doc)
    if form.fields.get("entity_nit"):
        parsed = nit.parse(form.fields["entity_nit"], form.fields.get("entity_dv"))
        if parsed is None:
            findings.append(Finding(PROBLEM, "invalid_nit", f"«{form.fields['entity_nit']}» no es un NIT", doc))
        elif not parsed.valid:
            findings.append(Finding(PROBLEM, "invalid_nit",
                                    f"para el NIT {parsed.number} el dígito de verificación es {parsed.expected_dv}, "
                                    f"no {parsed.dv}", doc))
    email = form.fields.get("legal_rep_email")
    if email and not valid_email(email):
        findings.append(Finding(PROBLEM, "invalid_email", f"correo del representante legal «{email}»", doc))
    if not form.accounts:
        findings.append(Finding(PROBLEM, "no_accounts", "", doc))
    for account in form.accounts:
        if account.type == "Correo electrónico" and not valid_email(account.account):
            findings.append(Finding(PROBLEM, "invalid_email", f"cuenta «{account.account}»", doc))
        elif account.type != "Correo electrónico" and not WEB_USER.match(account.account):
            findings.append(Finding(PROBLEM, "invalid_account", f"usuario «{account.account}»", doc))
    return findings


def _missing_fields(form: FormData, labels: FormRules, doc: str) -> list[Finding]:
    return [Finding(PROBLEM, "missing_field", f.name, doc)
            for f in labels.fields.values() if f.required and not form.fields.get(f.key)]


def check_required_fields(exam: Examination, rules: Rules) -> list[Finding]:
    """Every field the procedure's form marks required (a procedure that
    reads the email's text with no form in it: every one is missing)."""
    form = exam.form
    if form is None:
        if not exam.reads_text:
            return []  # no spreadsheet: documents_present says so
        form = FormData(fields={}, accounts=[], sheet=SOURCE)  # a message with no "Label: value" line
    return _missing_fields(form, exam.labels(rules), exam.form_document)


def check_field_formats(exam: Examination, rules: Rules) -> list[Finding]:
    """Fields of type "email" hold an address; fields of type "choice" one
    of their choices (accents and case ignored)."""
    form, doc = exam.form, exam.form_document
    if form is None:
        return []
    findings = []
    for f in exam.labels(rules).fields.values():
        value = form.fields.get(f.key)
        if not value:
            continue
        if f.type == "email" and not valid_email(value):
            findings.append(Finding(PROBLEM, "invalid_email", f"{f.name} «{value}»", doc))
        elif f.type == "choice" and normalise(value) not in {normalise(c) for c in f.choices}:
            findings.append(Finding(PROBLEM, "invalid_choice",
                                    f"{f.name} dice «{value}»; escriba {_one_of(f.choices)}", doc))
    return findings


def _one_of(choices: tuple[str, ...]) -> str:
    return ", ".join(choices[:-1]) + " o " + choices[-1] if len(choices) > 1 else choices[0]


def check_account_request(exam: Examination, rules: Rules) -> list[Finding]:
    """An account request (seed 002) against the register of corporate
    accounts and the institution's domains: the account is an address on
    one of [accounts] domains; a creation names an account that is not
    active, a modification or deletion one that is; a modification says
    what changes. An empty register (not kept yet) is a warning for staff
    to check by hand, never a problem for the office."""
    excel = exam.chosen.get(EXCEL_FORM)
    if excel is None or excel.facts.form is None:
        return []
    form, doc = excel.facts.form, excel.facts.filename
    account = (form.fields.get("account") or "").strip()
    action = account_action(form.fields.get("request_type"))
    findings = []
    if account and not valid_email(account):
        return [Finding(PROBLEM, "invalid_email", f"cuenta de correo «{account}»", doc)]
    domains = exam.account_domains
    if account and domains and domain_of(account) not in domains:
        findings.append(Finding(PROBLEM, "account_outside_domain",
                                f"la cuenta «{account}» no es de {_one_of(domains)}", doc))
    findings += _notices_inside(exam, form, doc, rules)
    sender_domain = domain_of(exam.sender)
    home = domains or ((domain_of(account),) if account else ())
    if home and sender_domain not in home:
        findings.append(Finding(WARNING, "sender_domain_mismatch",
                                f"escribió {exam.sender}; las cuentas institucionales son de {', '.join(home)}"))
    if action == "modify" and "changes" in exam.labels(rules).fields and not form.fields.get("changes"):
        findings.append(Finding(PROBLEM, "missing_field", exam.labels(rules).fields["changes"].name, doc))
    if not account or action is None:
        return findings  # required_fields and field_formats say so
    active = exam.registered is not None and exam.registered.state == ACTIVE
    if action == "create" and active:
        findings.append(Finding(PROBLEM, "account_exists",
                                f"la cuenta «{account}» ya existe (registro {exam.registered.radicado or 'anterior'})",
                                doc))
    elif action != "create" and not active:
        if exam.register_size:
            state = f"está {exam.registered.state}" if exam.registered else "no está en el registro"
            findings.append(Finding(PROBLEM, "account_not_found", f"la cuenta «{account}» {state}", doc))
        else:
            findings.append(Finding(WARNING, "account_register_empty",
                                    f"el registro de cuentas corporativas está vacío: confirme que {account} existe "
                                    "antes de aprobar"))
    return findings


def _notices_inside(exam: Examination, form: FormData, doc: str, rules: Rules) -> list[Finding]:
    """Account orders stay inside the entity (CONTRACT §13): every address
    that gets a notice of the result (the office's) is on [accounts]
    domains; only the official's personal address, where the temporary
    password goes, may be elsewhere (staff see it in show)."""
    domains = exam.account_domains
    if not domains:
        return []
    labels = exam.labels(rules).fields
    findings = []
    for key in exam.notice_fields:
        value = (form.fields.get(key) or "").strip()
        if value and valid_email(value) and domain_of(value) not in domains:
            name = labels[key].name if key in labels else key
            findings.append(Finding(PROBLEM, "invalid_email",
                                    f"{name} «{value}» no es de {_one_of(domains)}", doc))
    return findings


def same_address(a: str, b: str) -> bool:
    """Two addresses compared whole (never by domain), case ignored."""
    return a.strip().lower() == b.strip().lower()


def check_registered_sender(exam: Examination, rules: Rules) -> list[Finding]:
    """Who cannot self-serve (seed 003): from the account's registered
    address the request needs no document; from any other, the
    procedure's ``documents_unless_registered`` (an identity document and
    the signed declaración de responsabilidad) are problems until they
    come, and staff see that the sender is not the registered address.

    A From address is anybody's to write: the sender counts as the
    registered address only when our server authenticated it (DMARC pass
    for its domain, CONTRACT §13) and the whole address is the registered
    one. An account the directory does not know is said to staff only,
    and the entity's problems are the same in every case: a correction
    that differed would tell anyone which accounts exist and where."""
    if not exam.looked_up:
        return []
    findings = []
    registered = exam.registered_to
    account = (exam.form.fields.get("account") or exam.form.fields.get("identifier") or "") if exam.form else ""
    if registered is None:
        findings.append(Finding(WARNING, "account_unknown",
                                f"la cuenta «{account}» no está en el directorio (o la búsqueda falló): confirme a "
                                "quién pertenece antes de aprobar"))
    elif same_address(registered.email, exam.sender) and exam.sender_authenticated:
        return []
    else:
        unproven = ("" if exam.sender_authenticated or not same_address(registered.email, exam.sender)
                    else " sin que nuestro servidor lo autenticara (DMARC), así que pudo escribirlo cualquiera")
        findings.append(Finding(WARNING, "sender_not_registered",
                                f"escribió {exam.sender}{unproven}; el correo registrado de la cuenta "
                                f"{registered.account} es {registered.email}"))
    chosen = exam.chosen
    for kind in exam.unless_registered:
        if kind not in chosen:
            findings.append(Finding(PROBLEM, f"missing_{kind}", rules.documents.kinds[kind].name))
    return findings


def _name_tokens(name: str) -> list[str]:
    """A person's name as words to look for: accents and case folded,
    particles ("de", "la") and initials left out."""
    words = re.sub(r"[^\w]+", " ", normalise(name)).split()
    return [w for w in words if len(w) > 2 and w not in ("del", "las", "los")]


def similar_names(a: str, b: str) -> bool:
    """Whether two writings of a person's name can be the same person:
    equal as same_name folds them, or every word of the shorter (two at
    least) in the longer ("Juan Pérez" is "Juan Carlos Pérez Gómez")."""
    if same_name(a, b):
        return True
    short, long_ = sorted((set(_name_tokens(a)), set(_name_tokens(b))), key=len)
    return len(short) >= 2 and short <= long_


def check_account_holder(exam: Examination, rules: Rules) -> list[Finding]:
    """The form's person against the holder's name the directory lookup
    returned (CONTRACT §13); no name returned: nothing to compare."""
    registered = exam.registered_to
    form = exam.form
    name = (form.fields.get(exam.person_field) or "").strip() if form else ""
    if registered is None or not registered.name or not name or similar_names(name, registered.name):
        return []
    return [Finding(WARNING, "account_holder_differs",
                    f"el formato dice «{name}»; el directorio registra la cuenta {registered.account} a nombre de "
                    f"«{registered.name}»")]


LOOKALIKE_CHECK = "lookalike_domain"


def check_lookalike_domain(exam: Examination, rules: Rules) -> list[Finding]:
    """The sender's domain and field 1.2's against the directory's: a near
    miss (an edit or two, look-alike characters, the same words under
    another suffix) is a forgery's mark (lookalike.py)."""
    known = exam.directory_domains
    if not known:
        return []
    form = exam.form
    rep_email = (form.fields.get("legal_rep_email") or "") if form else ""
    findings, seen = [], set()
    for who, address in (("el remitente", exam.sender), ("el correo del representante legal (campo 1.2)", rep_email)):
        domain = domain_of(address) if "@" in address else ""
        if not domain or domain in seen:
            continue
        seen.add(domain)
        miss = lookalike.near_miss(domain, known)
        if miss:
            findings.append(Finding(WARNING, "lookalike_domain",
                                    f"{who} usa {domain}, parecido a {miss[0]} del directorio de entidades: {miss[1]}"))
    return findings


def check_identifier(exam: Examination, rules: Rules) -> list[Finding]:
    """The form's "identifier" by the procedure's kind of identifier
    (CURP, RFC, cédula or NIT), each with its own algorithm."""
    form = exam.form
    value = (form.fields.get("identifier") or "") if form else ""
    if not value or not exam.identifier_kind:
        return []
    if exam.identifier_kind == "nit":
        parsed = nit.parse(value, None)
        error = "" if parsed is not None and parsed.valid else f"«{value}» no es un NIT con su dígito de verificación"
    else:
        error = IDENTIFIER_CHECKS[exam.identifier_kind](value).error
    return [Finding(PROBLEM, "invalid_identifier", error, exam.form_document)] if error else []


IDENTIFIER_CHECKS = {"curp": curp.check, "rfc": rfc.check, "cedula": cedula.check}


def check_domains(exam: Examination, rules: Rules) -> list[Finding]:
    """The sender's domain against the entity's: the directory's domains
    when it records some (an office's own list), else those the form uses."""
    form = exam.form
    if form is None:
        return []
    free_mail = rules.trust.free_mail
    rep_domain = domain_of(form.fields.get("legal_rep_email", ""))
    account_domains = {domain_of(a.account) for a in form.accounts if "@" in a.account}
    findings = []
    listed = exam.directory_entry.domains if exam.directory_entry else ()
    if listed:
        entity_domains, source = set(listed), "según el directorio de entidades, la entidad usa"
    else:
        entity_domains, source = ({rep_domain} | account_domains) - free_mail - {""}, "la entidad usa"
    sender_domain = domain_of(exam.sender)
    if entity_domains and sender_domain not in entity_domains:
        findings.append(Finding(WARNING, "sender_domain_mismatch",
                                f"escribió {exam.sender}; {source} {', '.join(sorted(entity_domains))}"))
    if listed and rep_domain and rep_domain not in entity_domains and rep_domain not in free_mail:
        findings.append(Finding(WARNING, "legal_rep_domain_mismatch",
                                f"el correo del representante legal (campo 1.2) es de {rep_domain}; según el "
                                f"directorio de entidades, la entidad usa {', '.join(sorted(entity_domains))}"))
    home = rep_domain if rep_domain and rep_domain not in free_mail else sender_domain
    for account in form.accounts:
        if "@" in account.account and domain_of(account.account) != home:
            findings.append(Finding(WARNING, "account_domain_mismatch",
                                    f"la cuenta {account.account} no es del dominio {home}"))
        elif "@" not in account.account:
            # A user name says nothing of whose it is: staff confirm it
            # belongs to this entity before a password is changed.
            findings.append(Finding(WARNING, "account_not_an_address",
                                    f"la cuenta «{account.account}» es un nombre de usuario, no una dirección "
                                    f"de {home or 'la entidad'}; confirme que pertenece a la entidad"))
    return findings


def check_acta_names_legal_rep(exam: Examination, rules: Rules) -> list[Finding]:
    """The acta names the legal representative: its text layer, or what OCR
    read of a scan (scan_checks.py), word by word and tolerantly: "Ana" is
    not found in "mañana", nor "Luis" in "Luisa"."""
    acta = exam.chosen.get(ACTA)
    form = exam.form
    if acta is None or form is None:
        return []
    if acta.facts.pdf is None or not acta.facts.pdf.has_text:
        return acta_text_findings(exam, rules, None, "")
    name = form.fields.get("legal_rep_name", "")
    tokens = tokens_of(ScanReading("texto", 1, 100, acta.facts.pdf.text))
    if name_tokens(name) and not find_name(tokens, name).found:
        return [Finding(WARNING, "legal_rep_not_in_acta", f"el acta no menciona a {name}", acta.facts.filename)]
    return []


def check_legal_rep_email(exam: Examination, rules: Rules) -> list[Finding]:
    """Field 1.2 decides where the credentials go: a personal mailbox, or
    another address than the entity's last approved request used, is a
    high-risk sign that someone else wrote the form."""
    form = exam.form
    email = (form.fields.get("legal_rep_email") or "").strip().lower() if form else ""
    if not email or "@" not in email:
        return []
    findings = []
    if rules.trust.is_free_mail(domain_of(email)):
        findings.append(Finding(WARNING, "legal_rep_email_personal",
                                f"el correo del representante legal (campo 1.2) es {email}, de un proveedor de "
                                "correo gratuito: confirme con la entidad que es el suyo"))
    entry = exam.directory_entry
    if entry and entry.last_legal_rep_email and entry.last_legal_rep_email != email:
        when = localtime.show(entry.last_approved_at, exam.zone)[:10]
        findings.append(Finding(WARNING, "legal_rep_email_changed",
                                f"el correo del representante legal (campo 1.2) es {email}; en la última solicitud "
                                f"aprobada de este NIT ({entry.last_radicado}, del {when}) era "
                                f"{entry.last_legal_rep_email}"))
    return findings


def check_directory(exam: Examination, rules: Rules) -> list[Finding]:
    """The form's NIT and entity name against the entity directory. An
    empty directory (not set up) says nothing."""
    form = exam.form
    parsed = form_nit(form)
    number = parsed.number if parsed and parsed.valid else None
    if number is None or not exam.directory_size:
        return []
    entry = exam.directory_entry
    if entry is None:
        return [Finding(WARNING, "entity_not_in_directory",
                        f"el NIT {number} no está en el directorio de entidades "
                        f"({wording.count(exam.directory_size, 'entidad', 'entidades')}); "
                        "confirme que la entidad existe y que el NIT es el suyo")]
    name = form.fields.get("entity_name") or ""
    if name and entry.name and not same_name(name, entry.name):
        return [Finding(WARNING, "entity_name_mismatch",
                        f"el formato dice «{name}»; el directorio registra el NIT {number} como «{entry.name}»")]
    return []


def _has_words(text: str, words: str) -> bool:
    """``words`` in ``text`` as whole words ("presidente del concejo" is not
    in "vicepresidente del concejo")."""
    return re.search(rf"(?<!\w){re.escape(words)}(?!\w)", text) is not None


def _starts_with_words(text: str, words: str) -> bool:
    return re.match(rf"{re.escape(words)}(?!\w)", text) is not None


def check_legal_rep_role(exam: Examination, rules: Rules) -> list[Finding]:
    """The Cargo of field 1.2 must be one of the legal representatives of
    seed 000 (rules/trust.toml [[roles]]), the one the entity's name calls
    for (an Alcaldía's is its Alcalde), and the acta must name that role."""
    form = exam.form
    position = (form.fields.get("legal_rep_position") or "") if form else ""
    if not position:
        return []  # missing_field already says so
    roles = rules.trust.roles
    said = normalise(position)
    # The Cargo must *be* the role, not mention it: it starts with the
    # role's words ("Alcalde municipal", "Alcaldesa (E)"); "Secretario del
    # Alcalde", "Vicepresidente del Concejo" or "Exalcalde" are not it.
    role = next((r for r in roles if any(_starts_with_words(said, w) for w in r.words)), None)
    names = ", ".join(r.name for r in roles)
    if role is None:
        return [Finding(WARNING, "legal_rep_role_unexpected",
                        f"el cargo «{position}» no es el de un representante legal ({names})")]
    entity = normalise(form.fields.get("entity_name") or "")
    expected = next((r for r in roles if any(_has_words(entity, w) for w in r.entity_words)), None)
    if expected is not None and expected is not role:
        return [Finding(WARNING, "legal_rep_role_unexpected",
                        f"el cargo «{position}» no corresponde a «{form.fields.get('entity_name')}», "
                        f"cuyo representante legal es el {expected.name}")]
    acta = exam.chosen.get(ACTA)
    if acta is None:
        return []
    if acta.facts.pdf is None or not acta.facts.pdf.has_text:
        return acta_text_findings(exam, rules, role.words, role.name)  # a scan: what OCR read of it
    acta_text = normalise(acta.facts.pdf.text)
    if not any(_has_words(acta_text, w) for w in role.words):
        return [Finding(WARNING, "legal_rep_role_not_in_acta", f"el acta no menciona el cargo de {role.name}",
                        acta.facts.filename)]
    return []


def form_nit(form: FormData | None) -> nit.Nit | None:
    """The form's NIT, read with its separate check digit when it has one
    (``valid`` says whether that digit is right); None when it has none."""
    if form is None or not form.fields.get("entity_nit"):
        return None
    return nit.parse(form.fields["entity_nit"], form.fields.get("entity_dv"))


def check_unclassified(exam: Examination, rules: Rules) -> list[Finding]:
    findings = [Finding(WARNING, "unclassified_attachment", "no corresponde a ningún documento esperado", c.facts.filename)
                for c in exam.classified if c.kind is None and c.facts.readable]
    findings += [Finding(WARNING, "unclassified_attachment",
                         "mensaje reenviado: sus adjuntos no cuentan como enviados por el remitente", name)
                 for name in exam.forwarded]
    findings += [Finding(WARNING, "ambiguous_documents", note) for note in exam.classification_notes]
    return findings


def check_duplicate(exam: Examination, rules: Rules) -> list[Finding]:
    form = exam.form
    if form is None or not form.fields.get("entity_nit"):
        return []
    parsed = nit.parse(form.fields["entity_nit"], form.fields.get("entity_dv"))
    if parsed is None:
        return []
    accounts = frozenset(a.account.lower() for a in form.accounts)
    return [Finding(WARNING, "duplicate_request", f"la solicitud {radicado} pide lo mismo para el NIT {parsed.number}")
            for radicado, other_nit, other_accounts in exam.other_open_requests
            if other_nit == parsed.number and other_accounts == accounts]


def valid_email(address: str) -> bool:
    """An address we can write to and that reads as what it is: ASCII only
    (CONTRACT §6), so "alcaldía" or a Cyrillic "е" in "tеsoreria" is
    invalid_email in every procedure, never an account that looks like
    another or a header our emails cannot carry."""
    if not address.isascii():
        return False
    # Imported here: its module compiles its patterns at import (23 ms), and
    # the daemon imports this module at start but validates only when it
    # examines, after the acks.
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


# The checks of their own modules, registered below (each imports Examination from here).
from .identity_checks import check_identity_document  # noqa: E402
from .scan_checks import (  # noqa: E402
    acta_text_findings,
    check_acta_reading,
    check_scans_read,
    check_signed_form_reading,
    find_name,
    name_tokens,
    tokens_of,
)
from .signature_checks import check_signature_invalid, check_signature_signer_differs  # noqa: E402

# Every check by the name procedures use (rules/procedures/ID/procedure.toml
# ``checks``): the function's name without "check_". A procedure switches a
# check on by naming it; nothing in the pipeline asks which procedure runs.
REGISTRY = {check.__name__.removeprefix("check_"): check for check in (
    check_documents_present,
    check_readable,
    check_signed_form_is_scanned,
    check_form_fields,
    check_domains,
    check_legal_rep_email,
    check_directory,
    check_acta_names_legal_rep,
    check_legal_rep_role,
    check_unclassified,
    check_duplicate,
    check_required_fields,
    check_field_formats,
    check_account_request,
    check_registered_sender,
    check_identifier,
    check_account_holder,
    check_identity_document,
    check_lookalike_domain,
    check_signature_invalid,
    check_signature_signer_differs,
    check_signed_form_reading,
    check_acta_reading,
    check_scans_read,
)}
# Run for every procedure that hands over an account (run_checks).
HANDOVER_CHECKS = ("registered_sender", "account_holder", "identity_document", LOOKALIKE_CHECK)
