"""Hostile attachments through the real worker process.

Each file below is sent to ``helpdesk.documents.worker.Worker`` (a
subprocess with memory and CPU limits): it must come back as an unreadable
``FileFacts`` or a ``WorkerFailure`` within seconds; right after it the
same ``Worker`` must read a normal PDF and a normal Excel form (a worker
that died is replaced, one that survived is kept); and the test process's
own memory must not grow, since only the worker ever decompresses.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import resource
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import psutil
import pytest

from helpdesk.documents import sniff
from helpdesk.documents.examine import FileFacts
from helpdesk.documents.worker import Worker, WorkerFailure
from helpdesk.rules import RULES_DIR, load_all

from . import docfiles, forms, mails

TIMEOUT_SECONDS = 5  # the worker's wall clock per file, lowered for the tests
BOUND_SECONDS = 10  # what a hostile file may cost, start-up of a new worker included


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory):
    target = tmp_path_factory.mktemp("rules")
    shutil.copytree(RULES_DIR, target, dirs_exist_ok=True)
    documents = target / "documents.toml"
    text = documents.read_text(encoding="utf-8")
    text, n = re.subn(r"(?m)^timeout_seconds = \d+", f"timeout_seconds = {TIMEOUT_SECONDS}", text)
    assert n == 1
    text, n = re.subn(r"(?m)^cpu_seconds = \d+", f"cpu_seconds = {TIMEOUT_SECONDS}", text)
    assert n == 1
    documents.write_text(text, encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def rules(rules_dir):
    loaded = load_all(rules_dir)
    assert loaded.documents.worker.timeout_seconds == TIMEOUT_SECONDS
    return loaded


@pytest.fixture(scope="module")
def worker(rules):
    w = Worker(rules)
    assert_reads_normal_files(w)  # started and warm before the first hostile file
    yield w
    w.close()


@functools.cache
def normal_files() -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        form = forms.filled_template(Path(tmp))
    return {"acta_posesion.pdf": docfiles.text_pdf(["ACTA DE POSESIÓN", "María Fernanda Gómez Ruiz tomó posesión del cargo"]),
            "Formato solicitud.xlsx": form}


def assert_reads_normal_files(w: Worker) -> None:
    normal = normal_files()
    acta = w.examine("acta_posesion.pdf", normal["acta_posesion.pdf"])
    assert isinstance(acta, FileFacts) and acta.readable, acta
    assert acta.pdf.has_text and "tomó posesión" in acta.pdf.text
    form = w.examine("Formato solicitud.xlsx", normal["Formato solicitud.xlsx"])
    assert isinstance(form, FileFacts) and form.readable, form
    assert form.form.fields["entity_nit"] == "890905211-1"


# -- the hostile files --------------------------------------------------


def all_facts(result: FileFacts) -> list[FileFacts]:
    return [result] + [inner for m in result.members for inner in all_facts(m)]


def refused(result) -> None:
    """Unreadable (the error says why) or the worker gave up on it."""
    if isinstance(result, WorkerFailure):
        assert result.reason
        return
    assert isinstance(result, FileFacts)
    assert result.error, result


def refused_saying(*words: str) -> Callable:
    def check(result) -> None:
        assert isinstance(result, FileFacts) and result.error, result
        for word in words:
            assert word in result.error
    return check


def deepest_refused(result) -> None:
    """A zip nested too deep: the levels within the limit open, the next one is refused."""
    assert isinstance(result, FileFacts) and result.readable, result
    errors = [f.error for f in all_facts(result) if f.error]
    assert len(errors) == 1 and "comprimidos dentro de otros" in errors[0]


def read_as_pdf(result) -> None:
    """Not hostile after all: typed by its content, read as what it is."""
    assert isinstance(result, FileFacts) and result.readable, result
    assert result.type == sniff.PDF and result.pdf.pages == 1


@dataclass(frozen=True)
class Hostile:
    id: str
    filename: str
    build: Callable[[], bytes]
    check: Callable = refused


HOSTILE = [
    Hostile("xlsx zip bomb (sheet1.xml 210 MB)", "formato.xlsx", docfiles.zip_bomb_xlsx,
            refused_saying("descomprimido", "25.0 MB")),
    Hostile("xlsx zip bomb with lying sizes", "formato.xlsx", docfiles.zip_bomb_lying_sizes_xlsx),
    Hostile("ods zip bomb (content.xml 210 MB)", "formato.ods", docfiles.zip_bomb_ods),
    Hostile("xlsx billion laughs", "formato.xlsx", docfiles.xml_bomb_xlsx, refused_saying("hoja de cálculo")),
    Hostile("pdf flate bomb (520 MB)", "acta.pdf", docfiles.pdf_decompression_bomb),
    Hostile("pdf page tree loop", "acta.pdf", docfiles.looping_pdf, refused_saying("el PDF")),
    Hostile("pdf xref /Prev loop", "acta.pdf", docfiles.prev_loop_pdf, read_as_pdf),
    Hostile("pdf with 200,000 text operators (CPU)", "acta.pdf", docfiles.slow_text_pdf),
    Hostile("pdf with 20 pages drawing 15 times a 14,000-operator form (CPU)", "acta.pdf", docfiles.slow_pages_pdf),
    Hostile("pdf unknown filter", "acta.pdf", docfiles.unknown_filter_pdf),
    Hostile("pdf certificate encryption", "acta.pdf", docfiles.certificate_encrypted_pdf),
    Hostile("pdf user password", "acta.pdf", lambda: docfiles.encrypted_pdf("1234"), refused_saying("contraseña")),
    Hostile("truncated text pdf", "acta.pdf", lambda: docfiles.truncated(docfiles.text_pdf(["ACTA DE POSESIÓN"]))),
    Hostile("truncated scan pdf", "acta.pdf", lambda: docfiles.truncated(docfiles.scan_pdf(["ACTA DE POSESIÓN"]))),
    Hostile("truncated xlsx", "formato.xlsx", lambda: docfiles.truncated(normal_files()["Formato solicitud.xlsx"])),
    Hostile("truncated jpeg", "acta.jpg", lambda: docfiles.truncated(docfiles.scan_jpeg(["ACTA"]))),
    Hostile("truncated png", "acta.png", lambda: docfiles.truncated(docfiles.scan_png(["ACTA"]))),
    Hostile("truncated zip", "documentos.zip",
            lambda: docfiles.truncated(docfiles.zip_of({"acta.pdf": docfiles.scan_pdf(["ACTA"])}))),
    Hostile("corrupt deflate zip", "documentos.zip", docfiles.corrupt_deflate_zip),
    Hostile("zip with negative offsets", "documentos.zip", docfiles.bad_offsets_zip),
    Hostile("html named .xlsx", "formato.xlsx", lambda: docfiles.lying_extension()[0][1],
            refused_saying("no es un archivo .xlsx válido")),
    Hostile("pdf named .jpg", "acta.jpg", lambda: docfiles.lying_extension()[1][1], read_as_pdf),
    Hostile("zip nested 4 deep", "documentos.zip", lambda: docfiles.nested_zip(4), deepest_refused),
    Hostile("zip with 60 members", "documentos.zip", lambda: docfiles.many_members_zip(60),
            refused_saying("60 archivos")),
    Hostile("png declaring 30000x30000", "acta.png", docfiles.huge_image_png),
]


def alive(process: psutil.Process) -> bool:
    return process.is_running() and process.status() != psutil.STATUS_ZOMBIE


@pytest.mark.parametrize("hostile", [pytest.param(h, id=h.id) for h in HOSTILE])
def test_hostile_file_is_refused_in_time_and_the_worker_still_reads_normal_files(worker, hostile, capsys):
    data = hostile.build()
    before = psutil.Process(worker.pid)
    started = time.monotonic()
    result = worker.examine(hostile.filename, data)
    elapsed = time.monotonic() - started
    survived = alive(before)
    with capsys.disabled():
        outcome = f"WorkerFailure: {result.reason}" if isinstance(result, WorkerFailure) else (result.error or "leído")
        print(f"\n    {hostile.id}: {len(data):,} bytes, {elapsed:.2f} s -> {outcome}", end="")
    assert elapsed < BOUND_SECONDS
    hostile.check(result)
    if isinstance(result, FileFacts):
        assert survived  # an answer comes from a living worker
    assert_reads_normal_files(worker)
    # A worker that survived is kept; one that died or was killed is replaced, not reused.
    assert (worker.pid == before.pid) == survived


def test_worker_that_runs_past_its_time_is_killed_and_replaced(rules):
    quick = dataclasses.replace(rules, documents=dataclasses.replace(
        rules.documents, worker=dataclasses.replace(rules.documents.worker, timeout_seconds=1)))
    w = Worker(quick)
    try:
        assert_reads_normal_files(w)
        old = psutil.Process(w.pid)
        started = time.monotonic()
        result = w.examine("acta.pdf", docfiles.slow_pages_pdf())
        assert time.monotonic() - started < 2
        assert isinstance(result, WorkerFailure) and result.reason.startswith("no se pudo procesar en 1 segundo; ")
        assert not old.is_running()  # killed and reaped, not left behind
        assert_reads_normal_files(w)
        assert w.pid != old.pid
    finally:
        w.close()


def test_parent_memory_does_not_grow_across_all_hostile_files(rules):
    files = [(h, h.build()) for h in HOSTILE]  # built (streaming) before measuring
    me = psutil.Process()
    rss_before = me.memory_info().rss
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    w = Worker(rules)
    try:
        for hostile, data in files:
            w.examine(hostile.filename, data)
        assert_reads_normal_files(w)
    finally:
        w.close()
    grown = me.memory_info().rss - rss_before
    peak_grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - peak_before
    assert grown < 50 * 1024 * 1024, f"RSS grew by {grown / 1e6:.1f} MB"
    assert peak_grown < 50 * 1024 * 1024, f"peak RSS grew by {peak_grown / 1e6:.1f} MB"


@pytest.mark.parametrize("build", [docfiles.unknown_filter_pdf, docfiles.certificate_encrypted_pdf,
                                   docfiles.corrupt_deflate_zip,
                                   docfiles.bad_offsets_zip])
def test_file_the_parser_rejects_is_unreadable_without_killing_the_worker(worker, build):
    pid_before = worker.pid
    result = worker.examine("documento", build())
    assert isinstance(result, FileFacts) and result.error, result
    assert worker.pid == pid_before


def test_error_nobody_foresaw_comes_back_as_a_worker_failure_from_a_living_worker(worker):
    """Whatever escapes examine() is answered as a WorkerFailure; the worker keeps serving.

    A filename that is not text makes examine() itself fail (TypeError), the
    kind of error no parser's except clause lists."""
    pid_before = worker.pid
    result = worker.examine(None, b"not a document")
    assert isinstance(result, WorkerFailure) and result.reason
    assert worker.pid == pid_before
    assert_reads_normal_files(worker)


def test_a_ticket_whose_examination_keeps_failing_is_answered_and_left_to_staff(embedded, monkeypatch):
    # Issue 10, finding 7: a ticket whose examination raised (RecursionError
    # on 3,000 nested parts) kept its mark and was tried again every cycle,
    # forever. The failure is injected here: what is tested is the give-up.
    from helpdesk.examination import ticket as examination

    def explode(*_args, **_kwargs):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(examination, "examine_ticket", explode)
    embedded.deliver(mails.request())
    embedded.run_once()
    embedded.run_once()
    row = embedded.store.one("SELECT state, examine_pending, follow_up FROM tickets")
    assert (row["examine_pending"], embedded.kinds()) == (1, ["ack"])  # still retried after two failures
    embedded.run_once()
    row = embedded.store.one("SELECT state, examine_pending, follow_up FROM tickets")
    assert (row["state"], row["examine_pending"], row["follow_up"]) == ("needs_correction", 0, 1)
    assert embedded.kinds() == ["ack", "correction"]
    assert "No pudimos procesar los archivos adjuntos" in embedded.sent()[-1].get_body(("plain",)).get_content()
    [warning] = embedded.store.query("SELECT detail FROM findings WHERE code = 'examination_failed'")
    assert "RecursionError" in warning["detail"]
    embedded.run_once()
    assert embedded.kinds() == ["ack", "correction"]  # and never again
