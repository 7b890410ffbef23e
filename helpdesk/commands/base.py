"""What every command shares: the lazy context (config, store, rules), the
one sanitised output, --config after the subcommand, and the ``helpdesk``
group itself."""

from __future__ import annotations

import click

from .. import config as config_mod
from .. import localtime, texts
from ..errors import NotFound
from ..intake import quarantine
from ..operations import logs
from ..staff import labels
from ..store import Store


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
    def config_or_defaults(self) -> config_mod.Config:
        """The config, or the defaults when no config file was named and the
        default one is absent: commands such as form-template work anywhere."""
        if self.config_path is None and not config_mod.default_config_path().exists():
            if self._config is None:
                self._config = config_mod.Config()
            return self._config
        return self.config

    @property
    def rules(self):
        """The rules of [rules] path (or the shipped ones), read when first asked for."""
        if self._rules is None:
            from ..rules import load_all

            self._rules = load_all(self.config_or_defaults.rules_dir)
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


def confirm_typed(question: str, accepted: tuple[str, ...]) -> bool:
    """Confirmation by a word typed out, never one letter: in `review` the
    menu's letters (s = saltar) must not also mean "yes, send it"."""
    answer = click.prompt(question, default="", show_default=False)
    return answer.strip().casefold() in {a.casefold() for a in accepted}


def renderer(ctx: Context):
    from ..outgoing.replies import Renderer

    return Renderer(ctx.config)


def risk(ctx: Context, warnings: list[dict]) -> dict:
    """The one-line risk summary and its parts, for screens and JSON."""
    trust = ctx.rules.trust
    codes = [w["code"] for w in warnings]
    high = [c for c in dict.fromkeys(codes) if c in trust.high_risk()]
    return {"warnings": len(codes), "high_risk": high, "line": labels.risk_summary(codes, trust)}


def deliver_now(ctx: Context, outbox_id: int) -> None:
    """Have the email just queued delivered by the one processor (staff/handover.py)
    and say what became of it; it is safe in the outbox whatever happens."""
    from ..staff import handover

    delivery = handover.deliver_queued(ctx.store, ctx.config, outbox_id)
    echo(delivery.message(), err=not delivery.ok)


def indented(text: str, prefix: str) -> str:
    """A person's text under a listing line, every line marked as quoted."""
    return "\n".join(prefix + line for line in texts.safe_text(text).splitlines() or [""])


def quarantined(store: Store, item_id: int) -> quarantine.Quarantined:
    item = quarantine.get(store, item_id)
    if item is None:
        raise NotFound(f"no hay un mensaje en cuarentena con ID {item_id} (vea helpdesk failed)")
    return item


def procedure_named(ctx: Context, name: str):
    """The procedure called ``name`` in the rules; a usage error listing them otherwise."""
    procedure = ctx.rules.procedures.get(name)
    if procedure is None:
        raise click.BadParameter(f"no existe el trámite «{texts.safe_text(name)}»; hay: "
                                 f"{', '.join(ctx.rules.procedures)}", param_hint="--procedure")
    return procedure


def print_json(data) -> None:
    click.echo(texts.safe_json(data))
