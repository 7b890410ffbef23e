"""The entity directory: each public entity by NIT, with its official email domains.

The checks hold a request against it (examination/checks.py): a NIT it does not know, a
name that differs, a sender or a legal representative's address outside the
entity's domains, a representative's address that differs from the one of
the entity's last approved request. Two sources fill it:

- ``helpdesk entidades import FILE.csv``: the list an office keeps (NIT,
  name, department, municipality, domains); an imported row is the
  authority for its name and domains;
- approvals: each completed reset records its legal representative's
  address and date, and an entity the list lacks is learned with the
  domains the request used (free-mail ones excepted). When an approval
  counts as completed, per delivery and procedure, is staff/completion.py's
  to say: with links, only once they are used.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

from . import nit as nit_mod
from .addresses import domain_of
from .errors import HelpdeskError
from .rules import TrustRules, normalise
from .store import Store, iso

IMPORTED = "importada"
LEARNED = "aprendida"
COLUMNS = ("nit", "nombre", "departamento", "municipio", "dominios")
_DOMAIN = re.compile(r"^(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class DirectoryFileError(HelpdeskError):
    """A directory file that cannot be imported: every bad line is named, nothing is imported."""


@dataclass(frozen=True)
class Entity:
    nit: str  # digits, without the check digit
    name: str
    department: str
    municipality: str
    domains: tuple[str, ...]
    source: str  # IMPORTED or LEARNED
    last_legal_rep_email: str | None = None
    last_approved_at: str | None = None
    last_radicado: str | None = None

    @classmethod
    def from_row(cls, row) -> Entity:
        return cls(row["nit"], row["name"], row["department"], row["municipality"],
                   tuple(json.loads(row["domains"])), row["source"], row["last_legal_rep_email"],
                   row["last_approved_at"], row["last_radicado"])


def lookup(conn, nit: str) -> Entity | None:
    row = conn.execute("SELECT * FROM entities WHERE nit = ?", (nit,)).fetchone()
    return Entity.from_row(row) if row else None


def size(conn) -> int:
    return conn.execute("SELECT count(*) FROM entities").fetchone()[0]


def has_domain(conn, domain: str) -> bool:
    """Whether ``domain`` is one of an entity's domains in the directory."""
    if not domain:
        return False
    return conn.execute("SELECT 1 FROM entities, json_each(entities.domains) WHERE json_each.value = ? LIMIT 1",
                        (domain.lower(),)).fetchone() is not None


# all_domains' last answer per database, by the directory's state: reading
# 2,200 domains out of their JSON took 6 ms, at every examination.
_DOMAINS: dict[str, tuple[tuple, tuple[str, ...]]] = {}


def all_domains(conn) -> tuple[str, ...]:
    """Every domain of the directory, for the look-alike check."""
    database = conn.execute("PRAGMA database_list").fetchone()[2]
    state = tuple(conn.execute("SELECT count(*), max(updated_at), total(length(domains)) FROM entities").fetchone())
    cached = _DOMAINS.get(database)
    if cached is None or cached[0] != state or not database:
        domains = tuple(sorted(r[0] for r in conn.execute(
            "SELECT DISTINCT json_each.value FROM entities, json_each(entities.domains)")))
        cached = _DOMAINS[database] = (state, domains)
    return cached[1]


def listing(store: Store) -> list[Entity]:
    return [Entity.from_row(r) for r in store.query("SELECT * FROM entities ORDER BY name, nit")]


def same_name(a: str, b: str) -> bool:
    """Names compared as people write them: accents, case, punctuation and
    spacing ignored ("ALCALDÍA DE SAN ISIDRO" is "Alcaldia de San Isidro")."""
    def fold(text: str) -> str:
        return " ".join(re.sub(r"[^\w]+", " ", normalise(text)).split())
    return fold(a) == fold(b)


# -- import ------------------------------------------------------------------

@dataclass(frozen=True)
class Imported:
    added: int
    updated: int


def import_csv(store: Store, path: Path) -> Imported:
    """Read FILE.csv (as Excel saves it: UTF-8 with or without BOM, or
    Windows-1252; comma or semicolon) and upsert every row in one
    transaction. Any bad line refuses the whole file, naming each."""
    entities = _parse(_text(path), path)
    added = updated = 0
    with store.transaction() as conn:
        for entity in entities:
            known = conn.execute("SELECT 1 FROM entities WHERE nit = ?", (entity.nit,)).fetchone()
            conn.execute(
                "INSERT INTO entities(nit, name, department, municipality, domains, source, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(nit) DO UPDATE SET name = excluded.name, "
                # An empty cell says nothing is known, not that nothing is:
                # it keeps what the directory holds (domains learned from
                # approvals would otherwise be erased, and every address
                # of the entity stop being checked against them).
                "department = coalesce(nullif(excluded.department, ''), department), "
                "municipality = coalesce(nullif(excluded.municipality, ''), municipality), "
                "domains = coalesce(nullif(excluded.domains, '[]'), domains), "
                "source = excluded.source, updated_at = excluded.updated_at",
                (entity.nit, entity.name, entity.department, entity.municipality, json.dumps(entity.domains),
                 IMPORTED, iso()))
            updated += bool(known)
            added += not known
    return Imported(added, updated)


def _text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DirectoryFileError(f"{path}: no se puede leer: {exc.strerror}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")  # Excel's "CSV" on Windows


def _parse(text: str, path: Path) -> list[Entity]:
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if not rows:
        raise DirectoryFileError(f"{path}: el archivo está vacío")
    header = [normalise(cell) for cell in rows[0]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise DirectoryFileError(f"{path}: la primera fila debe nombrar las columnas {', '.join(COLUMNS)}; "
                                 f"faltan: {', '.join(missing)}")
    where = {c: header.index(c) for c in COLUMNS}
    entities, errors, seen = [], [], {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = {c: (row[i].strip() if i < len(row) else "") for c, i in where.items()}
        parsed = nit_mod.parse(cells["nit"])
        if parsed is None or not parsed.valid:
            errors.append(f"línea {line}: NIT no válido «{cells['nit'][:40]}»")
            continue
        if parsed.number in seen:
            errors.append(f"línea {line}: el NIT {parsed.number} ya está en la línea {seen[parsed.number]}")
            continue
        seen[parsed.number] = line
        domains = tuple(d.lower().strip(".") for d in re.split(r"[\s,;]+", cells["dominios"]) if d)
        bad = [d for d in domains if not _DOMAIN.match(d)]
        if not cells["nombre"]:
            errors.append(f"línea {line}: falta el nombre de la entidad")
        elif bad:
            errors.append(f"línea {line}: dominio no válido «{bad[0][:60]}»")
        else:
            entities.append(Entity(parsed.number, cells["nombre"], cells["departamento"], cells["municipio"],
                                   domains, IMPORTED))
    if errors:
        shown = errors[:20] + ([f"... y {len(errors) - 20} más"] if len(errors) > 20 else [])
        raise DirectoryFileError(f"{path}: no se importó nada:\n  " + "\n  ".join(shown))
    return entities


# -- learning from approvals ------------------------------------------------

def learn(conn, trust: TrustRules, nit: str | None, entity_name: str, legal_rep_email: str,
          addresses: list[str], radicado: str) -> None:
    """Called in the transaction that completes an approval
    (staff/completion.py): the entity's last approved legal
    representative's address and when; an entity the directory lacks is
    added with the request's own domains (an imported one keeps its)."""
    if not nit:
        return
    known = lookup(conn, nit)
    if known is None:
        domains = sorted({domain_of(a) for a in [legal_rep_email, *addresses]
                          if "@" in a and not trust.is_free_mail(domain_of(a))})
        conn.execute("INSERT INTO entities(nit, name, department, municipality, domains, source, updated_at) "
                     "VALUES (?, ?, '', '', ?, ?, ?)", (nit, entity_name or "", json.dumps(domains), LEARNED, iso()))
    conn.execute("UPDATE entities SET last_legal_rep_email = ?, last_approved_at = ?, last_radicado = ?, "
                 "updated_at = ? WHERE nit = ?", (legal_rep_email.lower(), iso(), radicado, iso(), nit))
