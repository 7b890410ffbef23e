"""Personal and company identifiers, one validator a module: a person
asking to change their registered email proves who they are with one
(``[procedures]``' cambio-correo, ``identifier_kind`` in its form).

Each module has ``check(text) -> Checked``: the identifier as it is
written canonically, or why it is not valid, in Spanish.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Checked:
    value: str  # canonical form ("" when invalid)
    error: str = ""  # why it is not valid, in Spanish ("" when valid)

    @property
    def valid(self) -> bool:
        return not self.error
