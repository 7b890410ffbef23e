"""``helpdesk check``: is everything the daemon needs reachable and right?

Each check returns a ``Check`` with a Spanish line for the operator and,
when it fails, what to do. Nothing is sent: the IMAP folders are listed
(the processed folder is created if missing, as the daemon would), SMTP
gets EHLO and AUTH, the database is opened and migrated.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
from dataclasses import dataclass

from ..config import Config
from ..errors import ConfigError, HelpdeskError, SecretError
from ..errortext import describe, os_reason
from ..oauth import token_source
from ..store import MIGRATIONS, Store

MIN_FREE_BYTES = 500 * 1024 * 1024

# Only `run`, delivery and `check` read the mail secrets; under systemd they
# reach the service alone (LoadCredential=), so a staff user may not see them.
SECRET_FIX = ("revise {section}.password_file o {section}.password_env; si solo el servicio recibe la contraseña "
              "(LoadCredential=), ejecute helpdesk check con un usuario que pueda leerla")


def _secret_fix(exc: ConfigError, section: str) -> str:
    """A password file's own step when it has one (write it, check as the service), else the usual."""
    if isinstance(exc, SecretError) and exc.fix:
        return exc.fix
    return SECRET_FIX.format(section=section)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str
    fix: str = ""


def run_checks(config: Config) -> list[Check]:
    checks = [_rules(config), _templates(config), _database(config), _inbox(config), _authentication(config),
              _smtp(config), _web(config), _ocr(config)]
    return checks


def _web(config: Config) -> Check:
    """helpdesk web, where links or self-service need it: does it answer on
    [web] listen? (Its /salud page opens the database, as a link would.)"""
    import urllib.error
    import urllib.request

    used = [what for what, on in (('[reset] delivery = "link"', config.reset.delivery == "link"),
                                  ("[selfservice] enabled", config.selfservice.enabled)) if on]
    if not used:
        return Check("web", True, "no se usa (las claves van por correo y no hay autoservicio)")
    host, port = config.web.address()
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        with urllib.request.urlopen(f"http://{where}/salud", timeout=5) as response:
            answered = response.status == 200 and response.read(16) == b"ok"
    except (OSError, urllib.error.URLError):
        answered = False
    if not answered:
        verb = "necesitan" if len(used) > 1 else "necesita"
        return Check("web", False, f"{' y '.join(used)} {verb} helpdesk web, que no responde en {where}",
                     "inícielo: systemctl enable --now helpdesk-web (o helpdesk web), y revise [web] listen")
    return Check("web", True, f"helpdesk web responde en {where}; los enlaces empiezan por {config.web.base_url}")


# Words the built-in sample (documents/ocr/sample.png) must give: accented,
# so that a reading without the Spanish data (or with English instead) fails.
OCR_SAMPLE_WORDS = ("posesión", "juramento", "Núñez")


def _ocr(config: Config) -> Check:
    """Reads the built-in sample image the way a scan is read: in a document
    worker, with its limits and config [documents]. Fails when the engine
    or the Spanish data is missing (scans then carry scan_not_read)."""
    import time
    from importlib import resources

    from ..documents.ocr.engine import INSTALL_SPANISH
    from ..documents.worker import Worker, WorkerFailure
    from ..examination.checks import load_rules
    from ..rules import load_all

    if not config.documents.ocr:
        return Check("ocr", True, "apagado ([documents] ocr = false): ningún escaneo se lee y cada uno se señala "
                                  "al personal con scan_not_read")
    sample = resources.files("helpdesk.documents.ocr").joinpath("sample.png").read_bytes()
    try:
        rules = load_rules(config)
    except HelpdeskError:
        rules = load_all()  # the rules line says what is wrong with them; the engine is still tried
    worker = Worker(rules, config.documents)
    started = time.monotonic()
    try:
        facts = worker.examine("muestra.png", sample)
    finally:
        worker.close()
    seconds = time.monotonic() - started
    reading = getattr(facts, "reading", None)
    if isinstance(facts, WorkerFailure) or reading is None:
        why = facts.reason if isinstance(facts, WorkerFailure) else "no devolvió lectura"
        return Check("ocr", False, f"el proceso de documentos no leyó la imagen de muestra: {why}",
                     f"revise la instalación: {INSTALL_SPANISH}; pip install tesserocr en el entorno de helpdesk")
    if not reading.engine:
        reason = next((p.reason for p in reading.pages if p.reason), "no hay motor de OCR")
        return Check("ocr", False, f"los escaneos no se pueden leer: {reason.removeprefix('no se leyó: ')}",
                     f"instale el motor y los datos del español: {INSTALL_SPANISH}")
    missing = [w for w in OCR_SAMPLE_WORDS if w not in reading.text]
    if missing:
        return Check("ocr", False, f"{reading.engine} leyó mal la imagen de muestra (faltan {', '.join(missing)}; "
                                   f"confianza {reading.confidence}/100)",
                     f"reinstale los datos del español: {INSTALL_SPANISH}")
    return Check("ocr", True, f"{reading.engine} leyó la imagen de muestra en {seconds:.1f} s (confianza "
                              f"{reading.confidence}/100); se leen las primeras {config.documents.ocr_pages} "
                              "páginas de cada escaneo")


def _authentication(config: Config) -> Check:
    """Whether the DMARC/DKIM/SPF signal is on. Off, it fails when a
    procedure that hands over an account is routed (CONTRACT §13): there a
    From address is evidence only when our server authenticated it, and
    without the signal every sender counts as a stranger (``run`` still
    processes them so)."""
    server = config.inbox.authserv_id.strip()
    if server:
        return Check("autenticación", True, f"se leen los resultados DMARC, DKIM y SPF de {server} "
                                           "(los de otros servidores se ignoran)")
    handing_over = _routed_handovers(config)
    if handing_over:
        return Check("autenticación", False,
                     f"sin [inbox] authserv_id no se autentica a ningún remitente, y {', '.join(handing_over)} "
                     f"{'entregan' if len(handing_over) > 1 else 'entrega'} cuentas: todo remitente se trata como "
                     "desconocido (se le piden documento de identidad y declaración)",
                     "indique en [inbox] authserv_id el authserv-id con que su servidor de correo firma "
                     "Authentication-Results (p. ej. mx.entidad.gov.co)")
    return Check("autenticación", True, "señal apagada: sin [inbox] authserv_id no se leen los resultados "
                                       "DMARC, DKIM y SPF y no se advierte de remitentes no autenticados")


def _routed_handovers(config: Config) -> list[str]:
    """The procedures that hand over an account and receive requests: those
    with [procedures.ID] addresses, and the default. Rules that do not
    load are the rules line's failure, not this one's."""
    from ..examination.checks import load_rules

    try:
        procedures = load_rules(config).procedures
    except HelpdeskError:
        return []
    routed = [config.procedures.default, *(p for p, a in config.procedures.addresses.items() if a)]
    return sorted({p for p in routed if p in procedures and procedures[p].hands_over_account})


def _rules(config: Config) -> Check:
    from ..examination.checks import load_rules

    try:
        load_rules(config)
    except HelpdeskError as exc:
        return Check("reglas", False, str(exc), "corrija el archivo de reglas o la clave rules.path que se indican")
    return Check("configuración", True, f"{config.source_path} y las reglas de {config.rules_dir} son válidas")


def _templates(config: Config) -> Check:
    """The same compile a start or a SIGHUP does, then every email of every
    kind rendered with sample data: test an edit before `systemctl reload`.
    (A start does not render: a template that fails only at render time
    sends its messages to quarantine, where `helpdesk retry` replays them.)"""
    from ..outgoing.replies import Renderer

    try:
        renderer = Renderer(config)
        renderer.render_samples()
    except HelpdeskError as exc:
        return Check("plantillas", False, str(exc),
                     "corrija la plantilla o la clave replies.templates que se indican y repita helpdesk check")
    shipped = ""
    if renderer.shipped_kinds:
        shipped = (f" (la carpeta no tiene las de {', '.join(renderer.shipped_kinds)}: se usan las incluidas en "
                   "helpdesk)")
    return Check("plantillas", True, f"las plantillas de {config.templates_dir} están completas, son válidas "
                                     f"y generan cada correo con datos de ejemplo{shipped}")


def _database(config: Config) -> Check:
    path = config.database_path
    try:
        store = Store(path, config.raw_dir)
        version = store.one("PRAGMA user_version")[0]
        differences = store.schema_differences()
        store.close()
    except Exception as exc:  # sqlite3 errors, permissions: reported, not raised
        return Check("base de datos", False, f"no se puede abrir {path}: {describe(exc)}",
                     "revise storage.database y los permisos de la carpeta")
    free = shutil.disk_usage(path.parent).free
    if version != len(MIGRATIONS):
        return Check("base de datos", False, f"esquema {version}, se esperaba {len(MIGRATIONS)}",
                     "actualice helpdesk: las migraciones se aplican al iniciar")
    if differences:
        return Check("base de datos", False, f"{path}: el esquema no es el de esta versión de helpdesk: "
                     + ", ".join(differences),
                     "use la versión de helpdesk que creó esta base de datos, o restaure una copia "
                     "hecha con esta versión (helpdesk restore)")
    if free < MIN_FREE_BYTES:
        return Check("base de datos", False, f"solo quedan {free // 1_048_576} MB libres en {path.parent}",
                     "libere espacio en disco")
    return Check("base de datos", True, f"{path} (esquema {version}), {free // 1_048_576} MB libres")


def _inbox(config: Config) -> Check:
    if config.inbox.source == "maildir":
        from ..intake.inbox import MaildirSource

        path = config.path(config.inbox.path)
        try:
            MaildirSource(path, config.inbox.poll_seconds)  # creates it, as the daemon would
        except OSError as exc:
            return Check("buzón", False, f"no se puede crear el Maildir {path}: {os_reason(exc)}", "revise inbox.path")
        for sub in ("new", "cur", "tmp"):
            if not (path / sub).is_dir() or not os.access(path / sub, os.W_OK):
                return Check("buzón", False, f"{path / sub} no existe o no se puede escribir",
                             "cree el Maildir o revise inbox.path")
        return Check("buzón", True, f"Maildir {path}")
    from ..intake.inbox import ImapSource

    try:
        source = ImapSource(config, store=None)
    except ConfigError as exc:
        return Check("IMAP", False, str(exc), _secret_fix(exc, "inbox"))
    try:
        client = source.connect()
        folders = {f[2] for f in client.list_folders()}
    except HelpdeskError as exc:
        return Check("IMAP", False, str(exc), _imap_fix(str(exc), config))
    finally:
        source.close()
    cfg = config.inbox
    if cfg.folder not in folders:
        return Check("IMAP", False, f"no existe la carpeta {cfg.folder}", "revise inbox.folder")
    how = " con token de acceso (XOAUTH2)" if source.tokens else ""
    return Check("IMAP", True, f"sesión iniciada como {cfg.username}{how} en {cfg.host}:{cfg.port}; "
                               f"carpetas {cfg.folder} y {cfg.processed_folder}")


def _token_fix(config: Config, section: str, message: str) -> str:
    """What to do about an XOAUTH2 failure, or "" when it is not one."""
    tokens = token_source(config, section)
    if tokens is None or ("XOAUTH2" not in message and "token" not in message):
        return ""
    if "no ofrece" in message:
        return f"use {section}.auth = \"password\" o el servidor del proveedor (Microsoft 365, Google)"
    return f"obtenga un token de acceso nuevo: {tokens.renew_hint()}; luego repita helpdesk check"


# (words in the error, what to do): the first that matches is shown.
IMAP_FIXES = (
    ("certificado", "use un certificado válido o indique la CA en inbox.ca_file"),
    ("rechazó el usuario", "revise inbox.username y la contraseña (password, password_env o password_file)"),
)
SMTP_FIXES = (
    ("certificado", "indique la CA en smtp.ca_file o use un certificado válido"),
    ("autenticación", "revise smtp.username y la contraseña"),
)


def _fix(message: str, config: Config, section: str, fixes: tuple[tuple[str, str], ...]) -> str:
    if fix := _token_fix(config, section, message):
        return fix
    for words, what in fixes:
        if words in message:
            return what
    conjunction = "e" if section.startswith("i") else "y"  # "e inbox.security", as Spanish wants
    return f"revise {section}.host, {section}.port {conjunction} {section}.security, y que el servidor esté en marcha"


def _imap_fix(message: str, config: Config) -> str:
    return _fix(message, config, "inbox", IMAP_FIXES)


def _smtp(config: Config) -> Check:
    smtp = config.smtp
    if smtp.transport == "file":
        path = config.path(smtp.path)
        try:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            return Check("salida", False, f"no se puede crear {path}: {os_reason(exc)}", "revise smtp.path")
        if not os.access(path, os.W_OK):
            return Check("salida", False, f"no se puede escribir en {path}", "revise smtp.path")
        # The files are the delivered mail, as a mailbox would keep it:
        # a reset email keeps its password there. Fine for the demo and
        # tests, not for production; said where the administrator looks.
        return Check("salida", True, f"archivos .eml en {path} (para pruebas: los correos no salen, y los de "
                                     "contraseñas quedan en esos archivos; configure [smtp] con un servidor real)")
    from ..errors import DeliveryError
    from ..outgoing.outbox import make_transport

    try:
        transport = make_transport(config)
    except ConfigError as exc:
        return Check("SMTP", False, str(exc), _secret_fix(exc, "smtp"))

    async def probe() -> None:
        client = await transport._connect()  # EHLO and AUTH, nothing sent
        await client.quit()

    try:
        asyncio.run(probe())
    except DeliveryError as exc:
        return Check("SMTP", False, str(exc), _smtp_fix(str(exc), config))
    except (OSError, ssl.SSLError) as exc:
        return Check("SMTP", False, f"{smtp.host}:{smtp.port}: {describe(exc)}", "revise smtp.host y smtp.port")
    auth = f", autenticado como {smtp.username}" if smtp.username else ", sin autenticación"
    if smtp.username and transport.tokens:
        auth += " con token de acceso (XOAUTH2)"
    return Check("SMTP", True, f"{smtp.host}:{smtp.port} responde{auth}; no se envió nada")


def _smtp_fix(message: str, config: Config) -> str:
    return _fix(message, config, "smtp", SMTP_FIXES)
