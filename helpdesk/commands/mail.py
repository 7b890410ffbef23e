"""Messages that need a person's eye outside any ticket: failed (quarantine),
retry, the outbox's problems, ignored."""

from __future__ import annotations

import dataclasses
import sys

import click

from .. import wording
from ..intake import quarantine
from ..staff import labels, views
from .base import Context, cli, echo, pass_ctx, print_json, quarantined


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
        print_json([{**vars(i), **dataclasses.asdict(envelopes[i.id])} for i in items])
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
    from ..staff import handover

    if not ids and not retry_all:
        raise click.UsageError("indique uno o más ID (vea helpdesk failed) o --all")
    items = quarantine.listing(ctx.store) if retry_all else [quarantined(ctx.store, i) for i in ids]
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
        print_json(rows)
        return
    if not rows:
        echo("Todos los correos salientes se entregaron o están en cola sin errores.")
        return
    for r in rows:
        status = "en reintento" if r["status"] == "pending" else labels.delivery_label(r["status"])
        echo(f"{r['radicado'] or '-'}  {r['kind']:<10} {r['rcpt_to']}  {status}  "
                   f"intentos: {r['attempts']}\n    {r['last_error'] or ''}")


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
        print_json(rows)
        return
    if not rows:
        echo(f"No hay mensajes sin solicitud en {wording.last_days(days)}.")
        return
    for r in rows:
        mark = "  (automático)" if r["automatic"] else ""
        echo(f"{ctx.time(r['at'])}  {r['from'] or '(sin remitente)'}{mark}")
        echo(f"    Asunto: {r['subject'] or '(sin asunto)'}")
        echo(f"    Motivo: {r['why']}")
