"""config.toml -> frozen dataclasses, every problem named by its dotted key.

Each section is a dataclass whose fields are the keys it accepts, with their
defaults. Unknown keys are errors, not warnings: a typo such as ``prot = 993``
would otherwise run silently on the default port. Relative paths are resolved
against the folder holding the config file, so the daemon does not depend on
the directory it was started from.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import ipaddress
import os
import tomllib
import typing
import urllib.parse
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

from . import localtime
from .addresses import valid_address
from .errors import ConfigError

SECURITY_MODES = ("ssl", "starttls", "none")


@dataclass(frozen=True)
class LoginConfig:
    """The keys [inbox] and [smtp] share: who logs in, how, and which CA to trust."""

    username: str = ""
    password: str = ""
    password_env: str = ""
    password_file: str = ""
    # "xoauth2": log in with an OAuth2 access token (Microsoft 365, Google
    # Workspace) read at every login from oauth_token_file, or from the
    # first line printed by oauth_token_command (no shell), which is how a
    # token gets refreshed.
    auth: str = "password"
    oauth_token_file: str = ""
    oauth_token_command: list[str] = field(default_factory=list)
    oauth_token_timeout: float = 30.0
    ca_file: str = ""


@dataclass(frozen=True)
class InboxConfig(LoginConfig):
    source: str = "maildir"
    # The address entities write to. Empty: inbox.username when the inbox
    # is IMAP and the user name is an address. When it differs from
    # smtp.from_address, replies carry it as Reply-To.
    address: str = ""
    host: str = "127.0.0.1"
    port: int = 993
    security: str = "ssl"
    folder: str = "INBOX"
    processed_folder: str = "Procesados"
    path: str = "var/inbox"
    poll_seconds: int = 60
    idle: bool = True
    connect_timeout: float = 15.0
    read_timeout: float = 60.0
    # IDLE is restarted well before the 29 minutes of RFC 2177.
    idle_restart_seconds: int = 600
    reconnect_max_seconds: int = 300
    fetch_batch: int = 20
    # The authserv-id of our own receiving server's Authentication-Results
    # (intake/authresults.py); empty: sender authentication is not checked.
    authserv_id: str = ""


@dataclass(frozen=True)
class SmtpConfig(LoginConfig):
    transport: str = "file"
    host: str = "127.0.0.1"
    port: int = 465
    security: str = "ssl"
    from_address: str = "soporte@example.gov.co"
    from_name: str = "Mesa de ayuda"
    path: str = "var/outbox"
    timeout: float = 30.0
    # Temporary failures are retried with exponential backoff until this
    # many hours after the email was queued; then the row becomes `failed`.
    retry_hours: float = 48.0
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 3600.0


@dataclass(frozen=True)
class StorageConfig:
    database: str = "var/helpdesk.db"
    # Raw inbound messages, content-addressed; defaults beside the database.
    raw_dir: str = ""


@dataclass(frozen=True)
class RadicadoConfig:
    prefix: str = "GEL"


DEFAULT_PROCEDURE = "reinicio-claves"
# A day: the old owner reads the warning and can cancel before the change.
DEFAULT_HOLD_HOURS = 24.0


@dataclass(frozen=True)
class ProceduresConfig:
    """``[procedures]``: the default procedure, and per procedure
    (``[procedures.ID] addresses``) the support addresses whose requests go
    to it (CONTRACT §9)."""

    default: str = DEFAULT_PROCEDURE
    addresses: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # ``[procedures.ID] hold_hours``: how long a change of registered email
    # waits, after approval, for the old owner's cancel (CONTRACT §13); only
    # a procedure whose action is change_email reads it.
    hold_hours: dict[str, float] = field(default_factory=dict)

    def hold_of(self, procedure: str) -> float:
        return self.hold_hours.get(procedure, DEFAULT_HOLD_HOURS)

    def route(self, recipients: list[str]) -> str:
        """The procedure of a request sent to ``recipients``: the first
        listed address among them decides, else the default."""
        wanted = {r.strip().lower() for r in recipients}
        for procedure, addresses in self.addresses.items():
            if wanted & set(addresses):
                return procedure
        return self.default


@dataclass(frozen=True)
class ResetConfig:
    backend: str = "manual"
    # command backend: run once per account, no shell; stdin carries two
    # lines, the account and the new password; exit 0 = done.
    command: list[str] = field(default_factory=list)
    command_timeout: float = 60.0
    # Temporary passwords: this many characters from an alphabet without
    # look-alikes (0/O, 1/l/I), shown in groups of four.
    password_length: int = 16
    # ldap backend: the entry of each account is found under ldap_base with
    # ldap_filter ({account} is the address or user name, escaped).
    ldap_url: str = ""
    ldap_security: str = "ssl"
    ldap_ca_file: str = ""
    ldap_bind_dn: str = ""
    password: str = ""
    password_env: str = ""
    password_file: str = ""
    ldap_base: str = ""
    # {account} is the address or user name; {domain} the entity's own mail
    # domain and {nit} its NIT (digits), both from the ticket, to keep a
    # user name ("jperez") inside its entity. ldap_base takes them too.
    ldap_filter: str = "(|(mail={account})(&(uid={account})(mail=*@{domain})))"
    ldap_timeout: float = 10.0
    # "password": approve emails temporary passwords (CONTRACT §5);
    # "link": one single-use link per account instead (CONTRACT §10).
    delivery: str = "password"
    link_hours: float = 2.0  # a link's validity (seed 004: two hours)
    min_password_length: int = 8  # what a person chooses on the link page (seed 003: 8)


@dataclass(frozen=True)
class WebConfig:
    """``[web]``: helpdesk web, the link and self-service pages."""

    base_url: str = ""  # the public HTTPS address the links start with
    listen: str = "127.0.0.1:8080"  # where helpdesk web listens, behind the reverse proxy
    threads: int = 4
    # The reverse proxies whose X-Forwarded-For names the client.
    trusted_proxies: list[str] = field(default_factory=lambda: ["127.0.0.1", "::1"])
    secret_file: str = ""  # CSRF and signed steps; "" : web.secret beside the database, made on first use
    # Links or codes sent for one identifier per hour, by each means (email,
    # SMS), each later than the one before (send_spacing_seconds, doubling).
    # Past it nothing more is sent and the page says so; those sent stay
    # valid, so a stranger's requests never lock the owner out (issue 22).
    max_requests_per_identifier: int = 3
    send_spacing_seconds: int = 60
    # Self-service lookups, sends and code tries per client per hour (an
    # IPv6 client counted by its /64).
    max_requests_per_client: int = 20
    max_link_requests_per_client: int = 120  # /r/TOKEN opened or posted per client per hour
    # Global budgets of the self-service page (web/budgets.py, CONTRACT 10):
    # past one, the page refuses everybody for the rest of the hour, a
    # WARNING is logged and helpdesk_web_budget_refusals_total counts it.
    lookups_per_hour: int = 1000
    sends_per_hour: int = 200
    guesses_per_hour: int = 1000

    def address(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]") or "127.0.0.1", int(port)

    def link_url(self, token: str) -> str:
        return f"{self.base_url.rstrip('/')}/r/{token}"


@dataclass(frozen=True)
class SelfServiceConfig:
    """``[selfservice]``: "¿Olvidó su contraseña?" (seeds 001, 003, 004)."""

    enabled: bool = False
    identifier_label: str = "Usuario"  # what the person types: "Usuario", "Número de documento", "CURP"...
    lookup: str = "ldap"  # "ldap" ([reset]'s directory) or "command"
    # ldap: the person's entry ({identifier} escaped), and its attributes.
    ldap_filter: str = "(uid={identifier})"
    account_attribute: str = "mail"  # what the [reset] backend resets
    email_attribute: str = "mail"  # the registered email the link goes to
    phone_attribute: str = "mobile"  # the registered phone the code goes to
    # command: the identifier on stdin; {"account", "email", "phone"} on stdout.
    command: list[str] = field(default_factory=list)
    # The SMS: run with the phone and the message on two lines of stdin; empty: no codes by SMS.
    sms_command: list[str] = field(default_factory=list)
    code_minutes: int = 10


@dataclass(frozen=True)
class AccountsConfig:
    """``[accounts]``: what approving an account request (the procedure
    with action "account", seed 002) does. The ldap backend connects with
    [reset]'s ldap_url, ldap_security, ldap_ca_file, ldap_bind_dn and
    password; the account's entry is found with [reset] ldap_filter."""

    backend: str = ""  # "manual" | "command" | "ldap"; "" : [reset] backend
    # command backend: run with the action ("create", "modify", "delete" or
    # "disable") as its last argument and the request as one JSON object on
    # stdin; exit 0 = done. Empty: [reset] command.
    command: list[str] = field(default_factory=list)
    # The institution's mail domains: an account asked for must be on one.
    domains: list[str] = field(default_factory=list)
    # ldap: where a new entry is created ("" : [reset] ldap_base), the
    # attribute that names it (its value: the address's local part) and its
    # object classes.
    ldap_base: str = ""
    ldap_rdn: str = "uid"
    object_classes: list[str] = field(default_factory=lambda: ["inetOrgPerson"])
    # A deletion deletes the entry, or disables it (ppolicy's permanent lock).
    on_delete: str = "delete"

    def backend_of(self, reset: ResetConfig) -> str:
        return self.backend or reset.backend

    def command_of(self, reset: ResetConfig) -> list[str]:
        return list(self.command or reset.command)


@dataclass(frozen=True)
class RepliesConfig:
    # Automatic replies (ack, correction, accepted) to one address per day;
    # past it the ticket is still created but nothing more is sent to it.
    daily_cap_per_sender: int = 10
    # Automatic replies to everybody per day: past it, requests still open
    # tickets (flagged for staff) but no automatic email leaves.
    daily_cap_total: int = 1000
    templates: str = ""
    # Shown in every reply so the entity knows how to follow up (seed 000).
    # The seed's "+1 595 35 95" is Bogotá's number before the 2021 dialling
    # change (area code 601); written in full it dials from any phone.
    support_phone: str = "+57 601 595 3595"
    support_phone_city: str = "Bogotá"
    support_hotline: str = "018000 91 0742"
    # The phone menu's options, in the order the caller chooses them.
    support_phone_menu: list[str] = field(default_factory=lambda: [
        "1 – Servidor público", "2 – Solicitud de las aplicaciones de Gobierno en línea"])


@dataclass(frozen=True)
class RulesConfig:
    # Folder of form.toml, documents.toml and problems.toml; the shipped
    # rules/ when empty.
    path: str = ""


@dataclass(frozen=True)
class LimitsConfig:
    # Checked before any MIME parsing (LIBRARY_NOTES: the stdlib parser is
    # slow on pathological shapes and raises on deep nesting).
    max_message_bytes: int = 40 * 1024 * 1024
    max_parts: int = 200


@dataclass(frozen=True)
class RetentionConfig:
    # Raw inbound mail (so the attachments) of tickets resolved or rejected
    # more than this many days ago is removed; the ticket, its form data,
    # document metadata, hashes and history stay. 0 keeps it forever.
    closed_ticket_days: int = 365
    # Raw mail tied to no ticket (auto-replies, bounces, lists) and raw files
    # no row names (a message delivered twice). 0 keeps it forever.
    unlinked_days: int = 90
    # Bodies of delivered emails of closed tickets (their SHA-256 stays).
    # 0, the default, keeps them: they are the office's own answers.
    outbox_days: int = 0
    # helpdesk web's audit lines of no ticket (self-service lookups, sends,
    # codes, refusals: identifiers and client addresses, personal data):
    # half a year covers an owner who finds out late that it was not them.
    # A ticket's lines stay with the ticket. 0 keeps them forever.
    web_events_days: int = 180


@dataclass(frozen=True)
class SiteConfig:
    # The zone of the people who read the screens: every time staff see is
    # in it, and `helpdesk stats` counts days in it. The database keeps UTC.
    timezone: str = "America/Bogota"
    # Whose public holidays the legal terms skip (CONTRACT 12), an ISO
    # country code of the `holidays` package: Colombia's by default; "MX"
    # for an office in Mexico (seed 004, León).
    country: str = "CO"
    # The entity's own days off ("YYYY-MM-DD"), a municipal fair day: no
    # business day either.
    extra_holidays: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TermsConfig:
    """The legal terms of a derecho de petición (CONTRACT 12, Ley 1755 de 2015)."""

    # Art. 17: the requester has one month to complete a request; with no
    # answer by then it is withdrawn (desistimiento tácito).
    withdrawal_months: int = 1
    # The correction_reminder goes this many business days before that limit.
    reminder_days: int = 5
    # The staff digest lists tickets due within this many business days.
    warn_days: int = 3
    # Who gets the daily digest of tickets near or past their due date;
    # empty: no digest.
    notify: list[str] = field(default_factory=list)
    # Local hour ([site] timezone) from which the day's digest is sent.
    digest_hour: int = 7


@dataclass(frozen=True)
class DocumentsConfig:
    """Reading the documents (CONTRACT 11): OCR of scans and digital signatures."""

    # Scans (image pages of a PDF, JPG and PNG attachments) are read by
    # Tesseract in the document worker; false: never read, each one then
    # carries scan_not_read for staff.
    ocr: bool = True
    # Pages of each document read at most (the form and the acta fit in 3).
    ocr_pages: int = 3
    # PEM bundle of the certification authorities whose signatures are
    # "trusted" (Colombia's accredited CAs); "": none is, which is shown,
    # never a problem.
    trust_roots: str = ""


@dataclass(frozen=True)
class MetricsConfig:
    # Prometheus text file rewritten after every cycle (node_exporter's
    # textfile collector reads it); empty path: metrics.prom beside the
    # database, which is where the service may write.
    enabled: bool = True
    path: str = ""


@dataclass(frozen=True)
class Config:
    inbox: InboxConfig = field(default_factory=InboxConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    radicado: RadicadoConfig = field(default_factory=RadicadoConfig)
    reset: ResetConfig = field(default_factory=ResetConfig)
    accounts: AccountsConfig = field(default_factory=AccountsConfig)
    web: WebConfig = field(default_factory=WebConfig)
    selfservice: SelfServiceConfig = field(default_factory=SelfServiceConfig)
    replies: RepliesConfig = field(default_factory=RepliesConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    rules: RulesConfig = field(default_factory=RulesConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    site: SiteConfig = field(default_factory=SiteConfig)
    terms: TermsConfig = field(default_factory=TermsConfig)
    documents: DocumentsConfig = field(default_factory=DocumentsConfig)
    procedures: ProceduresConfig = field(default_factory=ProceduresConfig)
    # Folder of the config file: the base of every relative path.
    base_dir: Path = Path(".")
    source_path: Path = Path("config.toml")

    def path(self, value: str) -> Path:
        """Resolve a configured path against the config file's folder."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    @property
    def database_path(self) -> Path:
        return self.path(self.storage.database)

    @property
    def metrics_path(self) -> Path | None:
        if not self.metrics.enabled:
            return None
        if self.metrics.path:
            return self.path(self.metrics.path)
        return self.database_path.parent / "metrics.prom"

    @property
    def raw_dir(self) -> Path:
        if self.storage.raw_dir:
            return self.path(self.storage.raw_dir)
        return self.database_path.parent / "raw"

    @property
    def web_secret_path(self) -> Path:
        if self.web.secret_file:
            return self.path(self.web.secret_file)
        return self.database_path.parent / "web.secret"

    def local_time(self, value: str) -> str:
        """An ISO time from the database as people read it, in [site] timezone."""
        return localtime.show(value, localtime.zone(self.site.timezone))

    @property
    def inbox_address(self) -> str:
        """Where entities write: [inbox] address, else an IMAP user name
        that is an address; "" when unknown (a Maildir without address)."""
        if self.inbox.address:
            return self.inbox.address

        username = self.inbox.username.strip()
        if self.inbox.source == "imap" and valid_address(username):
            return username
        return ""

    @property
    def templates_dir(self) -> Path:
        """``[replies] templates``, else the templates shipped in the package.

        A folder that is not there is refused here, naming the key that
        points to it, so that nobody goes looking for a broken template."""
        return self._data_dir("replies.templates", self.replies.templates, "helpdesk.shipped_templates",
                              "plantillas")

    @property
    def shipped_templates_dir(self) -> Path:
        """The templates in the package, behind a custom folder for the kinds
        it lacks entirely (replies.Renderer)."""
        return self._data_dir("replies.templates", "", "helpdesk.shipped_templates", "plantillas")

    @property
    def rules_dir(self) -> Path:
        """``[rules] path``, else the rules shipped in the package (see templates_dir)."""
        return self._data_dir("rules.path", self.rules.path, "helpdesk.shipped_rules", "reglas")

    def _data_dir(self, key: str, value: str, package: str, what: str) -> Path:
        if value:
            folder = self.path(value)
            if not folder.is_dir():
                raise ConfigError(f"{self.source_path}: {key}: no existe la carpeta de {what} {folder}; "
                                  f"corrija {key} o quítela para usar las {what} incluidas en helpdesk")
            return folder
        try:
            # A wheel installs them in site-packages/helpdesk/, an editable
            # install maps the checkout's folder: files() finds either. A
            # plain folder is required (no zip import): people read them.
            folder = Path(os.fspath(importlib.resources.files(package)))
        except (ImportError, TypeError):
            folder = None
        if folder is None or not folder.is_dir():
            raise ConfigError(f"{package}: faltan las {what} incluidas en helpdesk (instalación incompleta); "
                              f"reinstale helpdesk o indique una carpeta con {key} en {self.source_path}")
        return folder

    def inbox_password(self) -> str:
        return _secret(self, "inbox", self.inbox)

    def smtp_password(self) -> str:
        return _secret(self, "smtp", self.smtp)

    def mail_secrets(self) -> list[str]:
        """The IMAP and SMTP passwords this configuration logs in with, each
        only when used; read by what logs in (``run`` at start-up, so that a
        wrong variable or file stops it with the key), never by staff commands.
        """
        secrets = []
        if self.inbox.source == "imap":
            secrets.append(self.inbox_password())
        if self.smtp.transport == "smtp":
            secrets.append(self.smtp_password())
        return secrets

    def ldap_password(self) -> str:
        """The bind password of the ldap reset backend ([reset] password*)."""
        return _secret(self, "reset", self.reset)

    def credential_path(self, value: str) -> Path:
        """A secret's file: a relative name is looked up in systemd's
        $CREDENTIALS_DIRECTORY first (LoadCredential=), as password_file is,
        then in credentials/ beside the config file (install.sh's), then
        against the config file's folder (helpdesk/credentials.py)."""
        from .credentials import locate

        return locate(value, self.base_dir)


SECTIONS = {f.name: f.type for f in dataclasses.fields(Config) if f.name not in ("base_dir", "source_path")}

# Values each enumerated key accepts; anything else is named in the error.
CHOICES = {
    "inbox.source": ("imap", "maildir"),
    "inbox.security": SECURITY_MODES,
    "inbox.auth": ("password", "xoauth2"),
    "smtp.transport": ("smtp", "file"),
    "smtp.security": SECURITY_MODES,
    "smtp.auth": ("password", "xoauth2"),
    "reset.backend": ("manual", "command", "ldap"),
    "reset.ldap_security": SECURITY_MODES,
    "accounts.backend": ("", "manual", "command", "ldap"),
    "accounts.on_delete": ("delete", "disable"),
    "reset.delivery": ("password", "link"),
    "selfservice.lookup": ("ldap", "command"),
}


# The smallest non-zero value of each [retention] key.
RETENTION_MINIMUM_DAYS = {"closed_ticket_days": 30, "unlinked_days": 7, "outbox_days": 30,
                          "web_events_days": 30}


def default_config_path() -> Path:
    return Path(os.environ.get("HELPDESK_CONFIG") or "config.toml")


def load(path: Path | str | None = None) -> Config:
    """Read and validate a config file; raise ConfigError naming the key."""
    from . import config_errors

    named = path
    path = Path(path) if path else default_config_path()
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(config_errors.missing(path, named)) from None
    except OSError as exc:
        raise ConfigError(config_errors.unreadable(path, exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(config_errors.invalid_toml(path, exc)) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: no está en UTF-8; guárdelo con codificación UTF-8") from None
    return from_dict(data, path)


def from_dict(data: dict, path: Path) -> Config:
    sections = {}
    for name, value in data.items():
        if name not in SECTIONS:
            raise ConfigError(f"{path}: {name}: sección desconocida")
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: {name}: debe ser una sección [{name}]")
        if name == "procedures":
            sections[name] = _build_procedures(value, path)
            continue
        cls = _section_class(name)
        sections[name] = _build_section(cls, name, value, path)
    config = Config(**sections, base_dir=path.resolve().parent, source_path=path)
    _check_semantics(config, path)
    return config


def _section_class(name: str) -> type:
    hints = typing.get_type_hints(Config)
    return hints[name]


def _build_section(cls: type, section: str, values: dict, path: Path):
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in values.items():
        dotted = f"{section}.{key}"
        if key not in hints:
            raise ConfigError(f"{path}: {dotted}: clave desconocida")
        kwargs[key] = _coerce(hints[key], value, dotted, path)
        choices = CHOICES.get(dotted)
        if choices and kwargs[key] not in choices:
            allowed = ", ".join(f'"{c}"' for c in choices)
            raise ConfigError(f"{path}: {dotted}: valor {value!r} no válido (use {allowed})")
    return cls(**kwargs)


def _build_procedures(values: dict, path: Path) -> ProceduresConfig:
    """``default = "ID"`` and one ``[procedures.ID]`` table per routed
    procedure, each with ``addresses``. Whether ID exists is known only with
    the rules (procedures.py checks it at start)."""
    default = DEFAULT_PROCEDURE
    addresses: dict[str, tuple[str, ...]] = {}
    holds: dict[str, float] = {}
    seen: dict[str, str] = {}
    for key, value in values.items():
        if key == "default":
            default = _coerce(str, value, "procedures.default", path)
            continue
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: procedures.{key}: clave desconocida (use default o una tabla "
                              f"[procedures.{key}] con addresses)")
        for inner in value:
            if inner not in ("addresses", "hold_hours"):
                raise ConfigError(f"{path}: procedures.{key}.{inner}: clave desconocida")
        if "hold_hours" in value:
            hold = value["hold_hours"]
            if isinstance(hold, bool) or not isinstance(hold, (int, float)) or not 0 <= hold < float("inf"):
                raise ConfigError(f"{path}: procedures.{key}.hold_hours: se esperaba un número de horas mayor o "
                                  f"igual a 0, no {hold!r}")
            holds[key] = float(hold)
        listed = _coerce(list[str], value.get("addresses", []), f"procedures.{key}.addresses", path)
        for address in listed:
            address = address.strip().lower()
            if not valid_address(address):
                raise ConfigError(f"{path}: procedures.{key}.addresses: {address!r} no es una dirección de correo")
            if address in seen and seen[address] != key:
                raise ConfigError(f"{path}: procedures.{key}.addresses: {address} ya es del trámite {seen[address]}")
            seen[address] = key
        addresses[key] = tuple(a.strip().lower() for a in listed)
    return ProceduresConfig(default, addresses, holds)


def _coerce(hint, value, dotted: str, path: Path):
    def wrong(expected: str) -> ConfigError:
        return ConfigError(f"{path}: {dotted}: se esperaba {expected}, no {value!r}")

    if hint is bool:
        if not isinstance(value, bool):
            raise wrong("true o false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("un número entero")
        if value < 0:
            raise wrong("un número no negativo")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong("un número")
        if value < 0:
            raise wrong("un número no negativo")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise wrong("un texto entre comillas")
        return value
    if typing.get_origin(hint) is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise wrong("una lista de textos")
        return list(value)
    raise AssertionError(f"unsupported config type {hint} for {dotted}")


def _check_web(config: Config, path: Path) -> None:
    """[reset] delivery = "link", [web] and [selfservice] together."""
    reset, web, selfservice = config.reset, config.web, config.selfservice
    if not 0 < reset.link_hours <= 72:
        raise ConfigError(f"{path}: reset.link_hours: entre 0 y 72 horas (la semilla 004 usa 2)")
    if not 8 <= reset.min_password_length <= 64:
        raise ConfigError(f"{path}: reset.min_password_length: entre 8 y 64 (la semilla 003 pide al menos 8)")
    if web.base_url:
        parts = urllib.parse.urlsplit(web.base_url)
        local = parts.hostname is not None and is_loopback(parts.hostname)
        if parts.scheme not in ("https", "http") or not parts.hostname or (parts.scheme == "http" and not local):
            raise ConfigError(f"{path}: web.base_url: {web.base_url!r} debe ser una dirección https://... "
                              "(http:// solo hacia 127.0.0.1)")
        if parts.query or parts.fragment:
            raise ConfigError(f"{path}: web.base_url: sin ? ni #")
    elif reset.delivery == "link" or selfservice.enabled:
        key = "reset.delivery" if reset.delivery == "link" else "selfservice.enabled"
        raise ConfigError(f"{path}: web.base_url: obligatorio con {key} (los enlaces empiezan por ella)")
    try:
        _host, port = web.address()
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        raise ConfigError(f"{path}: web.listen: {web.listen!r} debe ser DIRECCIÓN:PUERTO, p. ej. "
                          "\"127.0.0.1:8080\"") from None
    if not 1 <= web.threads <= 64:
        raise ConfigError(f"{path}: web.threads: entre 1 y 64")
    for key in ("max_requests_per_identifier", "max_requests_per_client", "max_link_requests_per_client",
                "lookups_per_hour", "sends_per_hour", "guesses_per_hour"):
        if getattr(web, key) < 1:  # 0 would shut the pages for everybody
            raise ConfigError(f"{path}: web.{key}: al menos 1")
    if selfservice.enabled and selfservice.lookup == "command" and not selfservice.command:
        raise ConfigError(f"{path}: selfservice.command: obligatorio cuando selfservice.lookup = \"command\"")
    if selfservice.enabled and selfservice.lookup == "ldap":
        if "{identifier}" not in selfservice.ldap_filter:
            raise ConfigError(f"{path}: selfservice.ldap_filter: debe contener {{identifier}}")
        for key in ("ldap_url", "ldap_bind_dn", "ldap_base"):
            if not getattr(reset, key):
                raise ConfigError(f"{path}: reset.{key}: obligatorio cuando selfservice.lookup = \"ldap\" "
                                  "(la búsqueda usa el directorio de [reset])")
    if not 1 <= selfservice.code_minutes <= 60:
        raise ConfigError(f"{path}: selfservice.code_minutes: entre 1 y 60")


def _check_semantics(config: Config, path: Path) -> None:
    """Cross-key checks that a type alone cannot express."""
    try:
        localtime.zone(config.site.timezone)
    except zoneinfo.ZoneInfoNotFoundError:
        raise ConfigError(f"{path}: site.timezone: zona horaria desconocida {config.site.timezone!r} "
                          "(use un nombre de la base IANA, como \"America/Bogota\")") from None
    for section in ("inbox", "smtp", "reset"):
        sec = getattr(config, section)
        given = [k for k in ("password", "password_env", "password_file") if getattr(sec, k)]
        if len(given) > 1:
            raise ConfigError(f"{path}: {section}.{given[1]}: use solo una de password, password_env o password_file")
    if config.inbox.source == "imap" and not config.inbox.username:
        raise ConfigError(f"{path}: inbox.username: obligatorio cuando inbox.source = \"imap\"")
    for section in ("inbox", "smtp"):
        _check_auth(section, getattr(config, section), path)
    if not 0 < config.inbox.port < 65536:
        raise ConfigError(f"{path}: inbox.port: {config.inbox.port} no es un puerto válido")
    if not 0 < config.smtp.port < 65536:
        raise ConfigError(f"{path}: smtp.port: {config.smtp.port} no es un puerto válido")
    if "@" not in config.smtp.from_address:
        raise ConfigError(f"{path}: smtp.from_address: {config.smtp.from_address!r} no es una dirección de correo")

    if config.inbox.address and not valid_address(config.inbox.address):
        raise ConfigError(f"{path}: inbox.address: {config.inbox.address!r} no es una dirección de correo")
    if config.reset.backend == "command" and not config.reset.command:
        raise ConfigError(f"{path}: reset.command: obligatorio cuando reset.backend = \"command\"")
    if config.reset.backend == "ldap":
        for key in ("ldap_url", "ldap_bind_dn", "ldap_base"):
            if not getattr(config.reset, key):
                raise ConfigError(f"{path}: reset.{key}: obligatorio cuando reset.backend = \"ldap\"")
        if "{account}" not in config.reset.ldap_filter:
            raise ConfigError(f"{path}: reset.ldap_filter: debe contener {{account}}")
    accounts = config.accounts
    if accounts.backend_of(config.reset) == "command" and not accounts.command_of(config.reset):
        raise ConfigError(f"{path}: accounts.command: obligatorio cuando accounts.backend = \"command\" "
                          "(o use reset.command)")
    if accounts.backend == "ldap":
        for key in ("ldap_url", "ldap_bind_dn"):
            if not getattr(config.reset, key):
                raise ConfigError(f"{path}: reset.{key}: obligatorio cuando accounts.backend = \"ldap\"")
        if not (accounts.ldap_base or config.reset.ldap_base):
            raise ConfigError(f"{path}: accounts.ldap_base: obligatorio cuando accounts.backend = \"ldap\"")
    for n, domain in enumerate(accounts.domains):
        if not valid_address(f"x@{domain}"):
            raise ConfigError(f"{path}: accounts.domains[{n}]: {domain!r} no es un dominio de correo")
    if not accounts.ldap_rdn.isalnum() or not accounts.ldap_rdn.isascii():
        raise ConfigError(f"{path}: accounts.ldap_rdn: {accounts.ldap_rdn!r} no es un nombre de atributo")
    _check_web(config, path)
    if not 1 <= config.documents.ocr_pages <= 20:
        raise ConfigError(f"{path}: documents.ocr_pages: entre 1 y 20")
    if config.reset.password_length < 12:
        raise ConfigError(f"{path}: reset.password_length: mínimo 12 caracteres")
    prefix = config.radicado.prefix
    if not prefix or not prefix.isalnum() or not prefix.isascii():
        raise ConfigError(f"{path}: radicado.prefix: {prefix!r} debe tener solo letras y números")
    if config.inbox.poll_seconds < 1:
        raise ConfigError(f"{path}: inbox.poll_seconds: debe ser al menos 1")
    for section, used in (("inbox", config.inbox.source == "imap"), ("smtp", config.smtp.transport == "smtp")):
        sec = getattr(config, section)
        # Plain text is tolerated only where the password cannot leave the host.
        if used and sec.security == "none" and not is_loopback(sec.host):
            secret = "el token de acceso" if sec.auth == "xoauth2" else "la contraseña"
            raise ConfigError(
                f"{path}: {section}.security: \"none\" enviaría {secret} sin cifrar a {sec.host}; "
                "use \"ssl\" o \"starttls\" (sin cifrado solo se permite hacia 127.0.0.1)"
            )
    _check_terms(config, path)
    for key, least in RETENTION_MINIMUM_DAYS.items():
        days = getattr(config.retention, key)
        # Removal cannot be undone: a few days is far more likely a slip
        # (months meant) than a policy.
        if 0 < days < least:
            raise ConfigError(f"{path}: retention.{key}: mínimo {least} días (0 conserva para siempre)")
    # Secrets are not read here: staff commands load this file too, and
    # with the service's credentials readable only by it (LoadCredential=)
    # they must work without them (CONTRACT §8). What logs in reads them:
    # `run` at start (mail_secrets), delivery, `check`, the ldap backend.


def _check_terms(config: Config, path: Path) -> None:
    """[site] country and extra_holidays, and [terms] (CONTRACT 12)."""
    from datetime import date

    from .terms.calendar import known_country

    # The default needs no look-up: importing the package costs 0.1 s,
    # which every staff command would pay at start.
    if config.site.country.upper() != "CO" and not known_country(config.site.country):
        raise ConfigError(f"{path}: site.country: país desconocido {config.site.country!r} (use un código ISO de "
                          "dos letras, como \"CO\" o \"MX\")")
    for n, day in enumerate(config.site.extra_holidays):
        try:
            date.fromisoformat(day)
        except ValueError:
            raise ConfigError(f"{path}: site.extra_holidays[{n}]: {day!r} no es una fecha \"AAAA-MM-DD\"") from None
    terms = config.terms
    if not 1 <= terms.withdrawal_months <= 12:
        raise ConfigError(f"{path}: terms.withdrawal_months: entre 1 y 12 (el artículo 17 de la Ley 1755 da un mes)")
    if not 1 <= terms.reminder_days <= 15:
        raise ConfigError(f"{path}: terms.reminder_days: entre 1 y 15 días hábiles")
    if not 0 <= terms.warn_days <= 30:
        raise ConfigError(f"{path}: terms.warn_days: entre 0 y 30 días hábiles")
    if not 0 <= terms.digest_hour <= 23:
        raise ConfigError(f"{path}: terms.digest_hour: una hora entre 0 y 23")
    for n, address in enumerate(terms.notify):
        if not valid_address(address):
            raise ConfigError(f"{path}: terms.notify[{n}]: {address!r} no es una dirección de correo")


def _check_auth(section: str, sec, path: Path) -> None:
    """auth = "xoauth2" needs a user and exactly one token source, and no
    password; token keys without it are a mistake (the login would silently
    use an empty password)."""
    token_keys = [k for k in ("oauth_token_file", "oauth_token_command") if getattr(sec, k)]
    if sec.auth != "xoauth2":
        if token_keys:
            raise ConfigError(f"{path}: {section}.{token_keys[0]}: solo se usa con {section}.auth = \"xoauth2\"")
        return
    if not sec.username:
        raise ConfigError(f"{path}: {section}.username: obligatorio cuando {section}.auth = \"xoauth2\"")
    for key in ("password", "password_env", "password_file"):
        if getattr(sec, key):
            raise ConfigError(
                f"{path}: {section}.{key}: no se usa con {section}.auth = \"xoauth2\" "
                "(el token viene de oauth_token_file u oauth_token_command)"
            )
    if not token_keys:
        raise ConfigError(
            f"{path}: {section}.oauth_token_file: con {section}.auth = \"xoauth2\" indique oauth_token_file "
            "u oauth_token_command"
        )
    if len(token_keys) > 1:
        raise ConfigError(f"{path}: {section}.oauth_token_command: use solo una de oauth_token_file u oauth_token_command")
    if sec.oauth_token_command and not sec.oauth_token_command[0]:
        raise ConfigError(f"{path}: {section}.oauth_token_command: el primer elemento debe ser el programa")
    if sec.oauth_token_timeout <= 0:
        raise ConfigError(f"{path}: {section}.oauth_token_timeout: debe ser mayor que 0")


def is_loopback(host: str) -> bool:
    """True for a literal loopback address or "localhost" (no DNS lookup)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _secret(config: Config, section: str, sec) -> str:
    if sec.password_env:
        value = os.environ.get(sec.password_env)
        if value is None:
            raise ConfigError(
                f"{config.source_path}: {section}.password_env: la variable de entorno {sec.password_env} no está definida"
            )
        return value
    if sec.password_file:
        from .credentials import read_password

        logs_in = bool(getattr(sec, "username", "") or getattr(sec, "ldap_bind_dn", ""))
        return read_password(sec.password_file, config.base_dir, f"{config.source_path}: {section}.password_file",
                             section, logs_in)
    return sec.password
