"""A form written in the email itself: "Usuario: jperez" lines.

Who asks to unlock an account or change a registered email often writes
the data in the message instead of filling a spreadsheet (issue 14). A
procedure with ``fields_from_text = true`` reads them here, by the same
labels as its form.toml (accents, case and colons ignored): the first line
whose text before the colon is one of a field's labels gives that field.
"""

from __future__ import annotations

from ..rules import FormRules, normalise
from .facts import FormData, cell_text

SOURCE = "texto del mensaje"  # FormData.sheet of a form read from text
MAX_VALUE = 200


def read_text_form(text: str, rules: FormRules) -> FormData | None:
    """The fields written as "Label: value" lines; None when there are none."""
    by_label: dict[str, str] = {}
    for f in rules.fields.values():
        for label in f.labels:
            by_label.setdefault(label, f.key)  # the first field naming a label wins, as in the file's order
    fields: dict[str, str] = {}
    for line in text.splitlines()[:400]:
        label, colon, value = line.partition(":")
        if not colon or len(label) > 60:
            continue
        key = by_label.get(normalise(label.strip(" -*•>\t")))
        value = cell_text(value)[:MAX_VALUE]
        if key and value and key not in fields:
            fields[key] = value
    return FormData(fields=fields, accounts=[], sheet=SOURCE) if fields else None
