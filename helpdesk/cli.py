"""The ``helpdesk`` command: a thin click shell over the library.

Each command parses its options, calls the library and prints in Spanish.
Expected failures (``HelpdeskError``) become one line on stderr and the
exit code of CONTRACT §1: 1 refused, 2 usage or configuration.
"""

from __future__ import annotations

import dataclasses
import signal
import sys
from pathlib import Path

import click

from . import cli_es, localtime, texts
from . import config as config_mod
from .errors import HelpdeskError, NotFound
from .intake import quarantine
from .operations import logs
from .staff import labels, views
from .store import Store

# click's own texts (usage, errors) in Spanish, like everything else staff read.
cli_es.install()


class Context:
    """Loads the config and opens the store only when a command needs them."""

    def __init__(self, config_path: str | None):
        self.config_path = config_path
        self._config = None
        self._store = None
        self._rules = None

    @property
    def config(self) -> config_mod.Config:
        if self._config is None:
            self._config = config_mod.load(self.config_path)
        return self._config

    @property
    def rules(self):
        """The rules of [rules] path (or the shipped ones), read when first asked for."""
        if self._rules is None:
            from .rules import load_all

            self._rules = load_all(self.config.rules_dir)
        return self._rules

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.config.database_path, self.config.raw_dir)
        return self._store

    def time(self, value) -> str:
        """A stored UTC timestamp as staff read it: in [site] timezone."""
        return localtime.show(value, localtime.zone(self.config.site.timezone))


pass_ctx = click.make_pass_decorator(Context)


def echo(message: object = "", err: bool = False) -> None:
    """The one way a screen is written: whatever an entity put in a header,
    a cell or a file name, every control character but newline and tab is
    shown as U+FFFD, so no escape sequence reaches the terminal (one could
    rewrite the line above, or write to the clipboard with OSC 52)."""
    click.echo(texts.safe_text(str(message)), err=err)


def _late_config(ctx: click.Context, _param, value: str | None) -> None:
    """``--config`` given after the subcommand: the same as before it."""
    if value:
        ctx.ensure_object(Context).config_path = value


def _late_config_option() -> click.Option:
    return click.Option(["--config"], type=click.Path(dir_okay=False), expose_value=False, is_eager=True,
                        callback=_late_config, help="Archivo de configuración (también antes del comando).")


class Command(click.Command):
    """Every subcommand also takes --config (``helpdesk show X --config F``)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("options_metavar", "[OPCIONES]")
        super().__init__(*args, **kwargs)
        self.params.append(_late_config_option())


class Group(click.Group):
    command_class = Command

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("options_metavar", "[OPCIONES]")
        kwargs.setdefault("subcommand_metavar", "COMANDO [ARGUMENTOS]...")
        super().__init__(*args, **kwargs)


class SubGroup(Group):
    """A command with subcommands of its own (``helpdesk entidades import``): --config after it too."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.params.append(_late_config_option())


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Archivo de configuración (por omisión $HELPDESK_CONFIG o ./config.toml).")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """Mesa de ayuda por correo para el reinicio de claves de entidades públicas."""
    ctx.obj = Context(config_path)
    # Warnings of any command (a worker replaced, a file already gone) go
    # through our formatter, secrets masked; `run` sets its own level.
    logs.setup("WARNING")


@cli.command()
@click.option("--once", is_flag=True, help="Procesa lo que hay en el buzón, entrega el correo pendiente y termina.")
@click.option("--log-level", default="INFO", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
              help="Nivel mínimo de los registros (por omisión INFO).")
@click.option("--log-format", default="text", type=click.Choice(logs.FORMATS), envvar="HELPDESK_LOG_FORMAT",
              help="Registros legibles (text) o un objeto JSON por línea (json); van a stderr.")
@pass_ctx
def run(ctx: Context, once: bool, log_level: str, log_format: str) -> None:
    """Atiende el buzón de soporte.

    Sin --once espera correo (IMAP IDLE o consulta periódica) hasta recibir
    SIGTERM o SIGINT, termina el mensaje en curso y sale con código 0.
    SIGHUP vuelve a leer las reglas y las plantillas entre dos mensajes;
    si tienen un error, sigue con las anteriores y lo registra.

    Una sola instancia por base de datos: si ya hay otra en marcha, sale con
    código 1 sin tocar nada.

    Ejemplo: helpdesk --config /etc/helpdesk/config.toml run --log-format json
    """
    # Signals are caught from the first line: SIGHUP's default action is to
    # exit, and systemd does not restart a service that a reload right
    # after its start would have ended that way.
    early: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda signum, _frame: early.append(signum))
    from . import lock
    from .daemon import Daemon

    logs.setup(log_level, log_format)
    config = ctx.config
    for secret in config.mail_secrets():
        logs.register_secret(secret)
    # The lock before the database and the mailbox: a second instance exits 1 having touched nothing.
    daemon = Daemon.open(config, lock.ONCE if once else lock.DAEMON)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: daemon.stop())
    signal.signal(signal.SIGHUP, lambda *_: daemon.request_reload())
    if signal.SIGTERM in early or signal.SIGINT in early:
        daemon.stop()
    elif signal.SIGHUP in early:
        daemon.request_reload()
    if once:
        try:
            outcomes = daemon.run_once()
            daemon.write_metrics()
        finally:
            daemon.close()
        echo(f"Mensajes procesados: {len(outcomes)}")
        return
    daemon.run_forever()


class StateType(click.ParamType):
    """A ticket state: the contract's code or its Spanish name."""

    name = "estado"

    def convert(self, value, param, ctx):
        state = labels.state_from_user(value)
        if state is None:
            self.fail(f"«{texts.safe_text(value)}» no es un estado; use {labels.state_names_hint()}", param, ctx)
        return state


@cli.command()
@click.option("--state", type=StateType(),
              help="Solo las solicitudes en este estado: recibida, por-corregir, pendiente, resuelta o rechazada "
                   "(o needs_correction, pending_approval...).")
@click.option("--json", "as_json", is_flag=True, help="Salida en JSON.")
@pass_ctx
def tickets(ctx: Context, state: str | None, as_json: bool) -> None:
    """Lista las solicitudes, las más recientes primero.

    Ejemplo: helpdesk tickets --state por-corregir
    """
    rows = views.list_tickets(ctx.store, state)
    if as_json:
        _print_json(rows)
        return
    if not rows:
        echo("No hay solicitudes.")
        return
    for t in rows:
        entity = t["entity_name"] or "(entidad sin identificar)"
        flag = "  MENSAJE NUEVO" if t["follow_up"] else ""
        echo(f"{t['radicado']}  {labels.state_label(t['state']):<24} {ctx.time(t['created_at'])}  "
                   f"{t['sender']}  {entity}{flag}")


KIND_LABELS = {
    "signed_form": "formato firmado y escaneado",
    "excel_form": "formato en Excel",
    "acta_posesion": "acta de posesión",
    None: "sin clasificar",
}


@cli.command()
@click.argument("radicado")
@click.option("--json", "as_json", is_flag=True, help="Salida en JSON.")
@click.option("--save-attachments", "save_dir", type=click.Path(file_okay=False),
              help="Guarda los adjuntos recibidos en esta carpeta (para revisar firmas y escaneos).")
@pass_ctx
def show(ctx: Context, radicado: str, as_json: bool, save_dir: str | None) -> None:
    """Muestra una solicitud completa: datos del formato, documentos, hallazgos e historial.

    Ejemplo: helpdesk show GEL-2026-000042 --save-attachments /tmp/GEL-2026-000042
    """
    view = views.detail(ctx.store, radicado, ctx.config.limits)
    if save_dir:
        from .examination.ticket import save_attachments

        ticket_id = ctx.store.one("SELECT id FROM tickets WHERE radicado = ?", (view["radicado"],))["id"]
        paths = save_attachments(ctx.store, ctx.config, ticket_id, Path(save_dir))
        if not as_json:
            if paths or not view["attachments_purged_at"]:
                echo(f"{len(paths)} adjunto(s) guardado(s) en {save_dir}")
            if view["attachments_purged_at"]:
                echo(_purged_line(ctx, view))
    view["risk"] = _risk(ctx, view["warnings"])
    if as_json:
        _print_json(view)
        return
    echo(view["risk"]["line"])
    echo(f"Radicado:      {view['radicado']}")
    echo(f"Estado:        {labels.state_label(view['state'])}")
    echo(f"Remitente:     {view['sender']}")
    if view["requester"] != view["sender"]:
        echo(f"Responder a:   {view['requester']}")
    echo(f"Asunto:        {view['subject']}")
    echo(f"Recibida:      {ctx.time(view['created_at'])}")
    if view["examination_pending"]:
        echo("Documentos:    pendientes de examen")
    if view["attachments_purged_at"]:
        echo(f"Adjuntos:      {_purged_line(ctx, view)}")
    if view["form"]:
        from .rules import load_form

        names = {k: f.name for k, f in load_form(ctx.config.rules_dir).fields.items()}
        echo("\nFormato (Excel):")
        for key, value in view["form"].items():
            echo(f"  {names.get(key, key) + ':':<52} {value}")
    if view["accounts"]:
        echo("\nCuentas:")
        for a in view["accounts"]:
            echo(f"  - {a['type']}: {a['account']}")
    if view["documents"]:
        echo("\nDocumentos:")
        for d in view["documents"]:
            used = "" if d["counted"] or not d["kind"] else " (reemplazado por uno más reciente)"
            error = f" — ilegible: {d['error']}" if d["error"] else ""
            echo(f"  - {d['filename']}: {KIND_LABELS.get(d['kind'], d['kind'])}{used}{error}")
    for title, key in (("Problemas", "problems"), ("Advertencias", "warnings")):
        if view[key]:
            echo(f"\n{title}:")
            for f in view[key]:
                where = f" [{f['document']}]" if f.get("document") else ""
                echo(f"  - {labels.code_label(f['code'], ctx.rules.trust)} ({f['code']}): {f['detail']}{where}")
    echo("\nMensajes:")
    for m in view["messages"]:
        arrow = "recibido" if m["direction"] == "in" else "enviado "
        delivery = f" [{labels.delivery_label(m['delivery'])}]" if m.get("delivery") else ""
        echo(f"  {ctx.time(m['at'])}  {arrow}  {m['kind']:<10} {m['from']} -> {m['to']}{delivery}")
        echo(f"      {m['subject']}")
        if m.get("authentication"):
            echo(f"      Autenticación del remitente: {m['authentication']['summary']}")
        if m["direction"] == "in" and m["text"]:
            echo(_indented(m["text"], "      | "))
    if view["resets"]:
        echo("\nReinicios de clave:")
        for r in view["resets"]:
            result = "hecho" if r["ok"] else f"falló: {r['error']}"
            echo(f"  {ctx.time(r['at'])}  {r['account']} ({r['backend']}): {result} — {r['actor']}")
    if view["claimed_by"]:
        echo(f"\nEn aprobación por: {view['claimed_by']}")
    echo("\nHistorial:")
    for e in view["events"]:
        echo(f"  {ctx.time(e['at'])}  {e['actor']}: {e['action']}{' — ' + e['detail'] if e['detail'] else ''}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Salida en JSON.")
@click.option("--all", "include_resolved", is_flag=True, help="Incluye los ya reprocesados con éxito.")
@pass_ctx
def failed(ctx: Context, as_json: bool, include_resolved: bool) -> None:
    """Lista los mensajes que no se pudieron procesar (en cuarentena).

    Ejemplo: helpdesk failed
    """
    items = quarantine.listing(ctx.store, include_resolved)
    envelopes = {i.id: quarantine.envelope(ctx.store, i) for i in items}
    if as_json:
        _print_json([{**vars(i), **dataclasses.asdict(envelopes[i.id])} for i in items])
        return
    if not items:
        echo("No hay mensajes en cuarentena.")
        return
    for i in items:
        e = envelopes[i.id]
        echo(f"#{i.id}  {ctx.time(i.created_at)}  intentos: {i.attempts}  {i.source_ref}")
        echo(f"    De: {e.sender}\n    Asunto: {e.subject}\n    Fecha: {ctx.time(e.date)}\n    Error: {i.error}")
    echo("\nReintente con: helpdesk retry ID (o --all) cuando la causa esté corregida.")


@cli.command()
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "retry_all", is_flag=True, help="Reintenta todos los mensajes en cuarentena.")
@pass_ctx
def retry(ctx: Context, ids: tuple[int, ...], retry_all: bool) -> None:
    """Vuelve a procesar mensajes en cuarentena y examina sus documentos.

    Si el servicio está en marcha se lo pide a él (lo atiende en segundos);
    si no, lo hace este comando. Muestra el resultado de cada mensaje y sale
    con código 1 si alguno sigue fallando.

    Ejemplo: helpdesk retry 3
    """
    from .staff import handover

    if not ids and not retry_all:
        raise click.UsageError("indique uno o más ID (vea helpdesk failed) o --all")
    items = quarantine.listing(ctx.store) if retry_all else [_quarantined(ctx.store, i) for i in ids]
    if not items:
        echo("No hay mensajes en cuarentena.")
        return
    for item in items:
        quarantine.check_retryable(ctx.store, item)
    report = handover.retry(ctx.store, ctx.config, items)
    if report.served_by is not None:
        echo(f"Reprocesado por el servicio en marcha (pid {report.served_by.pid}).")
    for result in report.results:
        echo(result.line())
    if report.delivery_error:
        echo(f"Los correos quedaron en cola y los enviará el servicio (desde aquí no se pudo enviar: "
                   f"{report.delivery_error}). Si no está en marcha, {handover.START_HINT}.", err=True)
    if report.still_failing:
        sys.exit(1)


@cli.command("outbox")
@click.option("--json", "as_json", is_flag=True, help="Salida en JSON.")
@pass_ctx
def outbox_cmd(ctx: Context, as_json: bool) -> None:
    """Correos salientes con problemas: fallidos, rebotados o en reintento.

    Ejemplo: helpdesk outbox
    """
    rows = views.outbox_problems(ctx.store)
    if as_json:
        _print_json(rows)
        return
    if not rows:
        echo("Todos los correos salientes se entregaron o están en cola sin errores.")
        return
    for r in rows:
        status = "en reintento" if r["status"] == "pending" else labels.delivery_label(r["status"])
        echo(f"{r['radicado'] or '-'}  {r['kind']:<10} {r['rcpt_to']}  {status}  "
                   f"intentos: {r['attempts']}\n    {r['last_error'] or ''}")


@cli.command("stats")
@click.option("--days", default=14, show_default=True, type=click.IntRange(1, 3660),
              help="Días de la tabla por día y de los tiempos por paso.")
@click.option("--json", "as_json", is_flag=True, help="Salida en JSON.")
@pass_ctx
def stats_cmd(ctx: Context, days: int, as_json: bool) -> None:
    """Cifras del servicio: solicitudes por estado y por día, antigüedad, tiempos y fallas.

    Los tiempos por paso son la mediana y el percentil 90 desde la llegada
    de la solicitud, para las solicitudes de los últimos --days días.

    Ejemplo: helpdesk stats --days 30
    """
    from .operations import stats

    figures = stats.compute(ctx.store, days, zone=localtime.zone(ctx.config.site.timezone))
    if as_json:
        _print_json(dataclasses.asdict(figures))
        return
    for line in stats.report(figures):
        echo(line)


@cli.command()
@click.option("--dir", "workdir", type=click.Path(file_okay=False), default=None,
              help="Carpeta de trabajo de la demostración (por omisión var/demo junto a la configuración).")
@pass_ctx
def demo(ctx: Context, workdir: str | None) -> None:
    """Demostración completa sin servidores: buzón Maildir y salida a archivos.

    Crea solicitudes de ejemplo, las procesa y muestra lo ocurrido.

    Ejemplo: helpdesk demo
    """
    from .demo import run_demo

    base = ctx.config if Path(ctx.config_path or config_mod.default_config_path()).exists() else None
    run_demo(base, Path(workdir) if workdir else None, echo)


@cli.command()
@pass_ctx
def check(ctx: Context) -> None:
    """Comprueba la configuración, las reglas, la base de datos, el buzón y el SMTP, sin enviar nada.

    Sale con código 0 solo si todo está bien.

    Ejemplo: helpdesk --config /etc/helpdesk/config.toml check
    """
    from .operations.health import run_checks

    results = run_checks(ctx.config)
    for c in results:
        echo(f"{'OK   ' if c.ok else 'FALLA'} {c.name}: {c.message}")
        if not c.ok and c.fix:
            echo(f"      Qué hacer: {c.fix}")
    if not all(c.ok for c in results):
        sys.exit(1)


@cli.command("backup")
@click.argument("path", type=click.Path(file_okay=False))
@pass_ctx
def backup_cmd(ctx: Context, path: str) -> None:
    """Copia la base de datos y el almacén de correos a una carpeta nueva, sin detener el servicio.

    Ejemplo: helpdesk backup /var/backups/helpdesk/2026-11-23
    """
    from .operations.backup import backup

    manifest = backup(ctx.config, Path(path))
    echo(f"Copia en {path}: {manifest['tickets']} solicitudes, {manifest['messages']} mensajes, "
               f"{manifest['raw_files']} correos originales.")


@cli.command("restore")
@click.argument("path", type=click.Path(file_okay=False, exists=True))
@click.option("--force", is_flag=True, help="Reemplaza la base de datos existente (detenga antes el servicio).")
@pass_ctx
def restore_cmd(ctx: Context, path: str, force: bool) -> None:
    """Restaura una copia hecha con helpdesk backup en la configuración actual.

    Ejemplo: helpdesk restore /var/backups/helpdesk/2026-11-23
    """
    from .operations.backup import restore

    manifest = restore(ctx.config, Path(path), force)
    echo(f"Restaurada la copia del {ctx.time(manifest['created_at'])}: {manifest['tickets']} solicitudes.")


@cli.command()
@click.option("--dry-run", is_flag=True, help="Solo muestra lo que se eliminaría; no cambia nada.")
@pass_ctx
def purge(ctx: Context, dry_run: bool) -> None:
    """Aplica la política de retención ([retention] en la configuración).

    Elimina los correos originales (con sus adjuntos) de las solicitudes
    cerradas hace más de closed_ticket_days días y los correos sin solicitud
    de más de unlinked_days días. Se conservan las solicitudes, los datos del
    formato, la lista de documentos con su huella SHA-256 y todo el
    historial. El servicio la aplica una vez al día; una línea por solicitud.

    Ejemplo: helpdesk purge --dry-run
    """
    from .operations import retention

    policy = ctx.config.retention
    echo(_policy_line(policy))
    plan = retention.plan(ctx.store, ctx.config, retention.now())
    items = plan.items if dry_run else retention.apply(ctx.store, ctx.config, plan).items
    by_ticket = retention.by_ticket(items)
    for radicado, group in sorted(by_ticket.items(), key=lambda pair: pair[0] or ""):
        raw = sum(1 for i in group if i.outbox_row is None)
        sent = len(group) - raw
        what = ", ".join(filter(None, (raw and f"{raw} correo(s) recibido(s)", sent and f"{sent} enviado(s)")))
        label = radicado or "sin solicitud (automáticos, rebotes, duplicados, restos)"
        echo(f"{label}  {what}  {_mb(sum(i.bytes for i in group))}")
    if plan.held:
        echo(f"{plan.held} correo(s) se conservan porque otro registro vigente (o la cuarentena) los usa.")
    tickets = len([r for r in by_ticket if r])
    total = f"{len(items)} elemento(s) de {tickets} solicitud(es), {_mb(sum(i.bytes for i in items))}"
    if not items:
        echo("Nada que eliminar.")
    elif dry_run:
        echo(f"Se eliminarían {total}. No se cambió nada (--dry-run).")
    else:
        echo(f"Eliminados {total} liberados.")


def _policy_line(policy) -> str:
    def days(n: int) -> str:
        return f"más de {n} días" if n else "se conservan siempre"

    return (f"Política de retención: solicitudes cerradas: {days(policy.closed_ticket_days)}; "
            f"correos sin solicitud: {days(policy.unlinked_days)}; "
            f"correos enviados: {days(policy.outbox_days)}.")


def _purged_line(ctx: Context, view: dict) -> str:
    return f"adjuntos eliminados por la política de retención el {ctx.time(view['attachments_purged_at'])}"


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


@cli.command("form-template")
@click.argument("path", type=click.Path(dir_okay=False))
def form_template(path: str) -> None:
    """Escribe el formato de solicitud en blanco (.xlsx) que diligencian las entidades.

    Ejemplo: helpdesk form-template formato_solicitud.xlsx
    """
    from .documents.form_template import write_template

    target = Path(path)
    if target.suffix.lower() not in (".xlsx", ".xlsm"):
        raise click.UsageError("el archivo debe terminar en .xlsx")
    try:
        write_template(target)
    except OSError as exc:
        raise HelpdeskError(f"no se pudo escribir {target}: {exc.strerror}") from None
    echo(f"Formato escrito en {target}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Salida en JSON.")
@pass_ctx
def queue(ctx: Context, as_json: bool) -> None:
    """Solicitudes que esperan a una persona, las más antiguas primero.

    Las pendientes de aprobación y todas las que tienen un mensaje de la
    entidad sin responder (en cualquier estado), con el texto del mensaje.
    Responda con helpdesk reply o decida con approve, reject o correct.

    Ejemplo: helpdesk queue
    """
    items = views.queue(ctx.store, ctx.config.limits)
    for t in items:
        t["risk"] = _risk(ctx, t["warnings"])
    if as_json:
        _print_json(items)
        return
    if not items:
        echo("No hay solicitudes pendientes de aprobación ni mensajes por responder.")
        return
    echo(f"{len(items)} solicitud(es) en espera:\n")
    for t in items:
        marks = [labels.state_label(t["state"])]
        if t["follow_up"]:
            marks.append("MENSAJE NUEVO DEL SOLICITANTE")
        if t["claimed_by"]:
            marks.append(f"en aprobación por {t['claimed_by']}")
        echo(f"{t['radicado']}  hace {_age(t['age_hours'])}  {'  '.join(marks)}")
        echo(f"  {t['risk']['line']}")
        echo(f"  Entidad:       {t['entity_name'] or '-'}  (NIT {t['entity_nit'] or '-'})")
        echo(f"  Representante: {t['legal_rep_name'] or '-'} <{t['legal_rep_email'] or '-'}>")
        accounts = ", ".join(a["account"] for a in t["accounts"]) or "-"
        echo(f"  Cuentas:       {accounts}")
        codes = sorted({f"{labels.code_label(w['code'], ctx.rules.trust)} ({w['code']})" for w in t["warnings"]})
        echo(f"  Advertencias:  {len(t['warnings'])}{' (' + '; '.join(codes) + ')' if codes else ''}")
        earlier = t["new_messages_total"] - len(t["new_messages"])
        if earlier:
            echo(f"  ({earlier} mensaje(s) anterior(es) sin responder: vea helpdesk show {t['radicado']})")
        for m in t["new_messages"]:
            echo(f"  Mensaje de {m['from'] or '-'} ({ctx.time(m['at'])}): {m['subject']}")
            echo(_indented(texts.excerpt(m["text"]), "    | "))
        echo("")


@cli.command()
@click.argument("radicado")
@click.option("--by", "by", required=True, help="Nombre de quien aprueba (queda en el historial).")
@click.option("--yes", is_flag=True, help="Confirma sin preguntar (backend manual: las claves ya se aplicaron).")
@click.option("--acknowledge-warnings", is_flag=True,
              help="Aprueba aunque haya advertencias de alto riesgo (remitente no autenticado, correo del "
                   "representante legal personal o cambiado), después de revisarlas.")
@pass_ctx
def approve(ctx: Context, radicado: str, by: str, yes: bool, acknowledge_warnings: bool = False) -> None:
    """Aprueba una solicitud: reinicia las claves y las envía al representante legal (campo 1.2).

    Con el backend manual muestra las claves nuevas para aplicarlas en la
    consola del proveedor y pide confirmación antes de enviar el correo.

    Ejemplo: helpdesk approve GEL-2026-000042 --by "Ana Pérez"
    """
    from .staff import decisions as staff

    def confirm(credentials) -> bool:
        if ctx.config.reset.backend != "manual":
            return True
        echo("Aplique estas claves temporales en la consola del proveedor (se muestran solo esta vez).")
        echo("Los guiones son parte de la clave: cópiela completa, con ellos.\n")
        for c in credentials:
            echo(f"  {c.account:<45} {c.password}")
        echo("")
        return yes or confirm_typed(
            "¿Ya aplicó las claves? Se enviará el correo al representante legal.\n"
            f"Escriba el radicado ({radicado.strip().upper()}) o «sí» para enviarlo; cualquier otra cosa cancela",
            (radicado.strip().upper(), "sí", "si"))

    approved = staff.approve(ctx.store, ctx.config, _renderer(ctx), radicado, by, confirm, acknowledge_warnings)
    if approved is None:
        echo("Aprobación cancelada: no se envió nada.")
        sys.exit(1)
    echo(f"Solicitud {approved.ticket.radicado} aprobada: {len(approved.credentials)} cuenta(s) reiniciada(s); "
         f"el correo con las claves va a {approved.ticket.legal_rep_email}.")
    _deliver_now(ctx, approved.outbox_id)


@cli.command()
@click.argument("radicado")
@click.option("--by", "by", required=True, help="Nombre de quien rechaza.")
@click.option("--reason", required=True, help="Motivo, que se envía al solicitante.")
@pass_ctx
def reject(ctx: Context, radicado: str, by: str, reason: str) -> None:
    """Rechaza una solicitud y envía el motivo al solicitante.

    Ejemplo: helpdesk reject GEL-2026-000042 --by "Ana Pérez" --reason "El acta no corresponde a la entidad"
    """
    from .staff import decisions as staff

    decided = staff.reject(ctx.store, ctx.config, _renderer(ctx), radicado, by, reason)
    echo(f"Solicitud {decided.ticket.radicado} rechazada; se envía el motivo a {decided.ticket.requester}.")
    _deliver_now(ctx, decided.outbox_id)


@cli.command()
@click.argument("radicado")
@click.option("--by", "by", required=True, help="Nombre de quien pide la corrección.")
@click.option("--reason", required=True, help="Qué debe corregir la entidad; se le envía tal cual.")
@pass_ctx
def correct(ctx: Context, radicado: str, by: str, reason: str) -> None:
    """Pide al solicitante una corrección, con el motivo escrito por el equipo.

    Ejemplo: helpdesk correct GEL-2026-000042 --by "Ana Pérez" --reason "La firma del formato no es legible"
    """
    from .staff import decisions as staff

    decided = staff.request_correction(ctx.store, ctx.config, _renderer(ctx), radicado, by, reason)
    echo(f"Se pidió una corrección en {decided.ticket.radicado}; se envía a {decided.ticket.requester}.")
    _deliver_now(ctx, decided.outbox_id)


@cli.command()
@click.option("--by", "by", required=True, help="Nombre de quien revisa (queda en el historial).")
@click.option("--attachments-dir", type=click.Path(file_okay=False), default=None,
              help="Carpeta donde guardar los adjuntos para revisarlos (por omisión una carpeta temporal).")
@pass_ctx
def review(ctx: Context, by: str, attachments_dir: str | None) -> None:
    """Recorre la cola: muestra cada solicitud y pregunta qué hacer.

    Para cada solicitud: [a]probar, [r]echazar (con motivo), pedir [c]orrección
    (con motivo), [e]scribir una respuesta al solicitante, [g]uardar los
    adjuntos para mirarlos, [s]altar o [q] salir.
    Nada se decide sin una respuesta explícita.

    Ejemplo: helpdesk review --by "Ana Pérez"
    """
    items = views.queue(ctx.store, ctx.config.limits)
    if not items:
        echo("No hay solicitudes pendientes de aprobación ni mensajes por responder.")
        return
    choices = {"a": "aprobar", "r": "rechazar", "c": "corregir", "e": "escribir una respuesta",
               "g": "guardar adjuntos", "s": "saltar", "q": "salir"}
    for number, item in enumerate(items, start=1):
        echo(f"\n===== {number}/{len(items)} =====")
        click.get_current_context().invoke(show, radicado=item["radicado"], as_json=False, save_dir=None)
        if not _review_one(ctx, item["radicado"], by, attachments_dir, choices):
            echo("Revisión terminada.")
            return
    echo("\nNo quedan más solicitudes en la cola.")


def _review_one(ctx: Context, radicado: str, by: str, attachments_dir: str | None, choices: dict) -> bool:
    """Ask what to do with one ticket until something is decided or skipped;
    False when the staff member quits. A cancelled approval, a refusal or an
    empty reason asks again: nothing moves on without an explicit answer."""
    import tempfile

    from .examination.ticket import save_attachments

    invoke = click.get_current_context().invoke
    while True:
        answer = click.prompt("\n¿Qué hace? [a]probar, [r]echazar, [c]orrección, [e]scribir una respuesta, "
                              "[g]uardar adjuntos, [s]altar, [q] salir", type=click.Choice(list(choices)),
                              show_choices=False)
        if answer == "q":
            return False
        if answer == "s":
            echo("Sin decisión; sigue en la cola.")
            return True
        if answer == "g":
            folder = Path(attachments_dir or tempfile.mkdtemp(prefix="helpdesk-")) / radicado
            ticket_id = ctx.store.one("SELECT id FROM tickets WHERE radicado = ?", (radicado,))["id"]
            try:
                paths = save_attachments(ctx.store, ctx.config, ticket_id, folder)
            except HelpdeskError as exc:
                echo(f"No se pudo: {exc}")
                continue
            echo(f"{len(paths)} adjunto(s) en {folder}")
            continue
        try:
            if answer == "a":
                acknowledged = _acknowledge_risks(ctx, radicado)
                if acknowledged is None:
                    continue
                invoke(approve, radicado=radicado, by=by, yes=False, acknowledge_warnings=acknowledged)
                return True
            prompt = "Respuesta" if answer == "e" else "Motivo"
            text = click.prompt(f"{prompt} (se envía al solicitante)", default="", show_default=False).strip()
            if not text:
                echo("Sin texto no se decide nada.")
                continue
            if answer == "e":
                invoke(reply_cmd, radicado=radicado, by=by, message=text)
            else:
                invoke(reject if answer == "r" else correct, radicado=radicado, by=by, reason=text)
            return True
        except HelpdeskError as exc:
            echo(f"No se pudo: {exc}")
        except SystemExit:
            pass  # a cancelled approval: already said so; asked again


def _acknowledge_risks(ctx: Context, radicado: str) -> bool | None:
    """In `review`, a ticket with high-risk warnings is approved only after
    the staff member types that they saw them; None when they did not."""
    from .staff import decisions as staff

    ticket_id = ctx.store.one("SELECT id FROM tickets WHERE radicado = ?", (radicado,))["id"]
    risks = staff.high_risk_warnings(ctx.store, ticket_id, ctx.rules.trust)
    if not risks:
        return False
    echo("ATENCIÓN: advertencias de alto riesgo: "
         + ", ".join(f"{labels.code_label(r, ctx.rules.trust)} ({r})" for r in risks))
    if confirm_typed("Escriba «revisadas» si las revisó y aun así aprueba; cualquier otra cosa vuelve al menú",
                     ("revisadas",)):
        return True
    echo("Sin aprobar; revise la solicitud (helpdesk show) antes de decidir.")
    return None


@cli.command("reply")
@click.argument("radicado")
@click.option("--by", "by", required=True, help="Nombre de quien responde (queda en el historial).")
@click.option("--message", required=True, help="El texto de la respuesta, que se envía al solicitante.")
@pass_ctx
def reply_cmd(ctx: Context, radicado: str, by: str, message: str) -> None:
    """Responde al solicitante con un texto escrito por el equipo, en cualquier estado.

    El correo va al solicitante como respuesta a su último mensaje, queda en
    el historial y la solicitud deja de figurar como «mensaje nuevo» en la cola.

    Ejemplo: helpdesk reply GEL-2026-000042 --by "Ana Pérez" --message "Su solicitud sigue en revisión."
    """
    from .staff import decisions as staff

    decided = staff.reply(ctx.store, ctx.config, _renderer(ctx), radicado, by, message)
    echo(f"Respuesta registrada en {decided.ticket.radicado}; se envía a {decided.ticket.requester}.")
    _deliver_now(ctx, decided.outbox_id)


@cli.command()
@click.argument("radicado")
@click.option("--by", "by", required=True, help="Nombre de quien reabre (queda en el historial).")
@pass_ctx
def reopen(ctx: Context, radicado: str, by: str) -> None:
    """Reabre una solicitud rechazada o resuelta: sus documentos se examinan de nuevo.

    Para la entidad que respondió con documentos nuevos: el servicio examina
    todos los documentos de la solicitud (el más reciente de cada tipo) y
    responde con una corrección o la aceptación, como a una solicitud nueva.

    Ejemplo: helpdesk reopen GEL-2026-000042 --by "Ana Pérez"
    """
    from .staff import decisions as staff

    ticket = staff.reopen(ctx.store, radicado, by)
    echo(f"Solicitud {ticket.radicado} reabierta: el servicio examinará de nuevo sus documentos "
               "y responderá al solicitante.")


@cli.command()
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 3660),
              help="Solo los mensajes de los últimos N días.")
@click.option("--json", "as_json", is_flag=True, help="Salida en JSON.")
@pass_ctx
def ignored(ctx: Context, days: int, as_json: bool) -> None:
    """Mensajes recibidos que no abrieron solicitud ni recibieron respuesta, con el motivo.

    Sin remitente válido o con varias direcciones en el remitente: una
    persona lo escribió, pero no se sabe a quién responder. También las
    respuestas automáticas, listas de correo y avisos de entrega, marcados
    «(automático)»: ninguno se responde solo, y aquí se ven todos.

    Ejemplo: helpdesk ignored --days 7
    """
    rows = views.ignored(ctx.store, days)
    if as_json:
        _print_json(rows)
        return
    if not rows:
        echo(f"No hay mensajes sin solicitud en los últimos {days} días.")
        return
    for r in rows:
        mark = "  (automático)" if r["automatic"] else ""
        echo(f"{ctx.time(r['at'])}  {r['from'] or '(sin remitente)'}{mark}")
        echo(f"    Asunto: {r['subject'] or '(sin asunto)'}")
        echo(f"    Motivo: {r['why']}")


@cli.group(cls=SubGroup, invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Salida en JSON.")
@click.pass_context
def entidades(click_ctx: click.Context, as_json: bool) -> None:
    """Directorio de entidades: NIT, nombre, departamento, municipio y dominios de correo oficiales.

    Sin subcomando, lista las entidades. Se llena importando la lista de la
    oficina (helpdesk entidades import) y con cada aprobación, que registra
    el correo del representante legal; el examen compara cada solicitud con él.

    Ejemplo: helpdesk entidades import entidades.csv
    """
    if click_ctx.invoked_subcommand is not None:
        return
    from . import directory

    ctx: Context = click_ctx.obj
    rows = directory.listing(ctx.store)
    if as_json:
        _print_json([dataclasses.asdict(e) for e in rows])
        return
    if not rows:
        echo("El directorio de entidades está vacío: impórtelo con helpdesk entidades import ARCHIVO.csv")
        return
    for e in rows:
        place = ", ".join(p for p in (e.municipality, e.department) if p)
        echo(f"{e.nit}  {e.name or '-'}{f' ({place})' if place else ''}  [{e.source}]")
        echo(f"    Dominios: {', '.join(e.domains) or '-'}")
        if e.last_legal_rep_email:
            echo(f"    Última aprobación: {e.last_radicado} ({ctx.time(e.last_approved_at)}), "
                 f"representante legal {e.last_legal_rep_email}")


@entidades.command("import")
@click.argument("path", metavar="ARCHIVO.csv", type=click.Path(dir_okay=False))
@pass_ctx
def entidades_import(ctx: Context, path: str) -> None:
    """Importa el directorio desde un CSV con las columnas nit, nombre, departamento, municipio y dominios.

    Como lo guarda Excel (separado por comas o por punto y coma, UTF-8 o
    Windows-1252). Los dominios van en una celda, separados por espacios o
    punto y coma. Una entidad que ya está se actualiza; si una línea tiene
    un error no se importa nada y se nombra cada línea.

    Ejemplo: helpdesk entidades import /srv/entidades.csv
    """
    from . import directory

    done = directory.import_csv(ctx.store, Path(path))
    echo(f"Directorio importado: {done.added} entidad(es) nueva(s), {done.updated} actualizada(s).")


def confirm_typed(question: str, accepted: tuple[str, ...]) -> bool:
    """Confirmation by a word typed out, never one letter: in `review` the
    menu's letters (s = saltar) must not also mean "yes, send it"."""
    answer = click.prompt(question, default="", show_default=False)
    return answer.strip().casefold() in {a.casefold() for a in accepted}


def _renderer(ctx: Context):
    from .outgoing.replies import Renderer

    return Renderer(ctx.config)


def _risk(ctx: Context, warnings: list[dict]) -> dict:
    """The one-line risk summary and its parts, for screens and JSON."""
    trust = ctx.rules.trust
    codes = [w["code"] for w in warnings]
    high = [c for c in dict.fromkeys(codes) if c in trust.high_risk()]
    return {"warnings": len(codes), "high_risk": high, "line": labels.risk_summary(codes, trust)}


def _deliver_now(ctx: Context, outbox_id: int) -> None:
    """Have the email just queued delivered by the one processor (staff/handover.py)
    and say what became of it; it is safe in the outbox whatever happens."""
    from .staff import handover

    delivery = handover.deliver_queued(ctx.store, ctx.config, outbox_id)
    echo(delivery.message(), err=not delivery.ok)


def _indented(text: str, prefix: str) -> str:
    """A person's text under a listing line, every line marked as quoted."""
    return "\n".join(prefix + line for line in texts.safe_text(text).splitlines() or [""])


def _age(hours: float) -> str:
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} días"


def _quarantined(store: Store, item_id: int) -> quarantine.Quarantined:
    item = quarantine.get(store, item_id)
    if item is None:
        raise NotFound(f"no hay un mensaje en cuarentena con ID {item_id} (vea helpdesk failed)")
    return item


def _print_json(data) -> None:
    click.echo(texts.safe_json(data))


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="helpdesk", standalone_mode=False)
    except click.exceptions.Abort:
        echo("Cancelado.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except HelpdeskError as exc:
        echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except PermissionError as exc:
        # The usual cause: a command that belongs to the service (run, purge,
        # restore) started by a staff member; say so in one line.
        where = f" {exc.filename}" if exc.filename else ""
        echo(f"Error: permiso denegado:{where}. Este comando necesita los permisos del usuario del "
                   "servicio (por ejemplo: sudo -u helpdesk helpdesk ...).", err=True)
        sys.exit(1)
