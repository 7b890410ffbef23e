"""click's own texts in Spanish: usage, help headings and error messages.

click marks its texts for GNU gettext (``from gettext import gettext as
_`` in each of its modules). The gettext way to translate them would be a
compiled ``.mo`` catalogue for the global domain ``messages``, chosen by the
user's locale: a service account or a staff member's SSH session often has
``LANG=C``, and a catalogue in the global domain would also translate every
other library in the process. Instead, ``install()`` puts a small table
lookup in place of the ``_`` and ``ngettext`` names of click's modules,
for this process only. A text missing from the table stays in English,
never breaks; ``tests/test_screens.py`` checks that every text of the table
still exists in the installed click, so an upgrade that rewords one is
caught.
"""

from __future__ import annotations

import importlib

# click's modules that translate through a module-level ``_``/``ngettext``.
MODULES = ("click.core", "click.decorators", "click.exceptions", "click.formatting", "click.parser",
           "click.termui", "click.types", "click.utils")

# click's modules that also translate, but only texts staff never meet:
# the external editor and the progress bar, shell completion scripts.
UNTRANSLATED = ("click._termui_impl", "click.shell_completion")

TEXTS = {
    "Usage:": "Uso:",
    "Options": "Opciones",
    "Commands": "Comandos",
    "Positional arguments": "Argumentos",
    "Show this message and exit.": "Muestra esta ayuda y termina.",
    "required": "obligatorio",
    "Show the version and exit.": "Muestra la versión y termina.",
    "Error: {message}": "Error: {message}",
    "Try '{command} {option}' for help.": "Vea '{command} {option}' para la ayuda.",
    "Missing argument": "Falta el argumento",
    "Missing option": "Falta la opción",
    "Missing parameter": "Falta el parámetro",
    "Missing {param_type}": "Falta {param_type}",
    "Missing parameter: {param_name}": "Falta el parámetro: {param_name}",
    "Missing command.": "Falta el comando.",
    "No such command {name!r}.": "No existe el comando {name!r}.",
    "No such option {name!r}.": "No existe la opción {name!r}.",
    "Option {name!r} does not take a value.": "La opción {name!r} no lleva valor.",
    "Invalid value for {param_hint}: {message}": "Valor no válido para {param_hint}: {message}",
    "Invalid value: {message}": "Valor no válido: {message}",
    "Argument {name!r} takes {nargs} values.": "El argumento {name!r} lleva {nargs} valores.",
    "Aborted!": "Cancelado.",
    "Error: invalid input": "Error: respuesta no válida",
    "Error: The two entered values do not match.": "Error: los dos valores no coinciden.",
    "Repeat for confirmation": "Repita para confirmar",
    "Do you want to continue?": "¿Desea continuar?",
    "Press any key to continue...": "Pulse una tecla para continuar...",
    "Choose from:\n\t{choices}": "Elija entre:\n\t{choices}",
    "default: {default}": "por omisión: {default}",
    "env var: {var}": "variable de entorno: {var}",
    "deprecated": "obsoleto",
    "file": "archivo",
    "directory": "carpeta",
    "path": "ruta",
    "{name} {filename!r} does not exist.": "{name} {filename!r} no existe.",
    "{name} {filename!r} is a directory.": "{name} {filename!r} es una carpeta.",
    "{name} {filename!r} is a file.": "{name} {filename!r} es un archivo.",
    "{name} {filename!r} is not readable.": "{name} {filename!r} no se puede leer.",
    "{name} {filename!r} is not writable.": "{name} {filename!r} no se puede escribir.",
    "{name} {filename!r} is not executable.": "{name} {filename!r} no es ejecutable.",
    "Could not open file {filename!r}: {message}": "No se pudo abrir el archivo {filename!r}: {message}",
    "{value!r} is not a valid {number_type}.": "{value!r} no es un {number_type} válido.",
    "{value} is not in the range {range}.": "{value} no está en el rango {range}.",
    "{value!r} is not a valid UUID.": "{value!r} no es un UUID válido.",
}

PLURALS = {
    ("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})"):
        ("Sobra el argumento ({args})", "Sobran los argumentos ({args})"),
    ("Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments."):
        ("La opción {name!r} necesita un valor.", "La opción {name!r} necesita {nargs} valores."),
    ("{value!r} is not {choice}.", "{value!r} is not one of {choices}."):
        ("{value!r} no es {choice}.", "{value!r} no es ninguno de {choices}."),
    ("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)"):
        ("¿Quiso decir {possibility}?", "(¿Quiso decir uno de: {possibilities}?)"),
    ("Takes {nargs} values but 1 was given.", "Takes {nargs} values but {len} were given."):
        ("Lleva {nargs} valores, pero se dio 1.", "Lleva {nargs} valores, pero se dieron {len}."),
}


# The names of click's value types, which make the metavars of the help
# (``--by TEXT``) and the subject of their errors ("'x' is not a valid
# integer."): class attributes, not marked for translation. (A path
# option's name, FILE or DIRECTORY, is translated when the option is made:
# install() runs before the commands are declared.)
TYPE_NAMES = {
    "StringParamType": "texto",
    "IntParamType": "entero",
    "IntRange": "entero",
    "FloatParamType": "número",
    "FloatRange": "número",
    "BoolParamType": "sí/no",
    "DateTime": "fecha",
    "UUIDParameterType": "uuid",
    "File": "archivo",
}


def gettext(message: str) -> str:
    return TEXTS.get(message, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    one, many = PLURALS.get((singular, plural), (singular, plural))
    return one if n == 1 else many


def install() -> None:
    """Make click speak Spanish in this process (idempotent)."""
    import click.types

    for class_name, name in TYPE_NAMES.items():
        getattr(click.types, class_name).name = name
    for name in MODULES:
        module = importlib.import_module(name)
        if hasattr(module, "_"):
            module._ = gettext
        if hasattr(module, "ngettext"):
            module.ngettext = ngettext
