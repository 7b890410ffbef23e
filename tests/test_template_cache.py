"""Compiled templates are kept between processes (outgoing/template_cache.py),
but an edited template is never answered with its old compilation, and a
cache that cannot be used never stops an email."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from helpdesk.config import Config, RepliesConfig, SmtpConfig
from helpdesk.outgoing.replies import Renderer
from helpdesk.outgoing.template_cache import user_cache


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """A temporary directory of this test's own, where the cache folder goes."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def templates_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "plantillas"
    shutil.copytree(Config().shipped_templates_dir, copy)
    return copy


def ack_text(templates: Path) -> str:
    config = Config(smtp=SmtpConfig(from_address="s@entidad.gov.co"), replies=RepliesConfig(templates=str(templates)))
    reply = Renderer(config).build("ack", "a@b.gov.co", "GEL-2026-000001", {"original_subject": "x"}, answering=[])
    return reply.message.as_string()


def test_the_compiled_templates_are_kept_in_a_folder_only_the_user_can_enter(private_tmp):
    templates = templates_copy(private_tmp.parent)
    ack_text(templates)
    [folder] = private_tmp.iterdir()
    assert folder.name.startswith("_jinja2-cache-") and folder.stat().st_mode & 0o777 == 0o700
    assert len(list(folder.iterdir())) >= 3  # the ack's subject, text and html, at least


def test_an_edited_template_is_compiled_again_not_taken_from_the_cache(private_tmp):
    templates = templates_copy(private_tmp.parent)
    assert "Texto cambiado por el administrador" not in ack_text(templates)  # compiled and cached
    plain = templates / "ack.txt.j2"
    plain.write_text("Texto cambiado por el administrador {{ radicado }}\n", encoding="utf-8")
    assert "Texto cambiado por el administrador GEL-2026-000001" in ack_text(templates)


def test_a_corrupt_cache_only_means_compiling_again(private_tmp):
    templates = templates_copy(private_tmp.parent)
    expected = ack_text(templates)
    [folder] = private_tmp.iterdir()
    for cached in folder.iterdir():
        cached.write_bytes(cached.read_bytes()[:20])  # the header, then nothing
    assert _without_ids(ack_text(templates)) == _without_ids(expected)


def test_without_a_folder_for_the_cache_emails_are_still_written(tmp_path, monkeypatch):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")  # the temporary directory is a file: no folder can be made in it
    monkeypatch.setattr(tempfile, "tempdir", str(blocked))
    assert user_cache(Renderer(Config(smtp=SmtpConfig(from_address="s@entidad.gov.co"))).env) is None
    assert "GEL-2026-000001" in ack_text(templates_copy(tmp_path))


def test_a_cache_written_for_other_filters_is_not_read(private_tmp):
    # Compiled code names its filters; a version with other filters compiles anew.
    env = Renderer(Config(smtp=SmtpConfig(from_address="s@entidad.gov.co"))).env
    before = user_cache(env).pattern
    env.filters["otro"] = str.upper
    assert user_cache(env).pattern != before


def test_a_cache_grown_past_its_bound_is_cleared(private_tmp, monkeypatch):
    from helpdesk.outgoing import template_cache

    monkeypatch.setattr(template_cache, "MAX_FILES", 100)
    templates = templates_copy(private_tmp.parent)
    ack_text(templates)
    [folder] = private_tmp.iterdir()
    pattern = next(folder.iterdir()).name.rsplit("_", 1)[0]  # this version's prefix
    for n in range(200):
        (folder / f"{pattern}_{n:040x}.cache").write_bytes(b"")
    ack_text(templates)
    # Cleared, then the 73 templates compiled again by the Renderer: under the bound.
    assert 3 <= len(list(folder.iterdir())) <= 100


def _without_ids(text: str) -> list[str]:
    """The email's lines but those that differ between two builds (date, ids, MIME boundaries)."""
    return [line for line in text.splitlines()
            if not line.startswith(("Date:", "Message-ID:", "Content-Type: multipart", "--=", " boundary="))]
