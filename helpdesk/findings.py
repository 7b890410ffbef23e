"""What a check found, and how the entity reads it: shared by every stage.

The examination's checks make ``Finding``s and its decision turns the
problems into the lines of a ``correction``; intake repeats those lines when
a reply brings no documents (the reminder). Both read this module, so intake
never reaches into the examination, the stage that runs after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .outgoing.replies import entity_excerpt

# Severities: a problem the entity must fix; a warning for staff only.
PROBLEM = "problem"
WARNING = "warning"

_QUOTED = re.compile(r"«([^»]*)»")


@dataclass(frozen=True)
class Finding:
    severity: str  # PROBLEM | WARNING
    code: str
    detail: str = ""
    document: str | None = None


def problem_line(finding: Finding, wording: dict[str, str]) -> str:
    """The entity's line for one problem. What the entity wrote (a file
    name, a cell quoted «like this» in the detail) is echoed only as a
    short excerpt without links (replies.entity_excerpt)."""
    template = wording.get(finding.code, "{detail}")
    detail = _QUOTED.sub(lambda m: f"«{entity_excerpt(m.group(1))}»", finding.detail)
    line = template.format(detail=detail, document=entity_excerpt(finding.document or ""))
    # A problem that names no file must not print empty quotes.
    return line.replace(" «»", "").replace("«»", "")
