"""``python -m helpdesk ARGS`` for the tests, forked from a process that has
already imported helpdesk.

The suite runs the CLI some 600 times. Each run started an interpreter and
imported helpdesk.cli, click, jinja2 and the config's dataclasses: 0.18 s
of CPU before the command did anything, about 110 s of the suite's 830 on
2 cores. The zygote pays that once per pytest process; each command is
then a fork of it, so it is still a process of its own: its own stdin,
stdout and stderr (files, read back as ``subprocess.run`` would return
them), working directory, environment, exit code and ``sys.argv``, and a
crash or ``os._exit`` in it touches nothing else. What a fork cannot give
is what Python reads when it starts or when a module is imported: the
locale and stdio encoding, ``PYTHON*`` variables (``PYTHONTZPATH`` is read
by zoneinfo's import), and ``HELPDESK_CRASH_AT`` (helpdesk.faults). A
command whose environment changes any of them runs in a fresh interpreter
(``usable``). Tests of the entry point itself (test_install, the deploy
tests) and of signals and terminals (review, Ctrl-C, the daemons) start
real processes of their own.
"""

from __future__ import annotations

import atexit
import errno
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAIN = str(ROOT / "helpdesk" / "__main__.py")  # sys.argv[0] of ``python -m helpdesk``
# Read at start-up or at import: a command given other values than the
# zygote's needs a fresh interpreter.
READ_AT_START = ("PYTHON", "LANG", "LC_", "HELPDESK_CRASH_AT")
MAX_MESSAGE = 1 << 20

_zygote: tuple[subprocess.Popen, str] | None = None  # this pytest process's: (process, its socket)


def _zygote_env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _at_start(env: dict) -> dict:
    return {k: v for k, v in env.items() if k.startswith(READ_AT_START)}


def usable(env: dict) -> bool:
    """Whether a command with this whole environment can be forked from the
    zygote: the variables read at start are the zygote's own.
    HELPDESK_TEST_FRESH_CLI=1 runs every command in a fresh interpreter."""
    if os.environ.get("HELPDESK_TEST_FRESH_CLI") == "1":
        return False
    return _at_start(env) == _at_start(_zygote_env())


def _start() -> str:
    """The zygote's socket; the zygote started at the first command."""
    global _zygote
    if _zygote is not None and _zygote[0].poll() is None:
        return _zygote[1]
    folder = tempfile.mkdtemp(prefix="helpdesk-zygote-")
    path = os.path.join(folder, "socket")
    process = subprocess.Popen([sys.executable, "-c", f"from tests import cli_zygote; cli_zygote.serve({path!r})"],
                               cwd=ROOT, env=_zygote_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not os.path.exists(path):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the CLI zygote did not start")
        time.sleep(0.01)
    _zygote = (process, path)
    atexit.register(shutil.rmtree, folder, True)
    atexit.register(process.kill)  # run first: atexit calls in reverse
    return path


def run(argv: list[str], cwd, env: dict, input_text: str | None, timeout: float) -> subprocess.CompletedProcess:
    """As ``subprocess.run([python, -m, helpdesk, *argv], capture_output=True,
    text=True, input=input_text, cwd=cwd, env=env, timeout=timeout)``."""
    folder = str(cwd or os.getcwd())
    if not os.path.isdir(folder):  # as subprocess says it, before any process is made
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), folder)
    path = _start()
    args = [sys.executable, "-m", "helpdesk", *argv]
    with tempfile.TemporaryFile() as stdin, tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as conn:
        if input_text:
            stdin.write(input_text.encode())
            stdin.seek(0)
        conn.connect(path)
        request = {"argv": argv, "cwd": folder, "env": env}
        socket.send_fds(conn, [json.dumps(request).encode()], [stdin.fileno(), out.fileno(), err.fileno()])
        conn.settimeout(timeout)
        pid = json.loads(conn.recv(MAX_MESSAGE))["pid"]
        try:
            reply = conn.recv(MAX_MESSAGE)
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)
            raise subprocess.TimeoutExpired(args, timeout) from None
        # No reply: the command's process died without a word (a signal).
        code = json.loads(reply)["code"] if reply else -signal.SIGKILL
        out.seek(0)
        err.seek(0)
        # Universal newlines, as text=True gives.
        stdout = io.TextIOWrapper(out, encoding="utf-8", errors="replace").read()
        stderr = io.TextIOWrapper(err, encoding="utf-8", errors="replace").read()
    return subprocess.CompletedProcess(args, code, stdout, stderr)


def serve(path: str) -> None:
    """The zygote: import what every command imports, then fork one child per request."""
    import helpdesk.cli  # noqa: F401  (what is paid once)

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the commands
    parent = os.getppid()
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as listener:
        listener.bind(path)
        listener.listen(64)
        listener.settimeout(1.0)
        while os.getppid() == parent:  # the pytest process gone: so is its zygote
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            message, fds, _flags, _address = socket.recv_fds(conn, MAX_MESSAGE, 3)
            if os.fork() == 0:
                listener.close()
                _command(conn, json.loads(message), fds)  # never returns
            conn.close()
            for fd in fds:
                os.close(fd)


def _command(conn: socket.socket, request: dict, fds: list[int]) -> None:
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the command waits for its own children
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for target, fd in zip((0, 1, 2), fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        time.tzset()
        encoding, errors = sys.stdout.encoding, sys.stdout.errors
        sys.stdin = open(0, encoding=encoding, errors=errors, closefd=False)
        sys.stdout = open(1, "w", encoding=encoding, errors=errors, closefd=False)
        sys.stderr = open(2, "w", encoding=encoding, errors="backslashreplace", closefd=False)
        sys.argv = [MAIN, *request["argv"]]
        conn.send(json.dumps({"pid": os.getpid()}).encode())
        from helpdesk.cli import main

        try:
            main()
            code = 0
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                print(exc.code, file=sys.stderr)
        except BaseException:  # as the interpreter does with an uncaught exception
            traceback.print_exc()
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        conn.send(json.dumps({"code": code}).encode())
    finally:
        os._exit(code)
