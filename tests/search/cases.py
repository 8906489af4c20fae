"""Search cases generated from the bundles the suite loads, for every parameter type, prefix
and modifier: real values picked from the data (the most common code, a median date...), each
in every form the spec allows, plus values that must match nothing.

The cases are made at collection time from the bundles as files (references there are
`urn:uuid:` fullUrls); a case names a loaded entry with a `{ref:urn:uuid:...}` placeholder that
the test replaces with the id the server gave it (tests/search/conftest.py `SearchClient.resolve`).
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tests.search import matching
from tests.search.bundles import bundle_paths
from tests.search.oracle import SearchParameter, component_parameter, composite_values, parameter_values, parameters_of

#: Resources per type the values are picked from (enough for variety, cheap to evaluate).
SAMPLE = 150
#: Parameters the oracle cannot judge: free text over the whole resource, named queries, lists,
#: the geographic `near`, and `phonetic` (the algorithm is the server's choice).
SKIPPED = frozenset({"_text", "_content", "_query", "_list", "_filter", "near", "phonetic"})
NOTHING = "no-such-value-7f3a"
#: Number and quantity prefixes with one right answer: how wide `ap` is the server may choose
#: (search.html: "10% ... but systems may choose other values"), so it has its own bounded test.
EXACT_PREFIXES = tuple(prefix for prefix in matching.PREFIXES if prefix != "ap")
#: ...and those also safe at a coarse precision: whether `sa100` means after 100 or after the
#: whole range [99.5, 100.5) the spec leaves open, so `sa`/`eb` only get values as written.
COARSE_PREFIXES = tuple(prefix for prefix in EXACT_PREFIXES if prefix not in ("sa", "eb"))


@dataclass(frozen=True)
class Case:
    resource_type: str
    params: tuple[tuple[str, str], ...]
    #: For a quantity searched with a unit: servers may also match values in other units after
    #: conversion (search.html#quantity), so only resources with a value in this unit are judged.
    unit: str | None = None

    @property
    def id(self) -> str:
        query = "&".join(f"{name}={value}" for name, value in self.params)
        return f"{self.resource_type}?{query}"


@functools.cache
def raw_resources() -> dict[str, list[dict[str, Any]]]:
    """The resources of the loaded bundles by type, references still `urn:uuid:` fullUrls, each
    with its fullUrl under `_fullUrl` (not a FHIR element: fhirpathpy never sees it)."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for path in bundle_paths():
        for entry in json.loads(path.read_bytes())["entry"]:
            resource = dict(entry["resource"], _fullUrl=entry["fullUrl"])
            by_type.setdefault(resource["resourceType"], []).append(resource)
    return by_type


@functools.cache
def values_by_parameter(resource_type: str) -> dict[str, list[Any]]:
    """Every value of every parameter of a type over the sample, for parameters that have one."""
    found: dict[str, list[Any]] = {}
    sample = raw_resources().get(resource_type, [])[:SAMPLE]
    for code, param in sorted(parameters_of(resource_type).items()):
        if code in SKIPPED or param.type in ("special", "composite"):
            continue
        values = [value for resource in sample for value in parameter_values(param, resource)]
        if values:
            found[code] = values
    return found


def _parameters(kind: str) -> Iterator[tuple[str, str, SearchParameter, list[Any]]]:
    for resource_type in sorted(raw_resources()):
        params = parameters_of(resource_type)
        for code, values in values_by_parameter(resource_type).items():
            if params[code].type == kind:
                yield resource_type, code, params[code], values


def _most_common(keys: list[Any]) -> Any:
    return Counter(keys).most_common(1)[0][0]


def token_cases() -> Iterator[Case]:
    """Code and system|code on every token parameter, :not and :text where they apply; every
    other form (system|, |code, OR lists, values matching nothing) on the first parameter of
    each type that has a system."""
    full_forms_done: set[str] = set()
    for resource_type, code, _, values in _parameters("token"):
        atoms = [(system, value) for item in values for system, value, _ in matching.token_atoms(item) if value]
        texts = [text for item in values for _, _, item_texts in matching.token_atoms(item) for text in item_texts]
        if code == "_id" or not atoms:
            continue
        system, value = (_escape(part) if part else part for part in _most_common(atoms))
        forms = [value, f"{system}|{value}"] if system else [value]
        if system and resource_type not in full_forms_done:
            full_forms_done.add(resource_type)
            forms += [f"{system}|", f"|{value}", f"{system}|{NOTHING}", f"{value},{NOTHING}", NOTHING]
        for form in forms:
            yield Case(resource_type, ((code, form),))
        yield Case(resource_type, ((f"{code}:not", value),))
        if texts:
            yield Case(resource_type, ((f"{code}:text", _most_common(texts).split()[0][:5].lower()),))


def identifier_cases() -> Iterator[Case]:
    """_id with the server's id of an entry, and :of-type on every Patient identifier type."""
    for resource_type, resources in sorted(raw_resources().items()):
        yield Case(resource_type, (("_id", f"{{id:{resources[0]['_fullUrl']}}}"),))
    for patient in raw_resources()["Patient"]:
        for item in patient.get("identifier", []):
            for coding in item.get("type", {}).get("coding", []):
                query = f"{coding['system']}|{coding['code']}|{_escape(item['value'])}"
                yield Case("Patient", (("identifier:of-type", query),))


def string_cases() -> Iterator[Case]:
    for resource_type, code, _, values in _parameters("string"):
        text = sorted({part for value in values for part in matching.string_parts(value) if len(part) >= 4})
        if not text:
            continue
        chosen = text[len(text) // 2]
        for name, value in [
            (code, chosen.split()[0][:3].lower()),
            (code, chosen.upper()),
            (code, NOTHING),
            (f"{code}:exact", chosen),
            (f"{code}:exact", chosen.lower() if chosen.lower() != chosen else chosen.upper()),
            (f"{code}:contains", chosen[1:4].strip().upper()),
        ]:
            yield Case(resource_type, ((name, _escape(value)),))


def date_cases() -> Iterator[Case]:
    """Every prefix at year, day and second precision around the median value of the first
    date parameter of each type; eq, gt and le at day precision on the others."""
    full_matrix_done: set[str] = set()
    for resource_type, code, _, values in _parameters("date"):
        lows = sorted(found[0] for found in map(matching.value_date_range, values) if found and found[0].year > 1)
        if not lows:
            continue
        middle = lows[len(lows) // 2]
        day = f"{middle:%Y-%m-%d}"
        if resource_type in full_matrix_done:
            yield from (Case(resource_type, ((code, prefix + day),)) for prefix in ("eq", "gt", "le"))
            continue
        full_matrix_done.add(resource_type)
        for form in (f"{middle:%Y}", day, f"{middle:%Y-%m-%dT%H:%M:%S}Z"):
            yield from (Case(resource_type, ((code, prefix + form),)) for prefix in matching.PREFIXES)


def number_cases() -> Iterator[Case]:
    """Every prefix on each value as written, and rounded to one decimal (a coarser precision,
    whose range then holds values the exact comparisons must tell apart)."""
    for resource_type, code, _, values in _parameters("number"):
        numbers = {Decimal(str(value)) for value in values}
        written = {str(value) for value in values}
        rounded = {f"{float(value):.1f}" for value in values} - written
        for value in sorted(written):
            yield from (Case(resource_type, ((code, prefix + value),)) for prefix in EXACT_PREFIXES)
        for value in sorted(text for text in rounded if not _on_an_edge(text, numbers)):
            yield from (Case(resource_type, ((code, prefix + value),)) for prefix in COARSE_PREFIXES)


def _on_an_edge(text: str, numbers: set[Decimal]) -> bool:
    """Whether a value sits exactly on an end of the precision range of `text`: whether such a
    range is closed or half-open the spec does not say, so cases avoid the question."""
    return bool(set(matching.precision_range(text)) & numbers)


def quantity_cases() -> Iterator[Case]:
    for resource_type, code, _, values in _parameters("quantity"):
        quantities = [value for value in values if isinstance(value, dict) and "value" in value and "code" in value]
        if not quantities:
            continue
        chosen = sorted(quantities, key=lambda quantity: quantity["value"])[len(quantities) // 2]
        number, system, unit = chosen["value"], chosen.get("system", ""), chosen["code"]
        for prefix in EXACT_PREFIXES:
            yield Case(resource_type, ((code, f"{prefix}{number}"),))
        for prefix in COARSE_PREFIXES:  # whole units: a wide precision range
            yield Case(resource_type, ((code, f"{prefix}{int(number)}|{system}|{unit}"),), unit)
        for form in (f"{number}|{system}|{unit}", f"{number}||{unit}", f"ge{number}|{system}|{NOTHING}"):
            yield Case(resource_type, ((code, form),), unit)


def reference_cases() -> Iterator[Case]:
    """Each reference form, the :Type modifier, and :missing (which every type gets below)."""
    for resource_type, code, target in _reference_targets():
        target_type = _type_of(target)
        for name, value in [
            (code, f"{{ref:{target}}}"),
            (code, f"{{id:{target}}}"),
            (code, f"{{url:{target}}}"),
            (f"{code}:{target_type}", f"{{id:{target}}}"),
            (code, f"{target_type}/{NOTHING}"),
        ]:
            yield Case(resource_type, ((name, value),))


def _reference_targets() -> Iterator[tuple[str, str, str]]:
    """(type, reference parameter, the fullUrl it most often points to) for every reference
    parameter pointing into the loaded bundles."""
    for resource_type, code, _, values in _parameters("reference"):
        local = [
            value["reference"]
            for value in values
            if isinstance(value, dict) and str(value.get("reference", "")).startswith("urn:uuid:")
        ]
        if local:
            yield resource_type, code, _most_common(local)


def missing_cases() -> Iterator[Case]:
    """:missing=true and false on the first parameter of each type and kind."""
    done: set[tuple[str, str]] = set()
    for kind in ("token", "string", "date", "reference", "quantity", "number", "uri"):
        for resource_type, code, _, _ in _parameters(kind):
            if (resource_type, kind) in done or code == "_id":
                continue
            done.add((resource_type, kind))
            for flag in ("true", "false"):
                yield Case(resource_type, ((f"{code}:missing", flag),))


def chain_cases() -> Iterator[Case]:
    """`ref:Type.param=value` with a token value of the most common target."""
    for resource_type, code, target in _reference_targets():
        target_type = _type_of(target)
        target_values = values_by_parameter(target_type)
        for target_code in ("gender", "class", "status", "name"):
            if target_code in target_values:
                kind = parameters_of(target_type)[target_code].type
                value = _chained_value(kind, target_values[target_code])
                yield Case(resource_type, ((f"{code}:{target_type}.{target_code}", value),))
                break


def _chained_value(kind: str, values: list[Any]) -> str:
    """The most common code of a token, or the most common three-letter start of a string."""
    if kind == "token":
        return _escape(_most_common([code for value in values for _, code, _ in matching.token_atoms(value) if code]))
    return _escape(_most_common([part[:3] for value in values for part in matching.string_parts(value)]))


def uri_cases() -> Iterator[Case]:
    for resource_type, code, _, values in _parameters("uri"):
        for value in sorted({value for value in values if isinstance(value, str)}):
            parent = value.rsplit("/", 1)[0]
            for name, query in [(code, value), (f"{code}:below", parent), (f"{code}:above", value + "/v9")]:
                yield Case(resource_type, ((name, query),))


def composite_cases() -> Iterator[Case]:
    """Each composite parameter with a value in the data: that value's components, the numeric
    one as `ge` and `lt` its number (the first matches it, the second does not)."""
    for resource_type in sorted(raw_resources()):
        for code, param in sorted(parameters_of(resource_type).items()):
            if param.type != "composite":
                continue
            found = _first_composite(param, raw_resources()[resource_type][:SAMPLE])
            if found is None:
                continue
            kinds = [component_parameter(url).type for url, _ in param.components]
            for prefix in ("ge", "lt"):
                parts = [_component_query(kind, values[0], prefix) for kind, values in zip(kinds, found)]
                yield Case(resource_type, ((code, "$".join(parts)),))


def _first_composite(param: SearchParameter, resources: list[dict[str, Any]]) -> list[list[Any]] | None:
    for resource in resources:
        for components in composite_values(param, resource):
            if all(components):
                return components
    return None


def _component_query(kind: str, value: Any, prefix: str) -> str:
    if kind == "token":
        system, code, _ = next(atom for atom in matching.token_atoms(value) if atom[1])
        return f"{_escape(system)}|{_escape(code)}" if system else _escape(code)
    if kind == "quantity":
        return f"{prefix}{value['value']}"
    if kind == "date":
        return f"{prefix}{matching.value_date_range(value)[0]:%Y-%m-%d}"  # type: ignore[index]
    return _escape(matching.string_parts(value)[0])


def sort_cases() -> Iterator[Case]:
    """`_sort` on each date, number and string parameter with values, and on the first token
    parameter of each type: ascending, and descending unless a date value is a range (R4 leaves
    open which end of a range a descending sort uses). Quantities have their own cases in one
    unit: across units the order is the server's."""
    token_done: set[str] = set()
    for kind in ("date", "number", "string", "token"):
        for resource_type, code, param, _ in _parameters(kind):
            if kind == "token":
                if resource_type in token_done or code.startswith("_"):
                    continue
                token_done.add(resource_type)
            yield Case(resource_type, (("_sort", code),))
            every = [
                value for resource in raw_resources()[resource_type] for value in parameter_values(param, resource)
            ]
            if kind != "date" or all(isinstance(value, str) for value in every):
                yield Case(resource_type, (("_sort", f"-{code}"),))


def include_cases() -> Iterator[Case]:
    """`_include` of each reference parameter pointing into the data, and the `_revinclude`
    of it from its most common target's type."""
    for resource_type, code, target in _reference_targets():
        yield Case(resource_type, ((f"{code}:missing", "false"), ("_include", f"{resource_type}:{code}")))
        target_type = _type_of(target)
        yield Case(target_type, (("_id", f"{{id:{target}}}"), ("_revinclude", f"{resource_type}:{code}")))


@functools.cache
def _types_by_full_url() -> dict[str, str]:
    return {r["_fullUrl"]: r["resourceType"] for resources in raw_resources().values() for r in resources}


def _type_of(full_url: str) -> str:
    return _types_by_full_url()[full_url]


def _escape(value: str) -> str:
    """A value as it must be written in a search: `,` `|` `$` and `\\` escaped."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("|", "\\|").replace("$", "\\$")
