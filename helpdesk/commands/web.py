"""``helpdesk web``: the reset-link and self-service pages (CONTRACT §10)."""

from __future__ import annotations

import click

from ..errors import ConfigError
from .base import Context, cli, echo


@cli.command()
@click.option("--threads", type=click.IntRange(1, 64), default=None,
              help="Hilos que atienden peticiones (por omisión [web] threads).")
@click.pass_obj
def web(ctx: Context, threads: int | None) -> None:
    """Sirve las páginas de cambio de contraseña por enlace y de «¿Olvidó su contraseña?».

    Escucha en [web] listen (por omisión 127.0.0.1:8080), detrás del proxy
    HTTPS de la entidad; los enlaces de los correos usan [web] base_url.
    SIGTERM lo detiene.

    Ejemplo: helpdesk web
    """
    import waitress

    from ..web.app import create_app

    config = ctx.config
    if not config.web.base_url:
        raise ConfigError(f"{config.source_path}: web.base_url: obligatorio para servir los enlaces "
                          "(la dirección HTTPS pública, p. ej. \"https://claves.entidad.gov.co\")")
    host, port = config.web.address()
    app = create_app(config)
    echo(f"Sirviendo {config.web.base_url} en {host}:{port}")
    # waitress: a production WSGI server in pure Python (no compiler, no
    # C extension), threads for the slow backend calls, and no access log
    # (a link's token is in its path). X-Forwarded-For reaches the
    # application, which believes it only from [web] trusted_proxies
    # (web/guard.py): waitress would otherwise drop it, and every client
    # would count as the proxy in the rate limits and the audit.
    waitress.serve(app, host=host, port=port, threads=threads or config.web.threads, ident="helpdesk",
                   clear_untrusted_proxy_headers=False, _quiet=True)
