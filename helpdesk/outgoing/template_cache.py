"""Compiled templates kept between processes: Jinja's bytecode cache.

Every start of the daemon and every staff command that writes an email
compiles the 73 templates (``Renderer._compile_all`` checks them all before
any is used): 0.1 s each time, a twentieth of the acks of a 200-request
backlog (bench/peer.py). Jinja's ``FileSystemBytecodeCache`` keeps the
compiled code in a folder of the user's own (``_jinja2-cache-UID`` under the
temporary directory, created 0700 and refused unless owned by that user, so
no other account can put code there), keyed by the template's file and
checked against a hash of its source: an edited template is compiled again.

The file names carry a digest of what the compiled code relies on besides
its source (the helpdesk version and the names of the environment's
filters and tests), so a cache written by another version is not read.

The folder holds one set of files per templates folder and version (73
each). A desk has one; a machine that runs the test suite or many
checkouts makes more, so past ``MAX_FILES`` this version's files are
cleared and compiled again (a Renderer compiles all 73 at its start).

A cache, never a reason to fail: a folder that cannot be made, a file that
cannot be written or one that does not load only means compiling, as
without it. Under systemd (PrivateTmp) the service's cache lasts as long as
the service; staff commands share theirs between runs.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os

from jinja2 import BytecodeCache, Environment, FileSystemBytecodeCache
from jinja2.bccache import Bucket

log = logging.getLogger(__name__)

MAX_FILES = 2000  # about 27 templates folders' worth; counting them costs under a millisecond


class _BestEffort(FileSystemBytecodeCache):
    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # noqa: BLE001 - unreadable or truncated (pickle, marshal): compiled instead
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:  # a full disk, a folder removed meanwhile: compiled again next time
            pass


def user_cache(env: Environment) -> BytecodeCache | None:
    """The cache of this user's templates compiled for ``env``, or None when
    no safe folder can be had (then every process compiles)."""
    from .. import __version__

    names = [__version__, *sorted(env.filters), "|", *sorted(env.tests)]
    tag = hashlib.sha256("\0".join(names).encode()).hexdigest()[:12]
    try:
        cache = _BestEffort(pattern=f"__helpdesk_{tag}_%s.cache")
    except (OSError, RuntimeError) as exc:
        log.info("templates compiled without a cache: %s", exc)
        return None
    try:
        with os.scandir(cache.directory) as entries:
            if sum(1 for _ in itertools.islice(entries, MAX_FILES + 1)) > MAX_FILES:
                cache.clear()  # this version's files only (its pattern)
    except OSError:
        pass
    return cache
