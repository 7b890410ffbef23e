"""The document worker is a boundary (issue 10, finding 9): the daemon never
unpickles what the worker returns, and the worker holds no secret."""

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from helpdesk.documents import replies_json
from helpdesk.documents.worker import Worker, WorkerFailure, _write, worker_environment
from helpdesk.rules import load_all

from .test_hostile import assert_reads_normal_files


class Planted:
    """What a subverted worker would send: a pickle that runs code on load."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_a_pickle_from_the_worker_is_refused_and_never_run(tmp_path, monkeypatch):
    marker = tmp_path / "ejecutado"
    payload = pickle.dumps(Planted(str(marker)))
    fake = tmp_path / "fake_worker.py"
    # Reads the rules and one request like a real worker, then answers with the pickle.
    fake.write_text(
        "import struct, sys\n"
        "h = struct.Struct('!Q')\n"
        "def skip():\n"
        "    (n,) = h.unpack(sys.stdin.buffer.read(h.size)); sys.stdin.buffer.read(n)\n"
        "skip(); skip()\n"
        f"p = {payload!r}\n"
        "sys.stdout.buffer.write(h.pack(len(p)) + p); sys.stdout.buffer.flush()\n"
        "sys.stdin.buffer.read()\n")
    worker = Worker(load_all())

    def start_fake():
        worker._proc = subprocess.Popen([sys.executable, str(fake)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        _write(worker._proc.stdin, worker.rules)

    monkeypatch.setattr(worker, "_start", start_fake)
    result = worker.examine("formato.pdf", b"%PDF-1.4")
    assert isinstance(result, WorkerFailure)
    assert not marker.exists()
    worker.close()


def test_replies_outside_the_schema_are_refused():
    for bad in (b"[]", b'{"kind": "facts", "value": {"filename": "a", "sha256": "x", "size": "3", "type": "pdf"}}',
                b'{"kind": "facts", "value": {"filename": "a", "sha256": "x", "size": 3, "type": "pdf", "x": 1}}'):
        try:
            replies_json.decode(bad, WorkerFailure)
        except replies_json.BadReply:
            continue
        raise AssertionError(f"accepted {bad!r}")


def test_true_is_refused_where_the_schema_wants_an_integer():
    """bool is an int in Python: a worker saying ``"size": true`` (or true
    for a page's confidence) must be refused, not read as 1."""
    good = {"filename": "a.pdf", "sha256": "x", "size": 3, "type": "pdf"}
    assert replies_json.decode(json.dumps({"kind": "facts", "value": good}).encode(), WorkerFailure).size == 3
    page = {"page": 0, "width": 10, "height": 10, "rotation": 0, "confidence": True, "read": True}
    reading = {"engine": "tesseract", "pages_read": 1, "confidence": 80, "text": "", "pages": [page]}
    for bad in ({**good, "size": True}, {**good, "size": False}, {**good, "reading": reading}):
        with pytest.raises(replies_json.BadReply) as refused:
            replies_json.decode(json.dumps({"kind": "facts", "value": bad}).encode(), WorkerFailure)
        assert str(refused.value) == "expected an integer"


def test_the_worker_gets_no_secret_and_cannot_gain_privileges(monkeypatch):
    monkeypatch.setenv("HELPDESK_SMTP_PASSWORD", "secreto-smtp-123")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", "/run/credentials/helpdesk.service")
    assert "HELPDESK_SMTP_PASSWORD" not in worker_environment()
    worker = Worker(load_all())
    try:
        assert_reads_normal_files(worker)
        environ = Path(f"/proc/{worker.pid}/environ").read_bytes().split(b"\0")
        assert not any(b"secreto-smtp-123" in v or v.startswith(b"CREDENTIALS_DIRECTORY=") for v in environ)
        status = Path(f"/proc/{worker.pid}/status").read_text()
        assert "NoNewPrivs:\t1" in status
    finally:
        worker.close()
    assert os.environ["HELPDESK_SMTP_PASSWORD"] == "secreto-smtp-123"  # the daemon's own is untouched
