"""Imports run down the stages (issue 25): a stage never takes a name from
a stage above it, and modules that serve each other do not import each
other, late imports inside functions included. Read from the source with
ast, so that a late import counts as much as one at the top."""

from __future__ import annotations

import ast
from pathlib import Path

import helpdesk

PACKAGE = Path(helpdesk.__file__).resolve().parent


def _name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(module: str) -> set[str]:
    """The helpdesk modules (or packages) ``module`` imports, anywhere in it."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            # "from ..staff import labels" imports the module helpdesk.staff.labels.
            found |= {f"{target}.{a.name}" if f"{target}.{a.name}" in MODULES else target for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return {m for m in found if m == "helpdesk" or m.startswith("helpdesk.")}


def crossings(lower: str, upper: tuple[str, ...]) -> dict[str, list[str]]:
    """{module of ``lower``: the modules of ``upper`` it imports}, where any."""
    out = {}
    for module in sorted(MODULES):
        if module == lower or module.startswith(lower + "."):
            above = sorted(i for i in imports_of(module) if any(i == u or i.startswith(u + ".") for u in upper))
            if above:
                out[module] = above
    return out


def test_outgoing_mail_takes_nothing_from_operations_staff_or_the_screens():
    assert crossings("helpdesk.outgoing", ("helpdesk.operations", "helpdesk.staff", "helpdesk.web",
                                           "helpdesk.commands")) == {}


def test_operations_take_nothing_from_staff_or_the_commands():
    assert crossings("helpdesk.operations", ("helpdesk.staff", "helpdesk.commands")) == {}


def test_the_reset_backends_import_one_another_in_no_circle():
    modules = [m for m in MODULES if m.startswith("helpdesk.resets.")]
    graph = {m: {i for i in imports_of(m) if i in modules and i != m} for m in modules}
    circles = []

    def walk(module: str, path: list[str]) -> None:
        for nxt in sorted(graph[module]):
            if nxt in path:
                circles.append(path[path.index(nxt):] + [nxt])
            elif len(path) < len(modules):
                walk(nxt, path + [nxt])

    for module in sorted(modules):
        walk(module, [module])
    assert circles == []
