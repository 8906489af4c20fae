"""The R4 search parameters, and their FHIRPath expressions specialised per resource type.

Many core parameters serve several types with one union expression (`clinical-patient` has
thirty branches, `AllergyIntolerance.patient | CarePlan.subject.where(resolve() is Patient) |
...`). Evaluating the whole union on every write made index extraction cost three quarters of
the ingest itself; keeping only the branches that can apply to the resource's type, compiled
once per (parameter, type), is what write-time indexing evaluates.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from ember.fhir.fhirpath import CompiledExpression
from ember.fhir.fhirpath import compile as compile_fhirpath
from ember.fhir.model import raw_model

_LEADING_TYPE = re.compile(r"^\(*([A-Z][A-Za-z]+)\b")
_GENERIC_BASES = frozenset({"Resource", "DomainResource"})


@dataclass(frozen=True, slots=True)
class SearchParameter:
    code: str
    type: str
    base: tuple[str, ...]
    expression: str | None
    target: tuple[str, ...] = ()
    #: A composite's parts: (code of the parameter it reuses, expression relative to each item).
    components: tuple[tuple[str, str], ...] = ()
    url: str = ""
    description: str = ""


_custom: tuple[SearchParameter, ...] = ()
#: Caches of other modules derived from the parameters, cleared when custom ones change.
DERIVED_CACHES: list[Callable[[], None]] = []


def set_custom_parameters(parameters: tuple[SearchParameter, ...]) -> bool:
    """Install the server's custom SearchParameters (those POSTed as resources); a custom
    parameter with the code of a core one replaces it for its base types. True if it changed."""
    global _custom
    if parameters == _custom:
        return False
    _custom = parameters
    search_parameters.cache_clear()
    compiled_for.cache_clear()
    row_aliases.cache_clear()
    for clear in DERIVED_CACHES:
        clear()
    return True


@cache
def search_parameters(resource_type: str) -> tuple[SearchParameter, ...]:
    """The parameters a resource type can be searched by (its own, the generic ones and the
    custom ones)."""
    custom = [p for p in _custom if resource_type in p.base or _GENERIC_BASES.intersection(p.base)]
    replaced = {p.code for p in custom}
    core = (
        parameter
        for parameter in _all_parameters()
        if (resource_type in parameter.base or _GENERIC_BASES.intersection(parameter.base))
        and parameter.code not in replaced
    )
    return (*core, *custom)


@cache
def compiled_for(parameter: SearchParameter, resource_type: str) -> CompiledExpression | None:
    """The parameter's expression reduced to what applies to `resource_type`, compiled once;
    None when nothing applies (or the parameter has no expression)."""
    if parameter.expression is None:
        return None
    branches = split_union(parameter.expression)
    branches = [_concrete(branch, resource_type) for branch in branches if _applies(branch, resource_type)]
    return compile_fhirpath(" | ".join(branches)) if branches else None


def split_union(expression: str) -> list[str]:
    """Split `a | b` at the top level (not inside parentheses, brackets or strings)."""
    parts, depth, start, quoted = [], 0, 0, False
    for position, char in enumerate(expression):
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "([":
            depth += 1
        elif not quoted and char in ")]":
            depth -= 1
        elif not quoted and depth == 0 and char == "|":
            parts.append(expression[start:position].strip())
            start = position + 1
    parts.append(expression[start:].strip())
    return [part for part in parts if part]


def _concrete(branch: str, resource_type: str) -> str:
    """`Resource.meta.tag` on a Patient is `Patient.meta.tag`, which the engine runs as a plain
    path; the abstract name would send it through the general evaluator."""
    for generic in _GENERIC_BASES:
        if branch.startswith(generic + "."):
            return resource_type + branch[len(generic) :]
    return branch


def _applies(branch: str, resource_type: str) -> bool:
    """A branch starting with another resource type's name can only ever be empty here."""
    match = _LEADING_TYPE.match(branch)
    return match is None or match.group(1) in (resource_type, *_GENERIC_BASES)


#: Parameters without index rows: answered from the resource row, the narrative index or other
#: resources.
UNINDEXED = frozenset({"_id", "_text", "_content", "_list", "_has", "_type", "_query", "_filter"})
#: Types whose rows can stand for another parameter's. References are left out: chains,
#: includes, compartments and access rules name reference parameters directly.
_ALIASABLE_TYPES = frozenset({"token", "string", "number", "date", "quantity", "uri", "composite"})


@cache
def row_aliases(resource_type: str) -> dict[str, tuple[str, ...]]:
    """Core parameters whose index rows would repeat those of other core parameters, and the
    parameters whose rows stand for them. `combo-code` (`Observation.code |
    Observation.component.code`) is `code` and `component-code` together; `phonetic` is `name`;
    `combo-code-value-quantity` is `code-value-quantity` and `component-code-value-quantity`
    (same parts, values from both). They are given no rows (on Synthea, a fifth of an
    Observation's rows), and a search by one reads the rows of those it stands for.

    A parameter stands for another when its branches (the specialised expression split at the
    top-level `|`) are among the other's, with the same type (and for composites the same
    parts); the branches of those it covers must make up the other's exactly. Custom
    parameters take no part: a custom one becomes searchable only after $reindex, and an
    existing one must not lose its rows because a new one repeats them."""
    custom_codes = {p.code for p in _custom}
    signatures: dict[str, tuple[str, frozenset[str], tuple[tuple[str, str], ...]]] = {}
    by_code = {p.code: p for p in search_parameters(resource_type)}
    for parameter in by_code.values():
        if parameter.code in custom_codes or parameter.code in UNINDEXED or parameter.type not in _ALIASABLE_TYPES:
            continue
        expression = compiled_for(parameter, resource_type)
        if expression is None:
            continue
        parts = tuple((by_code[code].type if code in by_code else "", part) for code, part in parameter.components)
        signatures[parameter.code] = (parameter.type, frozenset(split_union(expression.expression)), parts)
    aliases: dict[str, tuple[str, ...]] = {}
    stored: list[str] = []
    for code in sorted(signatures, key=lambda c: (len(signatures[c][1]), c)):
        kind, branches, parts = signatures[code]
        covering = [
            other
            for other in stored
            if signatures[other][0] == kind and signatures[other][2] == parts and signatures[other][1] <= branches
        ]
        if covering and frozenset().union(*(signatures[other][1] for other in covering)) == branches:
            aliases[code] = tuple(covering)
        else:
            stored.append(code)
    return aliases


#: Expressions of R4's search-parameters.json that can never match as written, and the form
#: FHIR R5 gives them. `value.as(DateTime)` asks for the FHIRPath System type, which no FHIR
#: `valueDateTime` is (FHIRPath casts are exact; fhirpathpy agrees), so `code-value-date` never
#: matched an Observation dated by `valueDateTime`.
_ERRATA = {"value.as(DateTime) | value.as(Period)": "value.ofType(dateTime) | value.ofType(Period)"}


@cache
def _all_parameters() -> tuple[SearchParameter, ...]:
    return tuple(
        SearchParameter(
            code=row["code"],
            type=row["type"],
            base=tuple(row["base"]),
            expression=row.get("expression"),
            target=tuple(row.get("target", ())),
            components=tuple(
                (part["code"], _ERRATA.get(part["expression"], part["expression"])) for part in row.get("component", ())
            ),
            url=row.get("url", ""),
            description=row.get("description", ""),
        )
        for row in raw_model()["searchParameters"]
    )
