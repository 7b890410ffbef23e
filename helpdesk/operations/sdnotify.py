"""systemd's notification protocol (sd_notify), without libsystemd.

With ``Type=notify`` systemd counts the service as started only when it
says READY=1: after the signal handlers are in place, so that a
``systemctl reload`` right after ``start`` is a reload and not a death.
RELOADING=1 / READY=1 frame a SIGHUP reload, STOPPING=1 a stop, and
STATUS= is the line ``systemctl status`` shows (in Spanish: staff read it).

Outside systemd ($NOTIFY_SOCKET unset) every call does nothing.
"""

from __future__ import annotations

import os
import socket
import time


def notify(*fields: str) -> bool:
    """Send ``KEY=value`` lines to systemd; False when there is no one to tell."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall("\n".join(fields).encode("utf-8"))
    except OSError:
        return False  # monitoring must never stop the mail
    return True


class Watchdog:
    """Pings WATCHDOG=1 at half the interval systemd asked for (WatchdogSec=).

    The loop calls ``ping()`` at each step (a message, a ticket examined, a
    delivery batch, each second of a wait): if none comes for the whole
    interval the process is stuck and systemd restarts it. Every network
    call already has a timeout; this catches what no timeout covers.
    """

    def __init__(self) -> None:
        usec = os.environ.get("WATCHDOG_USEC", "")
        pid = os.environ.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self.interval = int(usec) / 2_000_000 if usec.isdigit() and int(usec) > 0 and mine else None
        self._last = 0.0

    def ping(self) -> None:
        if self.interval is None:
            return
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            notify("WATCHDOG=1")
