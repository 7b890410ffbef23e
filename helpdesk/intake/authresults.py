"""What our own receiving server said of a message's sender (RFC 8601).

Anyone can write an ``Authentication-Results`` header into a message; only
the one our receiving server adds, under its ``authserv-id`` (``[inbox]
authserv_id``), is evidence. So:

- headers of any other authserv-id are ignored; one *above* ours (written
  after our server, or forged to look so) is noted for staff;
- of our own, only the block our server wrote counts: the headers of ours
  from the first one down to the next ``Received`` or foreign header. The
  receiving server prepends its headers (milters above its ``Received``,
  Dovecot's LMTP below its own), so one carrying our id *below* that
  boundary was in the message before our server saw it: the sender wrote
  it. It is ignored and noted for staff (the server should delete those
  too, RFC 8601 section 5; OpenDKIM's ``RemoveARFrom`` does);
- within the block, the topmost result of DMARC and SPF wins, and every
  DKIM signature counts;
- Microsoft 365 writes its header without any authserv-id: set
  ``authserv_id = "microsoft365"`` to read that form.

The verdict (``sender_not_authenticated``, CONTRACT §6): DMARC ``fail``,
``temperror`` or ``permerror``, or no DMARC result at all, warns; ``none``
(a domain without a DMARC policy) is shown but not warned.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

from .. import wording

MICROSOFT_365 = "microsoft365"
METHODS = ("dmarc", "dkim", "spf")
# DMARC results that are no warning: a pass, and "none" (the domain
# publishes no policy: shown, not warned). Anything else warns, a result
# nobody foresaw or one cut short included (an allow-list, not a deny-list).
NOT_WARNED = ("pass", "none")

_RESULT = re.compile(r"^\s*([a-z0-9_-]+)\s*=\s*([a-z]+)\b(.*)$", re.I | re.S)
_PROPERTY = re.compile(r"\b(header\.from|header\.d|header\.i|smtp\.mailfrom|policy\.published-domain-policy)"
                       r"\s*=\s*\"?([^\s;\"]+)", re.I)


@dataclass(frozen=True)
class MethodResult:
    method: str  # dmarc, dkim, spf
    result: str  # pass, fail, none, ...
    domain: str  # header.from (DMARC), header.d (DKIM), smtp.mailfrom (SPF)


@dataclass(frozen=True)
class Authentication:
    """Our server's results for one message; empty when it reported none."""

    results: tuple[MethodResult, ...] = ()
    foreign_above: tuple[str, ...] = ()  # authserv-ids of headers above ours
    checked: bool = True  # False: no authserv_id configured, the signal is off
    ours_below: int = 0  # headers with our id below our server's block: forged

    def first(self, method: str) -> MethodResult | None:
        return next((r for r in self.results if r.method == method), None)

    @property
    def unauthenticated(self) -> str:
        """Why staff are warned (empty: no warning)."""
        if not self.checked:
            return ""
        dmarc = self.first("dmarc")
        if dmarc is None:
            return "el servidor de recepción no registró un resultado DMARC"
        if dmarc.result.lower() not in NOT_WARNED:
            return f"DMARC {dmarc.result} para {dmarc.domain or 'el dominio del remitente'}"
        if dmarc.result.lower() == "pass" and not dmarc.domain:
            return "DMARC pass sin el dominio evaluado (header.from)"
        return ""

    def verdict(self, sender_domain: str) -> str:
        """Why staff are warned about a message from ``sender_domain``
        (empty: no warning). Besides ``unauthenticated``, a DMARC result for
        another domain than the sender's is no evidence for this sender: the
        server and our parser read the From header differently."""
        why = self.unauthenticated
        dmarc = self.first("dmarc")
        if not why and dmarc and dmarc.domain and sender_domain and dmarc.domain != sender_domain.lower():
            why = f"el resultado DMARC es de {dmarc.domain}, no del dominio del remitente {sender_domain.lower()}"
        return why

    def authenticates(self, sender: str) -> bool:
        """Whether our server vouches for ``sender``: the signal is on
        (``authserv_id`` set) and its DMARC result is ``pass`` for the From
        domain. Only then is a From address evidence of who wrote
        (CONTRACT §13); "none" is no warning but no evidence either."""
        dmarc = self.first("dmarc")
        domain = sender.rpartition("@")[2].strip().lower()
        return (self.checked and dmarc is not None and dmarc.result.lower() == "pass"
                and bool(domain) and dmarc.domain == domain)

    def summary(self) -> str:
        """One line for staff: 'DMARC pass (x.gov.co), DKIM pass (x.gov.co), SPF pass (x.gov.co)'."""
        if not self.checked:
            return "no se verifica (falta [inbox] authserv_id)"
        parts = [f"{r.method.upper()} {r.result}" + (f" ({r.domain})" if r.domain else "") for r in self.results]
        line = ", ".join(parts) or "el servidor de recepción no dejó resultados"
        if self.foreign_above:
            line += (f"; ATENCIÓN: encabezado de otro servidor ({', '.join(self.foreign_above)}) por encima "
                     "del nuestro, ignorado")
        if self.ours_below:
            headers = wording.count(self.ours_below, "encabezado", "encabezados")
            line += (f"; ATENCIÓN: {headers} con nuestro authserv-id que ya traía el mensaje (posible "
                     f"falsificación), {'ignorado' if self.ours_below == 1 else 'ignorados'}")
        return line

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | None) -> Authentication | None:
        if not text:
            return None
        data = json.loads(text)
        return cls(tuple(MethodResult(**r) for r in data["results"]), tuple(data["foreign_above"]), data["checked"],
                   data.get("ours_below", 0))


def read(values: list[str], authserv_id: str, received_above: tuple[int, ...] = ()) -> Authentication:
    """The ``Authentication-Results`` values of a message, top first;
    ``received_above`` gives, for each, how many ``Received`` headers sit
    above it (none given: no ``Received`` between them)."""
    ours = authserv_id.strip().lower()
    if not ours:
        return Authentication(checked=False)
    results: list[MethodResult] = []
    foreign: list[str] = []
    block_at: int | None = None  # Received headers above our block; None until it starts
    ended, ours_below = False, 0
    for index, value in enumerate(values):
        server, resinfos = _split(value)
        received = received_above[index] if index < len(received_above) else 0
        if block_at is None and server != ours:
            if server:
                foreign.append(server[:100])  # above ours
            continue
        if block_at is None:
            block_at = received
        # A foreign header or a Received after our block's start ends it.
        ended = ended or server != ours or received != block_at
        if server != ours:
            continue
        if ended:
            ours_below += 1
            continue
        for resinfo in resinfos:
            found = _method_result(resinfo)
            # Every DKIM signature counts; of DMARC and SPF the topmost.
            if found and (found.method == "dkim" or all(r.method != found.method for r in results)):
                results.append(found)
    return Authentication(tuple(results), tuple(foreign), ours_below=ours_below)


def _split(value: str) -> tuple[str, list[str]]:
    """(authserv-id, resinfo strings); the id is MICROSOFT_365 when absent."""
    pieces = [p.strip() for p in _resinfos(value)]
    words = pieces[0].split()
    if not words:
        return "", pieces[1:]
    if "=" in words[0]:
        return MICROSOFT_365, pieces  # Microsoft 365: no authserv-id, straight to results
    return words[0].lower(), pieces[1:]  # "mx.google.com" (a version number may follow)


def _resinfos(value: str) -> list[str]:
    """Split at the semicolons that separate results, never at one inside a
    quoted string or a comment: a server copies the envelope sender into
    its own header (smtp.mailfrom="a;dmarc=pass ..."@evil.com), and a split
    there would let the sender write a result of ours. Comments are dropped,
    and quoted strings kept only as a placeholder."""
    pieces, current, depth, quoted, escaped = [], [], 0, False, False
    for char in value:
        if escaped:
            escaped = False
            if quoted:
                current.append("_")
            continue
        if char == "\\" and (quoted or depth):
            escaped = True
        elif quoted:
            if char == '"':
                quoted = False
                current.append('"')
        elif depth:
            depth += {"(": 1, ")": -1}.get(char, 0)
        elif char == "(":
            depth = 1
            current.append(" ")
        elif char == '"':
            quoted = True
            current.append('"_')
        elif char == ";":
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
    pieces.append("".join(current))
    return pieces


def _method_result(resinfo: str) -> MethodResult | None:
    match = _RESULT.match(resinfo)
    if not match or match.group(1).lower() not in METHODS:
        return None
    method, result, rest = match.group(1).lower(), match.group(2).lower(), match.group(3)
    props = {k.lower(): v.strip(".").lower() for k, v in _PROPERTY.findall(rest)}
    if method == "dmarc":
        domain = props.get("header.from", "")
    elif method == "dkim":
        domain = props.get("header.d") or props.get("header.i", "").lstrip("@")
    else:
        domain = domain_part(props.get("smtp.mailfrom", ""))
    return MethodResult(method, result, domain)


def domain_part(address: str) -> str:
    return address.rpartition("@")[2]
