"""A brute-force FHIR R4 search evaluator, independent of Ember, to check Ember's answers.

It reads the official SearchParameter definitions, evaluates each parameter's FHIRPath
expression with fhirpathpy (not Ember's engine) on every loaded resource, and applies the
matching rules of tests/search/matching.py by looping over everything. It is slow and obvious on
purpose: a search engine is checked against something with no planner, no index and no SQL.

fhirpathpy cannot run every R4 expression as written, so three mechanical rewrites come first
(`_prepare`): `Resource.`/`DomainResource.` become the resource's type, `X as T` becomes
`X.ofType(T)` (the R4 expressions apply `as` to collections), and `where(resolve() is T)`
becomes a test on the reference's type prefix (there is nothing to resolve against). One
erratum is read as R5 writes it, as Ember does: `code-value-date`'s `value.as(DateTime)` (the
FHIRPath System type, which no FHIR `valueDateTime` is) means `value.ofType(dateTime)`.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhirpathpy import compile as compile_fhirpath
from fhirpathpy.models import models

from tests.conformance import CONFORMANCE
from tests.search import matching

DEFINITIONS = CONFORMANCE / "fhir-r4-definitions/search-parameters.json.gz"
RESOURCE_DEFINITIONS = DEFINITIONS.with_name("profiles-resources.json.gz")
#: Parameters about the shape of the answer, not about which resources match.
RESULT_PARAMS = frozenset(
    {"_count", "_sort", "_include", "_revinclude", "_total", "_summary", "_elements", "_format", "_type", "_contained"}
)


#: Parameters whose values the server assigns (so they differ between two loads of the same data).
_SERVER_ASSIGNED = frozenset({"_id", "_lastUpdated"})
#: The modifiers the oracle knows per parameter type (None: no modifier); reference parameters
#: also take their target types (`subject:Patient`).
_MODIFIERS: dict[str, frozenset[str | None]] = {
    "token": frozenset({None, "text", "of-type", "in", "above", "below"}),
    "string": frozenset({None, "exact", "contains"}),
    "date": frozenset({None}),
    "number": frozenset({None}),
    "quantity": frozenset({None}),
    "reference": frozenset({None, "identifier"}),
    "uri": frozenset({None, "above", "below"}),
}


@dataclass(frozen=True)
class SearchParameter:
    code: str
    type: str
    expression: str
    targets: tuple[str, ...]
    components: tuple[tuple[str, str], ...]  # (definition url, expression relative to the value)


@functools.cache
def _definitions() -> tuple[dict[tuple[str, str], SearchParameter], dict[str, SearchParameter]]:
    by_base: dict[tuple[str, str], SearchParameter] = {}
    by_url: dict[str, SearchParameter] = {}
    for entry in json.loads(gzip.decompress(DEFINITIONS.read_bytes()))["entry"]:
        resource = entry["resource"]
        if "expression" not in resource:
            continue
        components = tuple((part["definition"], part["expression"]) for part in resource.get("component", []))
        param = SearchParameter(
            resource["code"], resource["type"], resource["expression"], tuple(resource.get("target", [])), components
        )
        by_url[resource["url"]] = param
        for base in resource["base"]:
            by_base[(base, resource["code"])] = param
    return by_base, by_url


def search_parameter(resource_type: str, code: str) -> SearchParameter | None:
    """The R4 parameter `code` of a type, including those every resource has (_id, _tag...)."""
    by_base, _ = _definitions()
    for base in (resource_type, "DomainResource", "Resource"):
        if (base, code) in by_base:
            return by_base[(base, code)]
    return None


def parameters_of(resource_type: str) -> dict[str, SearchParameter]:
    """Every parameter a type can be searched with, by code."""
    by_base, _ = _definitions()
    return {
        code: param for (base, code), param in by_base.items() if base in (resource_type, "DomainResource", "Resource")
    }


@functools.cache
def compartment_parameters(compartment: str) -> dict[str, tuple[str, ...]]:
    """The official CompartmentDefinition: for each resource type, the parameters that put a
    resource in a compartment of type `compartment`."""
    for entry in json.loads(gzip.decompress(RESOURCE_DEFINITIONS.read_bytes()))["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "CompartmentDefinition" and resource["code"] == compartment:
            return {item["code"]: tuple(item.get("param", [])) for item in resource["resource"]}
    raise LookupError(compartment)


def component_parameter(url: str) -> SearchParameter:
    return _definitions()[1][url]


def _top_level_union(expression: str) -> list[str]:
    """The branches of `a | b | (c | d)` at parenthesis depth 0."""
    branches, depth, start = [], 0, 0
    for index, char in enumerate(expression):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "|" and depth == 0:
            branches.append(expression[start:index].strip())
            start = index + 1
    branches.append(expression[start:].strip())
    return branches


def _prepare(expression: str, resource_type: str) -> str:
    """The rewrites of the module docstring, branch by branch."""
    prepared = []
    for branch in _top_level_union(expression):
        while branch.startswith("(") and branch.endswith(")") and _top_level_union(branch[1:-1]) == [branch[1:-1]]:
            branch = branch[1:-1].strip()
        branch = re.sub(r"^(Resource|DomainResource)\.", f"{resource_type}.", branch)
        branch = re.sub(r"^(.+) as (\w+)$", r"(\1).ofType(\2)", branch)
        branch = re.sub(r"\.as\((\w+)\)", r".ofType(\1)", branch)
        branch = branch.replace("value.ofType(DateTime)", "value.ofType(dateTime)")
        branch = re.sub(r"where\(resolve\(\) is (\w+)\)", r"where(reference.startsWith('\1/'))", branch)
        prepared.append(branch)
    return " | ".join(prepared)


@functools.cache
def compiled(expression: str, resource_type: str) -> Callable[[Any], list[Any]]:
    """fhirpathpy's function for an R4 expression evaluated on resources of one type."""
    return compiled_as_is(_prepare(expression, resource_type))


@functools.cache
def compiled_as_is(expression: str) -> Callable[[Any], list[Any]]:
    """fhirpathpy's function for an expression already in the form it runs."""
    return compile_fhirpath(expression, models["r4"])  # type: ignore[no-any-return]


def composite_values(param: SearchParameter, resource: dict[str, Any]) -> list[list[list[Any]]]:
    """For each value of a composite, the values of each of its components. Each root branch is
    indexed on its own: fhirpathpy forgets element types after indexing a union."""
    found = []
    for branch in _top_level_union(_prepare(param.expression, resource["resourceType"])):
        for index in range(len(compiled_as_is(branch)(resource))):
            found.append(
                [
                    compiled_as_is(f"({branch})[{index}].select({_prepare(expression, '')})")(resource)
                    for _, expression in param.components
                ]
            )
    return found


def parameter_values(param: SearchParameter, resource: dict[str, Any]) -> list[Any]:
    """What the parameter's expression yields on the resource (FHIR JSON values)."""
    return list(compiled(param.expression, resource["resourceType"])(resource))


class Oracle:
    """Answers searches over a fixed set of resources by looking at every one of them."""

    def __init__(
        self,
        resources: Iterable[dict[str, Any]],
        base_url: str,
        now: datetime,
        origins: dict[str, str] | None = None,
        shared: dict[tuple[str, str], list[Any]] | None = None,
    ) -> None:
        """`origins` ("Type/id" -> where the resource came from, such as its bundle fullUrl) and
        `shared` let oracles over the same data in several databases evaluate each value that
        does not depend on server-assigned ids or times once."""
        self.resources = {f"{r['resourceType']}/{r['id']}": r for r in resources}
        self.base_url = base_url
        self.now = now
        self._values: dict[tuple[str, str], list[Any]] = {}
        self._origins = origins or {}
        self._shared = shared if shared is not None else {}

    def keys_of(self, resource_type: str | None) -> list[str]:
        return [key for key in self.resources if resource_type is None or key.startswith(resource_type + "/")]

    def values(self, key: str, code: str) -> list[Any]:
        """The values of parameter `code` in resource `key` (cached: fhirpathpy is slow)."""
        if (key, code) not in self._values:
            resource = self.resources[key]
            param = search_parameter(resource["resourceType"], code)
            origin = self._origins.get(key)
            if param is None:
                self._values[(key, code)] = []
            elif origin is None or param.type == "reference" or code in _SERVER_ASSIGNED:
                self._values[(key, code)] = parameter_values(param, resource)
            else:
                if (origin, code) not in self._shared:
                    self._shared[(origin, code)] = parameter_values(param, resource)
                self._values[(key, code)] = self._shared[(origin, code)]
        return self._values[(key, code)]

    def matches(self, resource_type: str | None, params: list[tuple[str, str]]) -> set[str]:
        """Keys ("Type/id") of the resources that match every parameter (AND)."""
        types = _types_filter(params)
        keys = {key for key in self.keys_of(resource_type) if types is None or key.split("/")[0] in types}
        for name, value in params:
            if name.split(":")[0] in RESULT_PARAMS:
                continue
            keys = {key for key in keys if self.matches_param(key, name, value)}
        return keys

    def matches_param(self, key: str, name: str, value: str) -> bool:
        """One `name=value` pair (a comma-separated OR) on one resource."""
        if name.startswith("_has:"):
            return self._has(key, name[len("_has:") :], value)
        head, _, chain = name.partition(".")
        code, _, modifier = head.partition(":")
        resource_type = key.split("/")[0]
        param = search_parameter(resource_type, code)
        if param is None:
            return True  # unknown parameters are ignored (lenient handling)
        if chain:
            return self._chained(key, code, modifier or None, chain, value)
        if modifier == "missing":
            return (not self.values(key, code)) == (value == "true")
        alternatives = matching.split_unescaped(value, ",")
        if modifier in ("not", "not-in"):
            positive = "in" if modifier == "not-in" else None
            return not any(self._value_matches(key, param, positive, item) for item in alternatives)
        return any(self._value_matches(key, param, modifier or None, item) for item in alternatives)

    def _value_matches(self, key: str, param: SearchParameter, modifier: str | None, query: str) -> bool:
        if param.type == "composite":
            return self._composite_matches(key, param, query)
        return any(self.value_matches(param, value, modifier, query) for value in self.values(key, param.code))

    def value_matches(self, param: SearchParameter, value: Any, modifier: str | None, query: str) -> bool:
        """One value of `param` against one search value (still escaped), by parameter type."""
        if modifier not in _MODIFIERS[param.type] and not (param.type == "reference" and modifier in param.targets):
            raise ValueError(f"the oracle does not evaluate :{modifier} on {param.type} parameters")
        if modifier == "in":
            return self._in_value_set(value, matching.unescape(query))
        if modifier in ("above", "below") and param.type == "token":
            return self._in_hierarchy(value, query, modifier)
        if param.type == "token":
            return matching.token_matches(value, query, modifier)
        if param.type == "quantity":
            return matching.quantity_matches(value, query)
        plain = matching.unescape(query)
        if param.type == "string":
            return matching.string_matches(value, plain, modifier)
        if param.type == "date":
            return matching.date_matches(value, plain, self.now)
        if param.type == "number":
            return matching.number_matches(value, plain)
        if param.type == "reference":
            return matching.reference_matches(value, plain, modifier, self.base_url)
        return matching.uri_matches(value, plain, modifier)

    def _composite_matches(self, key: str, param: SearchParameter, query: str) -> bool:
        """`a$b`: one value of the composite carries a match for every component."""
        parts = matching.split_unescaped(query, "$")  # each part stays escaped for its own type
        for components in composite_values(param, self.resources[key]):
            if all(
                any(self.value_matches(component_parameter(url), value, None, part) for value in values)
                for (url, _), values, part in zip(param.components, components, parts)
            ):
                return True
        return False

    def _in_value_set(self, value: Any, url: str) -> bool:
        """:in against a ValueSet loaded with the data, listing its concepts in compose.include."""
        codes = {
            (include.get("system"), concept["code"])
            for resource in self.resources.values()
            if resource["resourceType"] == "ValueSet" and resource.get("url") == url
            for include in resource.get("compose", {}).get("include", [])
            for concept in include.get("concept", [])
        }
        return any((system, code) in codes for system, code, _ in matching.token_atoms(value))

    def in_compartment(self, owner: str, resource_type: str) -> set[str]:
        """Keys of `resource_type` in the compartment of `owner` ("Patient/p1")."""
        codes = compartment_parameters(owner.split("/")[0]).get(resource_type, ())
        return {
            key for key in self.keys_of(resource_type) if any(owner in self.referenced(key, code) for code in codes)
        }

    def _in_hierarchy(self, value: Any, query: str, direction: str) -> bool:
        """:below (the code or a descendant) and :above (the code or an ancestor), in the is-a
        hierarchy of a CodeSystem loaded with the data (nested `concept` elements)."""
        system, code = (matching.unescape(part) for part in matching.split_unescaped(query, "|"))
        parents: dict[str, str] = {}
        for resource in self.resources.values():
            if resource["resourceType"] == "CodeSystem" and resource.get("url") == system:
                _collect_parents(resource.get("concept", []), None, parents)
        if direction == "above":
            related = {code} | _ancestors(code, parents)
        else:
            related = {code} | {child for child in parents if code in _ancestors(child, parents)}
        return any(
            atom_system == system and atom_code in related for atom_system, atom_code, _ in matching.token_atoms(value)
        )

    def referenced(self, key: str, code: str) -> set[str]:
        """Keys of loaded resources that parameter `code` of resource `key` points to."""
        return {
            target
            for value in self.values(key, code)
            for target in matching.reference_keys(value, self.base_url)
            if target in self.resources
        }

    def _chained(self, key: str, code: str, target_type: str | None, chain: str, value: str) -> bool:
        """`code[:Type].rest=value`: a resource it refers to matches `rest=value`."""
        return any(
            (target_type is None or target.split("/")[0] == target_type) and self.matches_param(target, chain, value)
            for target in self.referenced(key, code)
        )

    def _has(self, key: str, spec: str, value: str) -> bool:
        """`_has:Type:ref:param=value` (param may itself be `_has:...`): some resource of Type
        refers to this one through `ref` and matches `param=value`."""
        other_type, ref, rest = spec.split(":", 2)
        return any(
            key in self.referenced(other, ref) and self.matches_param(other, rest, value)
            for other in self.keys_of(other_type)
        )

    def includes(self, matched: set[str], params: list[tuple[str, str]]) -> set[str]:
        """Keys `_include` and `_revinclude` add (with :iterate repeated until nothing is new),
        less the matches themselves."""
        found: set[str] = set()
        rounds = [(name, value) for name, value in params if name.split(":")[0] in ("_include", "_revinclude")]
        frontier = set(matched)
        first = True
        while frontier:
            added: set[str] = set()
            for name, value in rounds:
                if first or name.endswith(":iterate"):
                    added |= self._include_step(name.split(":")[0], value, frontier)
            first = False
            frontier = added - found - matched
            found |= added
        return found - matched

    def _include_step(self, kind: str, spec: str, sources: set[str]) -> set[str]:
        source_type, _, rest = spec.partition(":")
        code, _, target_type = rest.partition(":")
        if kind == "_include":
            codes = self._reference_codes(source_type) if code == "*" else [code]
            return {
                target
                for key in sources
                if key.startswith(source_type + "/")
                for one in codes
                for target in self.referenced(key, one)
                if not target_type or target.startswith(target_type + "/")
            }
        codes = self._reference_codes(source_type) if code == "*" else [code]
        return {other for other in self.keys_of(source_type) for one in codes if self.referenced(other, one) & sources}

    @staticmethod
    def _reference_codes(resource_type: str) -> list[str]:
        return [code for code, param in parameters_of(resource_type).items() if param.type == "reference"]

    def sort_key(self, key: str, code: str, descending: bool) -> Any:
        """The value a resource sorts by: its lowest value ascending, its highest descending
        (None when it has none)."""
        param = search_parameter(key.split("/")[0], code)
        if param is None:
            raise ValueError(f"no parameter {code} on {key}")
        present = [part for value in self.values(key, code) for part in _sortable(param.type, value, descending)]
        if not present:
            return None
        return max(present) if descending else min(present)


def _sortable(param_type: str, value: Any, descending: bool) -> list[Any]:
    """What one value sorts as, as the values a search on it compares with: a date by its range
    (start ascending, end descending), a string by each part (a HumanName's family and given
    names...) normalised, a token by its codes, a number or quantity by its number."""
    if param_type == "date":
        covered = matching.value_date_range(value)
        return [] if covered is None else [covered[1 if descending else 0]]
    if param_type == "string":
        return [matching.normalise(part) for part in matching.string_parts(value)]
    if param_type == "token":
        return [code for _, code, _ in matching.token_atoms(value) if code]
    if isinstance(value, dict) and "value" in value:
        return [value["value"]]
    return [value] if isinstance(value, int | float) else []


def _collect_parents(concepts: list[dict[str, Any]], parent: str | None, parents: dict[str, str]) -> None:
    for concept in concepts:
        if parent is not None:
            parents[concept["code"]] = parent
        _collect_parents(concept.get("concept", []), concept["code"], parents)


def _ancestors(code: str, parents: dict[str, str]) -> set[str]:
    found: set[str] = set()
    while code in parents and parents[code] not in found:
        code = parents[code]
        found.add(code)
    return found


def _types_filter(params: list[tuple[str, str]]) -> set[str] | None:
    named = [value for name, value in params if name == "_type"]
    return {part for value in named for part in value.split(",")} if named else None
