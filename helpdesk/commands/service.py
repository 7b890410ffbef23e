"""Running the service: run, check, demo, stats, backup, restore, purge."""

from __future__ import annotations

import dataclasses
import signal
import sys
from pathlib import Path

import click

from .. import config as config_mod
from .. import localtime, wording
from ..operations import logs
from .base import Context, cli, echo, pass_ctx, print_json


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
    from .. import lock
    from ..daemon import Daemon

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
            outcomes = daemon.run_backlog()
            daemon.write_metrics()
        finally:
            daemon.close()
        echo(f"Mensajes procesados: {len(outcomes)}")
        return
    daemon.run_forever()


@cli.command("stats")
@click.option("--days", default=14, show_default=True, type=click.IntRange(1, 3660),
              help="Días de la tabla por día y de los tiempos por paso.")
@click.option("--json", "as_json", is_flag=True, help="Salida en JSON.")
@pass_ctx
def stats_cmd(ctx: Context, days: int, as_json: bool) -> None:
    """Cifras del servicio: solicitudes por estado y por día, antigüedad, tiempos y fallas.

    Los tiempos por paso son la mediana y el percentil 90 desde la llegada
    de la solicitud, para las solicitudes de los últimos --days días. La
    parte respondida dentro del término legal cuenta las respondidas en esos
    días, por fecha de respuesta, en total, por mes y por trámite.

    Ejemplo: helpdesk stats --days 30
    """
    from ..operations import stats
    from ..terms.office import office_of

    figures = stats.compute(ctx.store, days, zone=localtime.zone(ctx.config.site.timezone),
                            office=office_of(ctx.config, ctx.rules.procedures))
    if as_json:
        print_json(dataclasses.asdict(figures))
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
    from ..demo import run_demo

    base = ctx.config if Path(ctx.config_path or config_mod.default_config_path()).exists() else None
    run_demo(base, Path(workdir) if workdir else None, echo)


@cli.command()
@pass_ctx
def check(ctx: Context) -> None:
    """Comprueba la configuración, las reglas, la base de datos, el buzón y el SMTP, sin enviar nada.

    Sale con código 0 solo si todo está bien.

    Ejemplo: helpdesk --config /etc/helpdesk/config.toml check
    """
    from ..operations.health import run_checks

    results = run_checks(ctx.config)
    for c in results:
        echo(f"{'OK   ' if c.ok else 'FALLA'} {c.name}: {c.message}")
        if not c.ok and c.fix:
            echo(f"      Qué hacer: {c.fix}")
    if not all(c.ok for c in results):
        sys.exit(1)


@cli.command("backup")
@click.argument("path", metavar="CARPETA", type=click.Path(file_okay=False))
@pass_ctx
def backup_cmd(ctx: Context, path: str) -> None:
    """Copia la base de datos y el almacén de correos a una carpeta nueva, sin detener el servicio.

    Ejemplo: helpdesk backup /var/backups/helpdesk/2026-11-23
    """
    from ..operations.backup import backup

    manifest = backup(ctx.config, Path(path))
    echo(f"Copia en {path}: {wording.count(manifest['tickets'], 'solicitud', 'solicitudes')}, "
         f"{wording.count(manifest['messages'], 'mensaje', 'mensajes')}, "
         f"{wording.count(manifest['raw_files'], 'correo original', 'correos originales')}.")


@cli.command("restore")
@click.argument("path", metavar="CARPETA", type=click.Path(file_okay=False, exists=True))
@click.option("--force", is_flag=True, help="Reemplaza la base de datos existente (detenga antes el servicio).")
@pass_ctx
def restore_cmd(ctx: Context, path: str, force: bool) -> None:
    """Restaura una copia hecha con helpdesk backup en la configuración actual.

    Ejemplo: helpdesk restore /var/backups/helpdesk/2026-11-23
    """
    from ..operations.backup import restore

    manifest = restore(ctx.config, Path(path), force)
    tickets = wording.count(manifest["tickets"], "solicitud", "solicitudes")
    echo(f"Restaurada la copia del {ctx.time(manifest['created_at'])}: {tickets}.")


@cli.command()
@click.option("--dry-run", is_flag=True, help="Solo muestra lo que se eliminaría; no cambia nada.")
@pass_ctx
def purge(ctx: Context, dry_run: bool) -> None:
    """Aplica la política de retención ([retention] en la configuración).

    Elimina los correos originales (con sus adjuntos) de las solicitudes
    cerradas hace más de closed_ticket_days días y los correos sin solicitud
    de más de unlinked_days días, y de la página web los eventos sin solicitud
    de más de web_events_days días y los intentos y códigos de más de un
    día. Se conservan las solicitudes, los datos del
    formato, la lista de documentos con su huella SHA-256 y todo el
    historial. El servicio la aplica una vez al día; una línea por solicitud.

    Ejemplo: helpdesk purge --dry-run
    """
    from ..operations import retention

    policy = ctx.config.retention
    echo(_policy_line(policy))
    plan = retention.plan(ctx.store, ctx.config, retention.now())
    items = plan.items if dry_run else retention.apply(ctx.store, ctx.config, plan).items
    by_ticket = retention.by_ticket(items)
    for radicado, group in sorted(by_ticket.items(), key=lambda pair: pair[0] or ""):
        raw = sum(1 for i in group if i.outbox_row is None)
        sent = len(group) - raw
        what = ", ".join(filter(None, (raw and wording.count(raw, "correo recibido", "correos recibidos"),
                                       sent and wording.count(sent, "enviado", "enviados"))))
        label = radicado or "sin solicitud (automáticos, rebotes, duplicados, restos)"
        echo(f"{label}  {what}  {_mb(sum(i.bytes for i in group))}")
    if plan.held == 1:
        echo("1 correo se conserva porque otro registro vigente (o la cuarentena) lo usa.")
    elif plan.held:
        echo(f"{plan.held} correos se conservan porque otro registro vigente (o la cuarentena) los usa.")
    if plan.web.total:
        echo(retention.web_line(plan.web, ctx.config, dry_run))
    tickets = len([r for r in by_ticket if r])
    total = (f"{wording.count(len(items), 'elemento', 'elementos')} de "
             f"{wording.count(tickets, 'solicitud', 'solicitudes')}, {_mb(sum(i.bytes for i in items))}")
    one = len(items) == 1  # the verb agrees with the items, not with the tickets
    if not items and not plan.web.total:
        echo("Nada que eliminar.")
    elif not items:
        pass  # only helpdesk web's rows, said above
    elif dry_run:
        echo(f"{'Se eliminaría' if one else 'Se eliminarían'} {total}. No se cambió nada (--dry-run).")
    else:
        echo(f"{'Eliminado' if one else 'Eliminados'} {total} liberados.")


def _policy_line(policy) -> str:
    def days(n: int) -> str:
        return f"más de {wording.count(n, 'día', 'días')}" if n else "se conservan siempre"

    return (f"Política de retención: solicitudes cerradas: {days(policy.closed_ticket_days)}; "
            f"correos sin solicitud: {days(policy.unlinked_days)}; "
            f"correos enviados: {days(policy.outbox_days)}.")


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"
