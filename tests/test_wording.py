"""Counts agree in number on every Spanish screen (issue 25, item 10).

Staff read "1 solicitud" and "2 solicitudes", never "solicitud(es)" or
"(1 solicitudes)". The scan below reads every string literal of the
package (f-strings included) and every email and web template, so the next
"(s)" written as a plural marker fails here instead of reaching a person.
Log messages stay out: they are English, for the sysadmin's journal.
"""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import helpdesk
from helpdesk.operations import stats
from helpdesk.terms import figures
from helpdesk.terms.figures import TermShares

from .conftest import ROOT, Embedded, run_helpdesk
from .mails import request

# A word glued to "(s)", "(es)", "(as)" or "(os)": "adjunto(s)", "solicitud(es)", "nueva(s)".
PLURAL_MARKER = re.compile(r"\w\((?:s|es|as|os)\)")
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical"}
PACKAGE = Path(helpdesk.__file__).parent


def _log_message(call: ast.Call) -> ast.AST | None:
    """The message argument of ``log.info(...)``, ``logger.log(level, ...)``, ``logging.warning(...)``."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
            and "log" in func.value.id.lower()):
        return None
    if func.attr in LOG_METHODS and call.args:
        return call.args[0]
    if func.attr == "log" and len(call.args) > 1:
        return call.args[1]
    return None


def _docstrings(tree: ast.Module) -> set[int]:
    """Module and class docstrings (English design notes, never shown);
    a function's docstring is kept: a command's is its Spanish help."""
    found = set()
    for node in [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef))]:
        first = node.body[0] if node.body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            found.add(id(first.value))
    return found


def markers_in_source(source: str) -> list[tuple[int, str]]:
    """(line, text) of each string literal in ``source`` that uses a plural marker."""
    tree = ast.parse(source)
    skipped = _docstrings(tree)
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        message = _log_message(call)
        if message is not None:
            skipped |= {id(n) for n in ast.walk(message)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skipped
            and PLURAL_MARKER.search(node.value)]


def templates() -> list[Path]:
    return sorted([*(ROOT / "templates").rglob("*.j2"), *(PACKAGE / "web" / "templates").glob("*.html")])


def test_the_scan_sees_a_marker_in_a_string_and_an_fstring_and_not_in_a_log_message():
    source = ('import logging\nlog = logging.getLogger(__name__)\n'
              'def f(n):\n'
              '    log.info("examined: %d problem(s)", n)\n'
              '    log.log(20, "delivery after %d attempt(s)", n)\n'
              '    a = "entidad(es) nueva(s)"\n'
              '    return f"{n} adjunto(s) sin examinar"\n')
    assert markers_in_source(source) == [(6, "entidad(es) nueva(s)"), (7, " adjunto(s) sin examinar")]


def test_no_string_in_the_package_marks_a_plural_with_parentheses():
    found = [f"{path.relative_to(PACKAGE.parent)}:{line}: {text!r}"
             for path in sorted(PACKAGE.rglob("*.py"))
             for line, text in markers_in_source(path.read_text(encoding="utf-8"))]
    assert found == []


def test_no_email_or_web_template_marks_a_plural_with_parentheses():
    assert len(templates()) > 40  # the scan reads the folders it means to
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
             for path in templates()
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if PLURAL_MARKER.search(line)]
    assert found == []


def test_stats_say_one_request_and_the_last_day_in_the_singular(tmp_path):
    env = Embedded(tmp_path)
    env.deliver(request())
    env.run_once()
    figures = stats.compute(env.store, 1, at=datetime.now(UTC), zone=ZoneInfo("America/Bogota"))
    lines = stats.report(figures)
    assert "Solicitudes recibidas por día (último día, fechas de America/Bogota):" in lines
    assert "Tiempo desde la llegada hasta cada paso (último día; mediana, percentil 90):" in lines
    steps = [line for line in lines if line.startswith("  acuse de recibo enviado")]
    [step] = steps
    assert re.fullmatch(r"  acuse de recibo enviado {8}[^ ()][^()]*, [^()]+ \(1 solicitud\)", step)


def test_a_one_day_window_is_said_in_the_singular(tmp_path):
    # stats --days 1 and ignored --days 1 said «en los últimos 1 días».
    assert figures.report(TermShares("2026-12-07"), 1) == [
        "Respondidas dentro del término legal: sin solicitudes respondidas en el último día"]
    env = Embedded(tmp_path)
    shown = run_helpdesk("--config", env.config_path, "ignored", "--days", "1", timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == "No hay mensajes sin solicitud en el último día.\n"
