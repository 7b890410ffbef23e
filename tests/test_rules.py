"""Rule files are data, checked at start-up: file, key and reason."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpdesk.errors import ConfigError
from helpdesk.rules import RULES_DIR, WARNING_CODES, load_all

from . import forms
from .conftest import embedded_sections, write_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def rules_copy(tmp_path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(RULES_DIR, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("file, old, new, key", [
    ("form.toml", 'section = "entity"', 'section = "entidad"', "fields.entity_name.section"),
    ("form.toml", "required = true", 'required = "sí"', "fields.entity_name.required"),
    ("form.toml", "max_rows = 200", "max_rows = 0", "accounts.max_rows"),
    ("form.toml", "[reading]", "[reading]\ncolor = 1", "reading.color"),
    ("documents.toml", "memory_mb = 768", 'memory_mb = "mucha"', "worker.memory_mb"),
    ("documents.toml", 'filename_words = ["acta", "posesion"]', "filename_words = []", "kinds.acta_posesion.filename_words"),
    ("problems.toml", "[problems.no_accounts]", "[problems.otra]", "problems.no_accounts"),
    ("problems.toml", "No pudimos leer el archivo «{document}»", "No pudimos leer {archivo}", "problems.unreadable_document.text"),
    ("trust.toml", "[warnings.sender_domain_mismatch]", "[warnings.sender_domian_mismatch]",
     "warnings.sender_domian_mismatch"),
    ("trust.toml", 'label = "cambió el correo del representante legal"\nweight = "alto"',
     'label = "cambió el correo del representante legal"\nweight = "bajo"', "warnings.legal_rep_email_changed.weight"),
])
def test_invalid_rule_file_names_file_and_key(rules_copy, file, old, new, key):
    edit(rules_copy / file, old, new)
    with pytest.raises(ConfigError) as info:
        load_all(rules_copy)
    message = str(info.value)
    assert message.startswith(str(rules_copy / file)) and f": {key}:" in message, message


def test_a_trust_file_without_a_newer_code_takes_the_shipped_label_and_weight(rules_copy):
    text = (rules_copy / "trust.toml").read_text(encoding="utf-8")
    start = text.index("[warnings.legal_rep_email_personal]")
    (rules_copy / "trust.toml").write_text(text[:start] + text[text.index("[warnings.legal_rep_email_changed]"):],
                                          encoding="utf-8")
    trust = load_all(rules_copy).trust
    assert trust.warnings["legal_rep_email_personal"].weight == "alto"
    assert set(trust.warnings) == set(WARNING_CODES)


def test_invalid_rules_stop_the_daemon_at_start(tmp_path, rules_copy):
    edit(rules_copy / "form.toml", 'section = "entity"', 'section = "entidad"')
    config = write_config(tmp_path / "config.toml", embedded_sections(rules={"path": str(rules_copy)}))
    result = subprocess.run([sys.executable, "-m", "helpdesk", "--config", str(config), "run", "--once"],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 2
    assert "fields.entity_name.section" in result.stderr and "Traceback" not in result.stderr


def test_a_renamed_label_needs_no_code_change(rules_copy):
    from helpdesk.documents.excel import read_form
    from helpdesk.rules import load_form

    rows = forms.canonical_rows()
    rows = [["Alcaldía o gobernación", r[1]] if r and r[0] == "Nombre de la entidad" else r for r in rows]
    data = forms.custom(rows)
    assert "entity_name" not in read_form(data, load_form(rules_copy)).fields
    edit(rules_copy / "form.toml", '"Razón social"]', '"Razón social", "Alcaldía o gobernación"]')
    assert read_form(data, load_form(rules_copy)).fields["entity_name"] == "Alcaldía de Prueba"


def test_a_new_required_field_needs_no_code_change(rules_copy):
    from helpdesk.documents.classify import classify_all
    from helpdesk.documents.examine import examine
    from helpdesk.examination.checks import Examination, run_checks

    with open(rules_copy / "form.toml", "a", encoding="utf-8") as fh:
        fh.write('\n[fields.website]\nsection = "entity"\nlabels = ["Sitio web"]\nrequired = true\n'
                 'name = "Sitio web de la entidad (1.1)"\n')
    rules = load_all(rules_copy)
    facts = examine("formato.xlsx", forms.custom(forms.canonical_rows()), rules)
    classified, notes = classify_all([facts], rules.documents)
    findings = run_checks(Examination(classified, notes, "a@alcaldia-prueba.gov.co", [], []), rules)
    assert ("missing_field", "Sitio web de la entidad (1.1)") in {(f.code, f.detail) for f in findings}


def test_worker_processes_default_to_one_per_core_and_can_be_set(rules_copy, monkeypatch):
    import os

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3, 4, 5, 6, 7})
    assert load_all(rules_copy).documents.worker.process_count() == 4  # one per core, at most 4
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1})
    assert load_all(rules_copy).documents.worker.process_count() == 2
    edit(rules_copy / "documents.toml", "processes = 0 ", "processes = 3 ")
    assert load_all(rules_copy).documents.worker.process_count() == 3
    edit(rules_copy / "documents.toml", "processes = 3 ", "processes = -1 ")
    with pytest.raises(ConfigError, match="worker.processes"):
        load_all(rules_copy)
