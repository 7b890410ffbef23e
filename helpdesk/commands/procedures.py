"""The procedures (trámites) this helpdesk serves: helpdesk procedures."""

from __future__ import annotations

import click

from .base import Context, cli, echo, print_json


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Salida en JSON.")
@click.pass_obj
def procedures(ctx: Context, as_json: bool) -> None:
    """Lista los trámites: su identificador, nombre, documentos y direcciones de correo.

    Cada trámite es una carpeta de rules/procedures/; una solicitud va al
    trámite de la dirección a la que se envió ([procedures.ID] addresses en
    la configuración), o al trámite por omisión.

    Ejemplo: helpdesk procedures --json
    """
    config = ctx.config_or_defaults
    items = [{"id": p.id, "name": p.name, "documents": list(p.documents),
              "addresses": list(config.procedures.addresses.get(p.id, ())),
              "default": p.id == config.procedures.default, "checks": list(p.checks), "action": p.action,
              "radicado_prefix": p.radicado_prefix or config.radicado.prefix}
             for p in ctx.rules.procedures.values()]
    if as_json:
        print_json(items)
        return
    kinds = ctx.rules.documents.kinds
    for item in items:
        mark = "  (por omisión)" if item["default"] else ""
        echo(f"{item['id']}{mark}: {item['name']}")
        echo(f"    Radicados:   {item['radicado_prefix']}-AAAA-NNNNNN")
        # The default takes what no listed address catches; another
        # procedure without addresses receives nothing until it has one.
        unrouted = "(las demás)" if item["default"] else "(ninguna: no recibe solicitudes; vea [procedures.ID] addresses)"
        echo(f"    Direcciones: {', '.join(item['addresses']) or unrouted}")
        echo(f"    Documentos:  {'; '.join(kinds[k].name for k in item['documents'])}")
        echo(f"    Revisiones:  {', '.join(item['checks'])}")
