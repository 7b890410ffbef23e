"""Spanish articles before names in emails: "de la Alcaldía", "del Concejo".

An email says "comuníquese con el Equipo de Gobierno en línea" and "la
solicitud de la Alcaldía de Tuluá", but the names come from config.toml and
from the entity's form without their article. ``with_article`` (a template
filter) puts the right one in front, contracting "de el" to "del" and "a
el" to "al", from the name's first word: the nouns that open the names of
Colombian public bodies are few and known. A name whose first word is not
one of them (a bare place name such as "Tuluá", an acronym) gets no article,
which reads right for proper names; a name that already starts with an
article keeps it as it is written ("de El Carmen de Viboral", as the RAE
writes names that include their article).
"""

from __future__ import annotations

import unicodedata

FEMININE = frozenset("""
    academia administracion agencia alcaldia asamblea asociacion autoridad beneficencia biblioteca caja camara
    casa central comisaria comision consejeria contraloria cooperativa coordinacion corporacion curaduria
    defensoria direccion division electrificadora empresa entidad escuela ese e.s.e e.s.e. federacion fiscalia
    fundacion gerencia gobernacion industria inspeccion institucion ips junta licorera loteria mesa notaria
    oficina organizacion personeria policia presidencia procuraduria rama red registraduria secretaria sociedad
    subdireccion subgerencia superintendencia unidad universidad veeduria vicepresidencia
""".split())
MASCULINE = frozenset("""
    acueducto aeropuerto archivo banco batallon cabildo centro colegio comando comite concejo congreso consejo
    cuerpo departamento despacho distrito ejercito equipo establecimiento fondo gobierno grupo hospital
    instituto jardin juzgado laboratorio ministerio municipio museo observatorio parque programa puerto
    resguardo senado servicio sistema teatro tribunal
""".split()) | {"area", "aula"}  # feminine nouns with a stressed "a" take "el": "del Área Metropolitana"
FEMININE_PLURAL = frozenset({"empresas", "secretarias", "unidades", "oficinas"})
MASCULINE_PLURAL = frozenset({"servicios", "fondos", "centros"})
ARTICLES = frozenset({"el", "la", "los", "las"})

# Preposition + article -> the written form.
CONTRACTIONS = {("de", "el"): "del", ("a", "el"): "al"}


def _key(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip(",;:")


def article_for(name: str) -> str:
    """"el", "la", "los", "las" for the name, or "" when it takes none."""
    words = name.split()
    if not words:
        return ""
    first = _key(words[0])
    if first in ARTICLES:
        return ""
    if first in MASCULINE:
        return "el"
    if first in FEMININE:
        return "la"
    if first in FEMININE_PLURAL:
        return "las"
    if first in MASCULINE_PLURAL:
        return "los"
    return ""


def with_article(name: object, preposition: str = "") -> str:
    """``preposition`` + article + name: "de la Alcaldía de Tuluá",
    "del Concejo Municipal", "con el Equipo de Gobierno en línea"."""
    name = " ".join(str(name or "").split())
    article = article_for(name)
    preposition = preposition.strip()
    if preposition and article:
        head = CONTRACTIONS.get((preposition.lower(), article), f"{preposition} {article}")
    else:
        head = preposition or article
    return f"{head} {name}" if head and name else head or name
