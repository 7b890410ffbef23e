"""Findings -> the next state and the email: the one place that decides.

Any problem: ``needs_correction`` and a ``correction`` email listing every
problem in plain Spanish (the wording is in rules/problems.toml). No
problem: ``pending_approval`` and an ``accepted`` email. Warnings never
reach the entity; they wait for staff in ``show`` and the queue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..outgoing.replies import entity_excerpt
from ..tickets import NEEDS_CORRECTION, PENDING_APPROVAL
from .checks import PROBLEM, Finding

_QUOTED = re.compile(r"«([^»]*)»")


@dataclass(frozen=True)
class Decision:
    state: str
    email_kind: str  # "correction" | "accepted"
    problem_lines: list[str]  # what the correction email lists, in order


def decide(findings: list[Finding], wording: dict[str, str]) -> Decision:
    problems = [f for f in findings if f.severity == PROBLEM]
    if not problems:
        return Decision(PENDING_APPROVAL, "accepted", [])
    return Decision(NEEDS_CORRECTION, "correction", [problem_line(f, wording) for f in problems])


def problem_line(finding: Finding, wording: dict[str, str]) -> str:
    """The entity's line for one problem. What the entity wrote (a file
    name, a cell quoted «like this» in the detail) is echoed only as a
    short excerpt without links (replies.entity_excerpt)."""
    template = wording.get(finding.code, "{detail}")
    detail = _QUOTED.sub(lambda m: f"«{entity_excerpt(m.group(1))}»", finding.detail)
    line = template.format(detail=detail, document=entity_excerpt(finding.document or ""))
    # A problem that names no file must not print empty quotes.
    return line.replace(" «»", "").replace("«»", "")
