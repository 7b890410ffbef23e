"""The worker's replies as JSON with a fixed schema, never pickle.

The worker parses hostile files, so it is the side that may be subverted
(a parser bug, a malicious PDF); the daemon must not run what it sends.
Unpickling does exactly that: a pickle can call any function on load. The
reply is therefore plain JSON, decoded against the dataclasses it must
fill (``FileFacts`` and what it holds, or ``WorkerFailure``): an unknown
key, a missing one or a value of the wrong type is refused as a broken
worker. Requests (rules, file bytes) go the other way, from the trusted
side, and stay as they are.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing

from .facts import Account, FileFacts, FormData, PdfFacts
from .reading import DigitalSignature, PageReading, ScanReading, SignatureInk, Word
from .ticket_files import Plan, PlannedFile

# Nesting of zip members in a reply: deeper is a broken worker, not a file.
MAX_DEPTH = 8


class BadReply(ValueError):
    """The worker sent something that is not a reply of the fixed schema."""


def encode(reply) -> bytes:
    kind = {"WorkerFailure": "failure", "Plan": "plan"}.get(type(reply).__name__, "facts")
    return json.dumps({"kind": kind, "value": dataclasses.asdict(reply)}, ensure_ascii=False).encode("utf-8")


def decode(payload: bytes, failure_type: type):
    """A ``FileFacts``, a ticket's ``Plan`` or a ``failure_type`` from the
    worker's bytes; BadReply otherwise."""
    try:
        message = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadReply(f"not JSON: {exc}") from None
    if not isinstance(message, dict) or set(message) != {"kind", "value"}:
        raise BadReply("not a reply")
    cls = {"facts": FileFacts, "plan": Plan, "failure": failure_type}.get(message["kind"])
    if cls is None:
        raise BadReply(f"unknown kind {message['kind']!r}")
    return _build(cls, message["value"], 0)


_CLASSES = {cls.__name__: cls for cls in (FileFacts, PdfFacts, FormData, Account, Plan, PlannedFile, ScanReading,
                                          Word, PageReading, SignatureInk, DigitalSignature)}


@functools.cache
def _schema(cls: type) -> tuple[dict, dict]:
    """A class's field types and fields, worked out once: typing resolves
    the annotations' strings anew at every call (2 ms of every ticket)."""
    return typing.get_type_hints(cls, localns=_CLASSES), {f.name: f for f in dataclasses.fields(cls)}


def _build(cls: type, value, depth: int):
    if depth > MAX_DEPTH:
        raise BadReply("nested too deep")
    if not isinstance(value, dict):
        raise BadReply(f"{cls.__name__}: expected an object")
    hints, fields = _schema(cls)
    if set(value) - set(fields):
        raise BadReply(f"{cls.__name__}: unknown keys {sorted(set(value) - set(fields))}")
    missing = [name for name, f in fields.items() if name not in value
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise BadReply(f"{cls.__name__}: missing {missing}")
    return cls(**{name: _value(hints[name], item, depth) for name, item in value.items()})


def _value(hint, value, depth: int):
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _value(inner, value, depth)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, depth + 1)
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise BadReply(f"expected a list, not {type(value).__name__}")
        if origin is tuple and (len(args) != 2 or args[1] is not Ellipsis):
            if len(value) != len(args):
                raise BadReply("wrong tuple length")
            return tuple(_value(a, v, depth) for a, v in zip(args, value))
        items = [_value(args[0], v, depth) for v in value]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise BadReply("expected an object of texts")
        return dict(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise BadReply("expected true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadReply("expected an integer")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise BadReply("expected a text")
        return value
    raise BadReply(f"unsupported type {hint}")
