"""``helpdesk web``'s application served for real (waitress, on 127.0.0.1 and
a free port) in a thread of the test, and a small HTTP client that keeps
cookies, as a browser does, built on the standard library."""

from __future__ import annotations

import http.cookiejar
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from .servers import free_port


class WebServer:
    def __init__(self, config, port: int):
        import waitress

        from helpdesk.web.app import create_app

        self.port = port
        # As helpdesk web serves it (commands/web.py): X-Forwarded-For left to web/guard.py.
        self.app = create_app(config)
        self.server = waitress.create_server(self.app, host="127.0.0.1", port=port, threads=4,
                                             clear_untrusted_proxy_headers=False)
        self.closing = False
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        try:
            self.server.run()
        except OSError:
            # __exit__ closes the listening socket from the test's thread;
            # a select() already waiting on it then fails with EBADF.
            if not self.closing:
                raise

    def __enter__(self) -> "WebServer":
        self.thread.start()
        return self

    def drain(self, timeout: float = 10.0) -> None:
        """Wait for what the pages send after their answer (web/deferred.py)."""
        assert self.app.extensions["helpdesk_deferred"].drain(timeout), "deferred sends still running"

    def __exit__(self, *exc) -> None:
        self.closing = True
        self.server.close()
        self.thread.join(5)


def web_sections(port: int) -> dict:
    return {"base_url": f"http://127.0.0.1:{port}", "listen": f"127.0.0.1:{port}"}


@dataclass
class Page:
    status: int
    text: str
    headers: dict
    url: str

    def hidden(self, name: str) -> str:
        found = re.search(rf'name="{name}" value="([^"]*)"', self.text)
        return found.group(1) if found else ""


class Browser:
    """Cookies kept, redirects followed, every status returned (not raised)."""

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, url: str, headers: dict | None = None) -> Page:
        return self._open(urllib.request.Request(url, headers=headers or {}))

    def post(self, url: str, fields: dict, headers: dict | None = None) -> Page:
        data = urllib.parse.urlencode(fields).encode()
        return self._open(urllib.request.Request(url, data=data, headers=headers or {}, method="POST"))

    def _open(self, request) -> Page:
        try:
            with self.opener.open(request, timeout=30) as response:
                return Page(response.status, response.read().decode(), dict(response.headers), response.url)
        except urllib.error.HTTPError as exc:
            return Page(exc.code, exc.read().decode(), dict(exc.headers), request.full_url)


def links_in(text: str, base: str) -> list[str]:
    return re.findall(re.escape(base) + r"/r/[A-Za-z0-9_-]+", text)


def any_port() -> int:
    return free_port()
