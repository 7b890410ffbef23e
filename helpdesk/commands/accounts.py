"""The register of corporate accounts (FT-GTI-002): helpdesk cuentas [export]."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from .. import wording
from ..errors import HelpdeskError
from .base import Context, SubGroup, cli, echo, pass_ctx, print_json


@cli.group(cls=SubGroup, invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Salida en JSON.")
@click.pass_context
def cuentas(click_ctx: click.Context, as_json: bool) -> None:
    """Registro de cuentas de correo corporativas (FT-GTI-002): las creadas, modificadas o eliminadas.

    Sin subcomando, lista las cuentas con su estado, funcionario,
    dependencia, fechas, radicado y quién decidió. Cada aprobación de una
    solicitud del trámite cuentas-correo lo actualiza.

    Ejemplo: helpdesk cuentas export correos_corporativos.xlsx
    """
    if click_ctx.invoked_subcommand is not None:
        return
    from .. import register

    ctx: Context = click_ctx.obj
    rows = register.listing(ctx.store.conn)
    if as_json:
        print_json([dataclasses.asdict(a) for a in rows])
        return
    if not rows:
        echo("El registro de cuentas corporativas está vacío: se llena al aprobar solicitudes del trámite "
             "cuentas-correo.")
        return
    for a in rows:
        echo(f"{a.account}  [{a.state}]  {a.official_name or '-'}, {a.official_position or '-'} — {a.office or '-'}")
        dates = [f"creada {ctx.time(a.created_at)}" if a.created_at else "",
                 f"modificada {ctx.time(a.modified_at)}" if a.modified_at else "",
                 f"{a.state} {ctx.time(a.closed_at)}" if a.closed_at else ""]
        echo(f"    {'; '.join(d for d in dates if d) or '-'}; último radicado {a.radicado or '-'}, decidió {a.decided_by or '-'}")


@cuentas.command("export")
@click.argument("path", metavar="ARCHIVO.xlsx", type=click.Path(dir_okay=False))
@pass_ctx
def cuentas_export(ctx: Context, path: str) -> None:
    """Escribe el registro como la hoja «Lista de correos corporativos FT-GTI-002» (.xlsx).

    Una hoja con cada cuenta y su estado, y otra con cada cambio: fecha,
    acción, radicado y quién decidió.

    Ejemplo: helpdesk cuentas export /srv/registros/FT-GTI-002.xlsx
    """
    from .. import localtime, register
    from ..documents.register_sheet import write_register

    target = Path(path)
    if target.suffix.lower() != ".xlsx":
        raise click.UsageError("el archivo debe terminar en .xlsx")
    rows = register.listing(ctx.store.conn)
    try:
        write_register(target, rows, register.changes(ctx.store.conn), localtime.zone(ctx.config.site.timezone))
    except OSError as exc:
        raise HelpdeskError(f"no se pudo escribir {target}: {exc.strerror}") from None
    echo(f"Registro FT-GTI-002 escrito en {target}: {wording.count(len(rows), 'cuenta', 'cuentas')}.")
