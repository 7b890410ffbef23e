"""Sample requests to try the desk against a real mailbox: helpdesk sample-request."""

from __future__ import annotations

from pathlib import Path

import click

from .. import texts
from ..addresses import valid_address
from ..config import RepliesConfig
from ..errors import HelpdeskError
from .base import Context, cli, echo


def _address(_ctx, param, value: str | None) -> str | None:
    if value is not None and not valid_address(value):
        raise click.BadParameter(f"«{texts.safe_text(value)}» no es una dirección de correo válida")
    return value


@cli.command("sample-request")
@click.option("--to", "to", required=True, metavar="DIRECCIÓN", callback=_address,
              help="La dirección del buzón de la mesa de ayuda (la del trámite reinicio-claves) a la que se enviarán.")
@click.option("--from", "sender", metavar="DIRECCIÓN", callback=_address, default=None,
              help="El remitente escrito en los archivos (por omisión, la oficina de sistemas de la alcaldía de "
                   "ejemplo); su programa de correo pone el suyo al enviarlas.")
@click.option("--out", "out", type=click.Path(file_okay=False), default="solicitudes-de-prueba", show_default=True,
              metavar="CARPETA", help="La carpeta donde se escriben.")
@click.pass_obj
def sample_request(ctx: Context, to: str, sender: str | None, out: str) -> None:
    """Escribe solicitudes de prueba completas (formato firmado escaneado,
    formato en Excel y acta de posesión escaneada) y sus variantes con un
    error, para probar la mesa de ayuda con un buzón real.

    Cada una es un archivo .eml dirigido a --to, con el nombre de lo que
    debe recibir (1-completa: respuesta aceptada; 2-formato-sin-firma:
    corrección; ...). Envíelas desde su programa de correo; sus documentos
    quedan también en una carpeta por variante, para adjuntarlos a mano.
    No se envía nada desde aquí: no hacen falta credenciales.

    Ejemplo: helpdesk sample-request --to soporte-pruebas@entidad.gov.co
    """
    from ..samples import request

    written = request.write_all(Path(out), to, sender or request.default_sender())
    echo(f"Se escribieron {len(written)} solicitudes de prueba para {to} en {out}/ (lea {out}/LEAME.txt):")
    width = max(len(w.eml.name) for w in written)
    for w in written:
        v = w.variant
        code = f" ({v.code})" if v.code else ""
        echo(f"  {w.eml.name:<{width}}  debe recibir: {v.expected}{code}")
    echo("\nEnvíe cada .eml desde su programa de correo (Outlook lo abre listo para enviar; en Thunderbird: "
         "«Editar como nuevo mensaje»), o adjunte a mano los documentos de la carpeta de igual nombre.")
    cap = _cap_per_sender(ctx)
    if 2 * len(written) > cap:
        echo(f"Atención: cada solicitud recibe dos respuestas automáticas (acuse y resultado) y [replies] "
             f"daily_cap_per_sender = {cap}: desde un mismo remitente solo {cap // 2} recibirán respuesta hoy.")
    echo("Luego: helpdesk run --once (o espere al servicio) y helpdesk queue.")


def _cap_per_sender(ctx: Context) -> int:
    """The configured cap, or the default where no config can be read:
    writing samples needs no configuration."""
    try:
        return ctx.config_or_defaults.replies.daily_cap_per_sender
    except HelpdeskError:
        return RepliesConfig().daily_cap_per_sender
