"""Speed of helpdesk web's link page and of its form post.

    .venv/bin/python bench/web.py [--requests 2000] [--clients 4]

Starts ``helpdesk web`` as its own process (waitress, [web] threads = 4)
on a fresh database with REQUESTS single-use links issued beforehand, and
the ``manual`` backend (which applies nothing: the backend's own time,
an LDAP server's or a program's, is not what is measured). Then, from
CLIENTS threads with keep-alive connections:

- GET of a link page (the token looked up by its hash, the audit row
  written, the page rendered);
- POST of a good password to a fresh link (policy, claim, backend call,
  the use, the audit and the ticketless commit), each link once.

Prints requests per second and the median and 95th percentile latency of
each, as seen by the client.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpdesk import config as config_mod  # noqa: E402
from helpdesk.resets import links  # noqa: E402
from helpdesk.store import Store  # noqa: E402
from tests.servers import free_port  # noqa: E402

CONFIG = """
[inbox]
source = "maildir"
path = "inbox"
[smtp]
transport = "file"
path = "outbox"
from_address = "soporte@entidad.gov.co"
[storage]
database = "var/helpdesk.db"
[reset]
backend = "manual"
delivery = "link"
[web]
base_url = "http://127.0.0.1:{port}"
listen = "127.0.0.1:{port}"
threads = 4
"""


def run(paths: list[str], port: int, clients: int, method: str) -> tuple[float, list[float]]:
    """Serve ``paths`` from ``clients`` threads; (seconds, latencies)."""
    latencies: list[float] = []
    lock = threading.Lock()
    chunks = [paths[n::clients] for n in range(clients)]
    body = urllib.parse.urlencode({"password": "Cordillera-Nevada-58", "confirm": "Cordillera-Nevada-58"})

    def client(mine: list[str]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local = []
        for path in mine:
            started = time.perf_counter()
            if method == "GET":
                conn.request("GET", path)
            else:
                conn.request("POST", path, body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
            response = conn.getresponse()
            response.read()
            local.append(time.perf_counter() - started)
            if response.status != 200:
                raise SystemExit(f"{method} {response.status}")
        conn.close()
        with lock:
            latencies.extend(local)

    threads = [threading.Thread(target=client, args=(chunk,)) for chunk in chunks]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, latencies


def report(name: str, seconds: float, latencies: list[float]) -> None:
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    print(f"{name:<26} {len(latencies) / seconds:8.0f} req/s   median {statistics.median(latencies) * 1000:6.1f} ms"
          f"   p95 {p95 * 1000:6.1f} ms   ({len(latencies)} requests)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        path = Path(tmp) / "config.toml"
        path.write_text(CONFIG.format(port=port))
        config = config_mod.load(path)
        store = Store(config.database_path, config.raw_dir)
        with store.transaction() as conn:
            tokens = [links.issue(conn, f"cuenta{n}@entidad.gov.co", 2, links.SELF_SERVICE)
                      for n in range(args.requests)]
        store.close()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        server = subprocess.Popen([sys.executable, "-m", "helpdesk", "--config", str(path), "web"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/salud")
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit(server.stderr.read().decode())
                    time.sleep(0.1)
            pages = [f"/r/{t}" for t in tokens]
            run(pages[:50], port, 1, "GET")  # warm-up
            print(f"helpdesk web, {args.clients} clients, keep-alive, manual backend")
            report("GET link page", *run(pages, port, args.clients, "GET"))
            report("POST password (used once)", *run(pages, port, args.clients, "POST"))
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
