"""Search index rows of a resource: every applicable search parameter, evaluated at write time.

Each parameter's FHIRPath expression (specialised to the resource type, compiled once) yields
FHIR values; this module turns them into rows of the index tables the store keeps per
parameter type (search.html): a CodeableConcept becomes token rows, a Period a date range, a
HumanName its name parts... The store only inserts the rows; queries compare against them.

Row shapes, after (param, ...) and before a trailing composite group number (0 when alone):
  token (system, code)   string (normalised, exact)   number (low, high)   date (low, high)
  text (normalised: `_text` and `_content`, searched by contains only)
  quantity (system, code, low, high, canonical code, canonical low, canonical high)
  reference (target type, target id, url, version)   uri (uri)
Modifier-specific rows use derived parameter names: `code:text` (string rows of displays and
texts), `subject:identifier` (token rows of Reference.identifier), `identifier:of-type`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any, NamedTuple

from ember.fhir.dates import MAX_MICROS, MIN_MICROS, date_range
from ember.fhir.fhirpath import CompiledExpression
from ember.fhir.fhirpath import compile as compile_fhirpath
from ember.fhir.fhirpath.fastpath import element_types, relative_root_keys
from ember.fhir.fhirpath.syntax import parse as parse_fhirpath
from ember.fhir.fhirpath.ucum import UCUM, canonical
from ember.fhir.search_parameters import (
    DERIVED_CACHES,
    UNINDEXED,
    SearchParameter,
    compiled_for,
    row_aliases,
    search_parameters,
)

IndexRows = dict[str, list[tuple[Any, ...]]]
TABLES = ("token", "string", "number", "date", "quantity", "reference", "uri", "text")

_NAME_PARTS = ("family", "given", "prefix", "suffix", "text")
_ADDRESS_PARTS = ("line", "city", "district", "state", "postalCode", "country", "text")
_CONTACT_SYSTEMS = frozenset({"phone", "fax", "email", "pager", "url", "sms", "other"})
_RELATIVE_REFERENCE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")
_TAGS = re.compile(r"<[^>]*>")
_ISO_4217 = "urn:iso:std:iso:4217"


def normalise(text: str) -> str:
    """Case- and accent-insensitive form of a string (search.html#string)."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()


class _Component(NamedTuple):
    """One part of a composite parameter: its row name (`code-value-quantity$1`), its type and
    its expression on each composite value."""

    name: str
    type: str
    expression: CompiledExpression
    #: The keys of a composite value the expression reads first (see relative_root_keys).
    keys: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class _Plan:
    """How one parameter is indexed for one resource type."""

    code: str
    type: str
    expression: CompiledExpression
    components: tuple[_Component, ...] = ()


def index_rows(resource: dict[str, Any]) -> IndexRows:
    """Every index row of `resource`, by table."""
    rows = _rows(resource, _present_plans(resource))
    _add_text(rows, resource)
    # Searches ask whether a row exists: a repeat (a coding's display equal to its concept's
    # text, a tenth of Synthea's rows) is only one more B-tree insert per index.
    return {table: list(dict.fromkeys(found)) for table, found in rows.items()}


def reference_rows(resource: dict[str, Any], params: Collection[str]) -> list[tuple[Any, ...]]:
    """The reference rows of just `params` (the audit job asks which patients a resource
    belongs to: a few compartment parameters instead of every parameter of the type)."""
    return _rows(resource, [plan for plan in _present_plans(resource) if plan.code in params])["reference"]


def _present_plans(resource: dict[str, Any]) -> list[_Plan]:
    """The plans of the resource's type that can find a value in it, in plan order: most
    parameters of a type read keys that any one resource lacks (an Observation has a dozen of
    the keys its seventy parameters read), so the plans are found from the resource's keys."""
    plans, unkeyed, by_key = _plans_by_key(resource["resourceType"])
    present = set(unkeyed)
    for key in resource:
        present.update(by_key.get(key, ()))
    return [plans[position] for position in sorted(present)]


@cache
def _plans_by_key(resource_type: str) -> tuple[tuple[_Plan, ...], tuple[int, ...], dict[str, tuple[int, ...]]]:
    """The type's plans; the positions of those without known root keys; for each root key, the
    positions of the plans that read it."""
    plans = plans_for(resource_type)
    by_key: dict[str, list[int]] = {}
    for position, plan in enumerate(plans):
        for key in plan.expression.root_keys or ():
            by_key.setdefault(key, []).append(position)
    unkeyed = tuple(position for position, plan in enumerate(plans) if plan.expression.root_keys is None)
    return plans, unkeyed, {key: tuple(positions) for key, positions in by_key.items()}


def _rows(resource: dict[str, Any], plans: Iterable[_Plan]) -> IndexRows:
    rows: IndexRows = {table: [] for table in TABLES}
    parts: dict[tuple[int, str], list[Any]] = {}  # composite parts evaluated on this resource
    for plan in plans:
        values = plan.expression(resource)
        if not values:
            continue
        if plan.type == "composite":
            _add_composite(rows, plan, values, parts)
        else:
            for value in values:
                _ADDERS[plan.type](rows, plan.code, value, 0)
    return rows


@cache
def plans_for(resource_type: str) -> tuple[_Plan, ...]:
    """The indexing plan of a type (cleared when custom parameters change)."""
    plans = []
    aliases = row_aliases(resource_type)
    for parameter in search_parameters(resource_type):
        if parameter.code in UNINDEXED or parameter.code in aliases:
            continue
        expression = compiled_for(parameter, resource_type)
        if expression is None or parameter.type not in _ADDERS and parameter.type != "composite":
            continue
        plans.append(_Plan(parameter.code, parameter.type, expression, _components(parameter, resource_type)))
    return tuple(plans)


def _components(parameter: SearchParameter, resource_type: str) -> tuple[_Component, ...]:
    """The parts of a composite, each with the keys it reads on the composite's values when
    the types of those values are known (`Observation | Observation.component`)."""
    expression = compiled_for(parameter, resource_type)
    if parameter.type != "composite" or expression is None:
        return ()
    value_types = element_types(parse_fhirpath(expression.expression))
    by_code = {p.code: p for p in search_parameters(resource_type)}
    return tuple(
        _Component(
            f"{parameter.code}${position}",
            by_code[part_code].type,
            compile_fhirpath(part),
            None if value_types is None else relative_root_keys(parse_fhirpath(part), value_types),
        )
        for position, (part_code, part) in enumerate(parameter.components)
        if part_code in by_code
    )


def _add_composite(rows: IndexRows, plan: _Plan, items: list[Any], parts: dict[tuple[int, str], list[Any]]) -> None:
    """Each item's component values share a group number, so a query can ask that the code
    and the value of one `Observation.component` match together. Observation has eight
    composites over the same few parts (`code`, `value.as(Quantity)`...): `parts` evaluates
    each part once per item. An item without a value for some part gets no rows: a composite
    query names every part, so such a group could never match (on Synthea this drops a tenth
    of all index rows: `code-value-date` of every Observation without a date value...). The
    keys of each part tell most such items apart before anything is evaluated: an Observation
    has one `value[x]`, so six of its eight composites need none of its keys."""
    for group, item in enumerate(items, start=1):
        if type(item) is dict and any(c.keys is not None and c.keys.isdisjoint(item) for c in plan.components):
            continue
        values = []
        for _, _, expression, _ in plan.components:
            key = (id(item), expression.expression)
            if key not in parts:
                parts[key] = expression(item)
            values.append(parts[key])
        if not all(values):
            continue
        for (name, part_type, _, _), found in zip(plan.components, values, strict=True):
            if part_type in _ADDERS:
                for value in found:
                    _ADDERS[part_type](rows, name, value, group)


def _add_token(rows: IndexRows, param: str, value: Any, group: int) -> None:
    tokens, texts = rows["token"], rows["string"]
    if isinstance(value, bool):
        tokens.append((param, "", "true" if value else "false", group))
    elif isinstance(value, str):
        tokens.append((param, "", value, group))
    elif isinstance(value, dict):
        if "coding" in value or "text" in value and "value" not in value:
            for coding in value.get("coding") or ():
                _add_coding(rows, param, coding, group)
            if isinstance(value.get("text"), str) and not group:
                texts.append((f"{param}:text", normalise(value["text"]), value["text"], group))
        elif "code" in value:
            _add_coding(rows, param, value, group)
        elif isinstance(value.get("value"), str):
            _add_identifier(rows, param, value, group)


def _add_coding(rows: IndexRows, param: str, coding: Any, group: int) -> None:
    if not isinstance(coding, dict):
        return
    code = coding.get("code")
    if isinstance(code, str):
        rows["token"].append((param, str(coding.get("system", "")), code, group))
    display = coding.get("display")
    if isinstance(display, str) and not group:  # composites are searched by code, never :text
        rows["string"].append((f"{param}:text", normalise(display), display, group))


def _add_identifier(rows: IndexRows, param: str, value: dict[str, Any], group: int) -> None:
    """An Identifier (system|value, plus `:of-type` rows) or a ContactPoint (its value, under
    its system such as `phone`)."""
    system = str(value.get("system", ""))
    rows["token"].append((param, system, value["value"], group))
    if system in _CONTACT_SYSTEMS:
        return
    kind = value.get("type")
    for coding in kind.get("coding") or () if isinstance(kind, dict) else ():
        if isinstance(coding, dict) and isinstance(coding.get("code"), str):
            of_type = (f"{param}:of-type", str(coding.get("system", "")), f"{coding['code']}|{value['value']}", group)
            rows["token"].append(of_type)
    if isinstance(kind, dict) and isinstance(kind.get("text"), str) and not group:
        rows["string"].append((f"{param}:text", normalise(kind["text"]), kind["text"], group))


def _add_string(rows: IndexRows, param: str, value: Any, group: int) -> None:
    if isinstance(value, str):
        rows["string"].append((param, normalise(value), value, group))
    elif isinstance(value, dict):
        for part in _NAME_PARTS + _ADDRESS_PARTS:
            found = value.get(part)
            for text in found if isinstance(found, list) else (found,):
                if isinstance(text, str):
                    rows["string"].append((param, normalise(text), text, group))


def _add_number(rows: IndexRows, param: str, value: Any, group: int) -> None:
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        rows["number"].append((param, float(value), float(value), group))


def _add_date(rows: IndexRows, param: str, value: Any, group: int) -> None:
    if isinstance(value, str):
        bounds = date_range(value)
        if bounds is not None:
            rows["date"].append((param, *bounds, group))
    elif isinstance(value, dict):
        if "start" in value or "end" in value:
            start = date_range(value["start"]) if isinstance(value.get("start"), str) else None
            end = date_range(value["end"]) if isinstance(value.get("end"), str) else None
            rows["date"].append((param, start[0] if start else MIN_MICROS, end[1] if end else MAX_MICROS, group))
        for event in value.get("event") or ():  # Timing
            _add_date(rows, param, event, group)
        repeat = value.get("repeat")
        if isinstance(repeat, dict) and isinstance(repeat.get("boundsPeriod"), dict):
            _add_date(rows, param, repeat["boundsPeriod"], group)


def _add_quantity(rows: IndexRows, param: str, value: Any, group: int) -> None:
    if not isinstance(value, dict):
        return
    if "low" in value or "high" in value:  # Range
        low, high = value.get("low") or {}, value.get("high") or {}
        unit = low if "value" in low else high
        bounds = (_number(low.get("value"), float("-inf")), _number(high.get("value"), float("inf")))
        _quantity_row(rows, param, unit, bounds, group)
    elif isinstance(value.get("value"), int | float | Decimal):
        if "currency" in value:  # Money
            unit = {"system": _ISO_4217, "code": value["currency"]}
        else:
            unit = value
        number = float(value["value"])
        _quantity_row(rows, param, unit, (number, number), group)


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, int | float | Decimal) and not isinstance(value, bool) else default


def _quantity_row(rows: IndexRows, param: str, unit: dict[str, Any], bounds: tuple[float, float], group: int) -> None:
    system = str(unit.get("system", ""))
    code = str(unit.get("code") or unit.get("unit") or "")
    low, high = bounds
    converted = canonical(code, 1.0) if system == UCUM and code else None
    if converted is None:
        rows["quantity"].append((param, system, code, low, high, code, low, high, group))
    else:
        unit_code, factor = converted
        rows["quantity"].append((param, system, code, low, high, unit_code, low * factor, high * factor, group))


def _add_reference(rows: IndexRows, param: str, value: Any, group: int) -> None:
    if isinstance(value, str):  # canonical
        url, _, version = value.partition("|")
        rows["reference"].append((param, None, None, url, version or None, group))
        return
    if not isinstance(value, dict):
        return
    reference = value.get("reference")
    if isinstance(reference, str) and not reference.startswith("#"):
        match = _RELATIVE_REFERENCE.match(reference)
        if match is not None:
            rows["reference"].append((param, match.group(1), match.group(2), None, None, group))
        else:
            url, _, version = reference.partition("|")
            rows["reference"].append((param, None, None, url, version or None, group))
    identifier = value.get("identifier")
    if isinstance(identifier, dict) and isinstance(identifier.get("value"), str):
        rows["token"].append((f"{param}:identifier", str(identifier.get("system", "")), identifier["value"], group))


def _add_uri(rows: IndexRows, param: str, value: Any, group: int) -> None:
    if isinstance(value, str):
        rows["uri"].append((param, value, group))


def _add_special(rows: IndexRows, param: str, value: Any, group: int) -> None:
    """`near` (Location.position): latitude and longitude as a number range row."""
    if param == "near" and isinstance(value, dict):
        latitude, longitude = value.get("latitude"), value.get("longitude")
        if isinstance(latitude, int | float | Decimal) and isinstance(longitude, int | float | Decimal):
            rows["number"].append((param, float(latitude), float(longitude), group))


def _add_text(rows: IndexRows, resource: dict[str, Any]) -> None:
    """`_text` (the narrative) and `_content` (every string of the resource), for :contains-style
    matching (search.html#text)."""
    text = resource.get("text")
    if isinstance(text, dict) and isinstance(text.get("div"), str):
        narrative = " ".join(_TAGS.sub(" ", text["div"]).split())
        rows["text"].append(("_text", normalise(narrative), 0))
    strings: list[str] = []
    _collect_strings(resource, strings)
    content = " ".join(strings)
    rows["text"].append(("_content", normalise(content), 0))


def _collect_strings(element: dict[str, Any], found: list[str]) -> None:
    """The strings of `element` and everything in it, in document order (FHIR JSON never nests
    an array directly in an array). Written for speed: it visits every value of every resource
    written."""
    for key, item in element.items():
        if key in _NOT_CONTENT:
            continue
        kind = type(item)
        if kind is str:
            found.append(item)
        elif kind is dict:
            _collect_strings(item, found)
        elif kind is list:
            for entry in item:
                if type(entry) is str:
                    found.append(entry)
                elif type(entry) is dict:
                    _collect_strings(entry, found)


_NOT_CONTENT = frozenset({"div", "data", "reference", "id", "url", "system", "resourceType"})

DERIVED_CACHES.append(plans_for.cache_clear)
DERIVED_CACHES.append(_plans_by_key.cache_clear)

_ADDERS: dict[str, Callable[[IndexRows, str, Any, int], None]] = {
    "token": _add_token,
    "string": _add_string,
    "number": _add_number,
    "date": _add_date,
    "quantity": _add_quantity,
    "reference": _add_reference,
    "uri": _add_uri,
    "special": _add_special,
}
