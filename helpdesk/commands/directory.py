"""The entity directory: helpdesk entidades [import]."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from .. import wording
from .base import Context, SubGroup, cli, echo, pass_ctx, print_json


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
    from .. import directory

    ctx: Context = click_ctx.obj
    rows = directory.listing(ctx.store)
    if as_json:
        print_json([dataclasses.asdict(e) for e in rows])
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
    from .. import directory

    done = directory.import_csv(ctx.store, Path(path))
    added = wording.count(done.added, "entidad nueva", "entidades nuevas")
    echo(f"Directorio importado: {added}, {wording.count(done.updated, 'actualizada', 'actualizadas')}.")
