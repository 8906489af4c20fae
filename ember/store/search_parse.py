"""FHIR search syntax to conditions (search.html): parameter names, modifiers, prefixes,
OR lists, escaping, chains and `_has`, for one resource type.

It lives beside the planner because the store parses search strings of its own too: SMART v2
scopes restrict access with a query (`patient/Observation.rs?category=laboratory`), which the
access filter turns into conditions with this same parser.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import cache

from ember.fhir.dates import date_range
from ember.fhir.fhirpath.ucum import UCUM, canonical
from ember.fhir.model import is_resource_type
from ember.fhir.outcome import FhirError, error
from ember.fhir.search_index import normalise
from ember.fhir.search_parameters import DERIVED_CACHES, SearchParameter, row_aliases, search_parameters
from ember.store.search_query import (
    AllOf,
    AnyOf,
    ChainCondition,
    CompositeCondition,
    Condition,
    HasCondition,
    HierarchyCondition,
    IdCondition,
    ListCondition,
    MissingCondition,
    NearCondition,
    Not,
    Prefix,
    RangeCondition,
    ReferenceCondition,
    StringCondition,
    TokenCondition,
    UriCondition,
    ValueSetCondition,
)

_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
#: The index table each parameter type's rows live in (`near` keeps its coordinates as numbers).
INDEX_TABLE_OF_TYPE = {
    "token": "token",
    "string": "string",
    "number": "number",
    "date": "date",
    "quantity": "quantity",
    "reference": "reference",
    "uri": "uri",
    "special": "number",
}
_MODIFIERS = {
    "token": {"not", "text", "in", "not-in", "above", "below", "of-type", "missing"},
    "string": {"exact", "contains", "missing"},
    "reference": {"identifier", "missing"},
    "uri": {"above", "below", "missing"},
    "date": {"missing"},
    "number": {"missing"},
    "quantity": {"missing"},
    "composite": {"missing"},
    "special": {"missing"},
}
_MILES_TO_KM = 1.609344
_MAX_CHAIN_DEPTH = 4


@cache
def parameters_of(resource_type: str) -> dict[str, SearchParameter]:
    """The search parameters of a type by code (cleared when custom parameters change)."""
    return {parameter.code: parameter for parameter in search_parameters(resource_type)}


DERIVED_CACHES.append(parameters_of.cache_clear)


def split_unescaped(value: str, separator: str) -> list[str]:
    """Split at `separator` not preceded by a backslash (search.html#escaping); the parts keep
    their escapes for a later split at another separator."""
    parts, current, escaped = [], [], False
    for char in value:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        current.append("\\")
    parts.append("".join(current))
    return parts


def unescape(value: str) -> str:
    return re.sub(r"\\([\\,|$])", r"\1", value)


def parse_parameter(resource_type: str, name: str, value: str, base_url: str = "", depth: int = 0) -> Condition | None:
    """The condition of `name=value` on `resource_type`; None for an unknown parameter (the
    caller decides between ignoring it and refusing it)."""
    if name.startswith("_has:"):
        return _has(resource_type, name, value, base_url, depth)
    if name == "_list":
        return AnyOf(tuple(ListCondition(unescape(v)) for v in split_unescaped(value, ",")))
    if name in ("_text", "_content"):
        values = split_unescaped(value, ",")
        return AnyOf(tuple(StringCondition(name, "contains", normalise(unescape(v))) for v in values))
    head, dot, chained = name.partition(".")
    code, _, modifier = head.partition(":")
    if code == "_id":
        return _ids(value, modifier)
    parameter = parameters_of(resource_type).get(code)
    if parameter is None:
        return None
    if dot:
        return _chain(resource_type, parameter, modifier, chained, value, base_url, depth)
    if modifier and not (parameter.type == "reference" and is_resource_type(modifier)):
        if modifier not in _MODIFIERS.get(parameter.type, ()):
            raise error(400, "not-supported", f"Modifier ':{modifier[:30]}' is not valid on '{code}'", name)
    stand_ins = row_aliases(resource_type).get(code)
    if stand_ins is not None:
        return _through(resource_type, stand_ins, modifier, value, base_url, depth)
    if modifier == "missing":
        return _missing(parameter, value, name)
    alternatives = [
        _value(resource_type, parameter, modifier, unescaped, base_url, name)
        for unescaped in split_unescaped(value, ",")
    ]
    if parameter.type == "token" and modifier in ("not", "not-in"):
        return Not(AnyOf(tuple(alternatives)))
    return alternatives[0] if len(alternatives) == 1 else AnyOf(tuple(alternatives))


def _through(
    resource_type: str, stand_ins: tuple[str, ...], modifier: str, value: str, base_url: str, depth: int
) -> Condition:
    """A parameter without rows of its own (see row_aliases), searched through the rows of the
    parameters it stands for: a match in any of them, or for the negative forms (`:not`,
    `:not-in`, `:missing=true`) in none of them."""
    suffix = f":{modifier}" if modifier else ""
    conditions = []
    for code in stand_ins:
        condition = parse_parameter(resource_type, code + suffix, value, base_url, depth)
        assert condition is not None, code  # a core parameter of the type
        conditions.append(condition)
    if modifier in ("not", "not-in") or (modifier == "missing" and value == "true"):
        return conditions[0] if len(conditions) == 1 else AllOf(tuple(conditions))
    # One flat OR: a list of index conditions on one table drives a page as one index lookup.
    flat = tuple(part for c in conditions for part in (c.conditions if isinstance(c, AnyOf) else (c,)))
    return flat[0] if len(flat) == 1 else AnyOf(flat)


def _value(
    resource_type: str, parameter: SearchParameter, modifier: str, raw: str, base_url: str, where: str
) -> Condition:
    kind = parameter.type
    if kind == "token":
        return _token(parameter.code, modifier, raw, where)
    if kind == "string":
        text = unescape(raw)
        if modifier == "exact":
            return StringCondition(parameter.code, "exact", text)
        return StringCondition(parameter.code, "contains" if modifier == "contains" else "prefix", normalise(text))
    if kind in ("number", "date", "quantity"):
        return _range(kind, parameter.code, raw, where)
    if kind == "reference":
        return _reference(parameter, modifier, raw, base_url, where)
    if kind == "uri":
        mode = modifier if modifier in ("above", "below") else "eq"
        return UriCondition(parameter.code, mode, unescape(raw))  # type: ignore[arg-type]
    if kind == "composite":
        return _composite(resource_type, parameter, raw, base_url, where)
    if kind == "special" and parameter.code == "near":
        return _near(raw, where)
    raise error(400, "not-supported", f"Searching by '{parameter.code}' ({kind}) is not supported", where)


def _token(param: str, modifier: str, raw: str, where: str) -> Condition:
    if modifier == "text":
        return StringCondition(f"{param}:text", "prefix", normalise(unescape(raw)))
    if modifier in ("in", "not-in"):
        return ValueSetCondition(param, unescape(raw))
    parts = [unescape(part) for part in split_unescaped(raw, "|")]
    if modifier == "of-type":
        if len(parts) != 3:
            raise error(400, "invalid", "':of-type' takes system|code|value", where)
        return TokenCondition(f"{param}:of-type", parts[0], f"{parts[1]}|{parts[2]}")
    if len(parts) == 1:
        system, code = None, parts[0]
    elif len(parts) == 2:
        system, code = parts[0], parts[1] or None
    else:
        raise error(400, "invalid", f"'{raw[:60]}' is not a token (system|code)", where)
    if modifier in ("above", "below"):
        return _hierarchy(param, system, code, modifier, where)
    return TokenCondition(param, system, code)


def _hierarchy(param: str, system: str | None, code: str | None, direction: str, where: str) -> Condition:
    if not system or code is None:
        raise error(400, "invalid", f"':{direction}' needs system|code", where)
    return HierarchyCondition(param, system, code, "above" if direction == "above" else "below")


def _range(kind: str, param: str, raw: str, where: str) -> RangeCondition:
    prefix: Prefix = "eq"
    if raw[:2] in _PREFIXES and len(raw) > 2 and (raw[2].isdigit() or raw[2] == "-"):
        prefix, raw = raw[:2], raw[2:]  # type: ignore[assignment]
    if kind == "date":
        bounds = date_range(raw)
        if bounds is None:
            raise error(400, "invalid", f"'{raw[:60]}' is not a FHIR date", where)
        low, high = bounds
        if prefix == "ap":
            low, high = _approximately(low, high)
        return RangeCondition("date", param, prefix, low, high)
    number, _, unit = unescape(raw).partition("|")
    low_f, high_f = _number_range(number, where)
    exact = float(number)
    if prefix == "ap":
        margin = abs(exact) * 0.1
        low_f, high_f = low_f - margin, high_f + margin
    if kind == "number" or not unit:
        return RangeCondition(kind, param, prefix, low_f, high_f, exact=exact)  # type: ignore[arg-type]
    system, _, code = unit.partition("|")
    converted = canonical(code, 1.0) if code and system in ("", UCUM) else None
    if converted is not None and system == UCUM:
        unit_code, f = converted
        return RangeCondition("quantity", param, prefix, low_f * f, high_f * f, UCUM, unit_code, True, exact * f)
    return RangeCondition("quantity", param, prefix, low_f, high_f, system or None, code or None, exact=exact)


def _number_range(text: str, where: str) -> tuple[float, float]:
    """The range a decimal covers given its precision: `100` is [99.5, 100.5] (search.html#number)."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise error(400, "invalid", f"'{text[:60]}' is not a number", where) from None
    if not number.is_finite():
        raise error(400, "invalid", f"'{text[:60]}' is not a number", where)
    exponent = number.as_tuple().exponent
    half = Decimal(5) * Decimal(10) ** (int(exponent) - 1)
    return float(number - half), float(number + half)


def _approximately(low: int, high: int) -> tuple[int, int]:
    """`ap` on dates: 10% of the distance from now, on either side (search.html#prefix)."""
    import time

    now = int(time.time() * 1_000_000)
    margin = abs(now - low) // 10
    return low - margin, high + margin


def _reference(parameter: SearchParameter, modifier: str, raw: str, base_url: str, where: str) -> Condition:
    value = unescape(raw)
    if modifier == "identifier":
        system, bar, code = value.rpartition("|")
        return TokenCondition(f"{parameter.code}:identifier", system if bar else None, code)
    if base_url and value.startswith(base_url.rstrip("/") + "/"):
        value = value[len(base_url.rstrip("/")) + 1 :]
    target_type = modifier or None
    if "/" in value and not value.startswith(("http:", "https:", "urn:")):
        kind, _, resource_id = value.partition("/")
        resource_id = resource_id.split("/_history/", 1)[0]
        if target_type is not None and kind != target_type:
            raise error(400, "invalid", f"'{value[:60]}' is not a {target_type} reference", where)
        return ReferenceCondition(parameter.code, kind, resource_id)
    if ":" in value:  # an absolute or canonical url
        url, _, version = value.partition("|")
        return ReferenceCondition(parameter.code, url=url, version=version or None)
    return ReferenceCondition(parameter.code, target_type, value)


def _composite(resource_type: str, parameter: SearchParameter, raw: str, base_url: str, where: str) -> Condition:
    values = split_unescaped(raw, "$")
    if len(values) != len(parameter.components):
        raise error(400, "invalid", f"'{parameter.code}' takes {len(parameter.components)} values joined by $", where)
    parts: list[Condition] = []
    for position, ((part_code, _), part_value) in enumerate(zip(parameter.components, values)):
        part = parameters_of(resource_type).get(part_code)
        if part is None:
            raise error(400, "not-supported", f"Composite part '{part_code}' is not searchable here", where)
        renamed = SearchParameter(f"{parameter.code}${position}", part.type, part.base, part.expression, part.target)
        parts.append(_value(resource_type, renamed, "", part_value, base_url, where))
    return CompositeCondition(tuple(parts))


def _near(raw: str, where: str) -> Condition:
    parts = unescape(raw).split("|")
    try:
        latitude, longitude = float(parts[0]), float(parts[1])
        distance = float(parts[2]) if len(parts) > 2 and parts[2] else 1.0
    except (ValueError, IndexError):
        raise error(400, "invalid", "'near' takes latitude|longitude|distance|units", where) from None
    units = parts[3] if len(parts) > 3 else "km"
    if units not in ("km", "mi_i", "[mi_i]"):
        raise error(400, "not-supported", "'near' distances are in km or [mi_i]", where)
    kilometres = distance * _MILES_TO_KM if "mi" in units else distance
    return NearCondition(latitude, longitude, kilometres)


def _ids(value: str, modifier: str) -> Condition:
    ids = tuple(unescape(v) for v in split_unescaped(value, ","))
    condition = IdCondition(ids)
    return Not(condition) if modifier == "not" else condition


def _missing(parameter: SearchParameter, value: str, where: str) -> Condition:
    if value not in ("true", "false"):
        raise error(400, "invalid", "':missing' takes true or false", where)
    if parameter.type == "composite":
        table = "token"
        code = f"{parameter.code}$0"
    else:
        table, code = INDEX_TABLE_OF_TYPE[parameter.type], parameter.code
    return MissingCondition(table, code, value == "true")


def _chain(
    resource_type: str,
    parameter: SearchParameter,
    modifier: str,
    chained: str,
    value: str,
    base_url: str,
    depth: int,
) -> Condition:
    where = f"{parameter.code}.{chained}"
    if parameter.type != "reference":
        raise error(400, "invalid", f"'{parameter.code}' is not a reference: it cannot be chained", where)
    if depth >= _MAX_CHAIN_DEPTH:
        raise error(400, "too-costly", f"Chains are limited to {_MAX_CHAIN_DEPTH} links", where)
    candidates = (modifier,) if modifier else parameter.target
    targets = []
    for target in candidates:
        inner = parse_parameter(target, chained, value, base_url, depth + 1) if is_resource_type(target) else None
        if inner is not None:
            targets.append((target, inner))
    if not targets:
        raise error(400, "not-found", f"No target of '{parameter.code}' has a search parameter '{chained[:40]}'", where)
    return ChainCondition(parameter.code, tuple(targets))


def _has(resource_type: str, name: str, value: str, base_url: str, depth: int) -> Condition:
    parts = name.split(":", 3)
    if len(parts) != 4 or not is_resource_type(parts[1]):
        raise error(400, "invalid", "_has takes _has:Type:reference-parameter:search-parameter", name)
    _, source_type, source_param, rest = parts
    reference = parameters_of(source_type).get(source_param)
    if reference is None or reference.type != "reference":
        raise error(400, "invalid", f"'{source_param}' is not a reference parameter of {source_type}", name)
    if depth >= _MAX_CHAIN_DEPTH:
        raise error(400, "too-costly", f"_has is limited to {_MAX_CHAIN_DEPTH} levels", name)
    inner = parse_parameter(source_type, rest, value, base_url, depth + 1)
    if inner is None:
        raise error(400, "not-found", f"{source_type} has no search parameter '{rest[:40]}'", name)
    return HasCondition(source_type, source_param, inner)


def refuse_unknown(name: str) -> FhirError:
    return error(400, "not-supported", f"Unknown or unsupported search parameter '{name[:60]}'", name)
