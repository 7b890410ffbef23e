"""Crash points for the tests that prove "nothing lost, nothing twice".

``HELPDESK_CRASH_AT=after_commit@3`` makes the process kill itself with
SIGKILL the third time it reaches ``crash_point("after_commit")``: no
cleanup, no ``finally``, no flush, exactly like a power cut at that line.
Unset (always, in production) it costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

_name, _sep, _count = os.environ.get("HELPDESK_CRASH_AT", "").partition("@")
_remaining = int(_count or 1) if _name else 0


def crash_point(name: str) -> None:
    global _remaining
    if name != _name:
        return
    _remaining -= 1
    if _remaining == 0:
        os.kill(os.getpid(), signal.SIGKILL)
