"""Findings -> the next state and the email: the one place that decides.

Any problem: ``needs_correction`` and a ``correction`` email listing every
problem in plain Spanish (the wording is in rules/problems.toml). No
problem: ``pending_approval`` and an ``accepted`` email. Warnings never
reach the entity; they wait for staff in ``show`` and the queue.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..findings import PROBLEM, Finding, problem_line
from ..tickets import NEEDS_CORRECTION, PENDING_APPROVAL


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
