"""Shortcuts: cheap tests on the JSON of a node that settle a constraint without FHIRPath.

The hot constraints (dom-2..6 on every resource, ref-1 on every Reference, per-1 on every
Period, `X.empty() or Y.exists()` on every ContactPoint, Quantity, Attachment...) almost always
hold for a reason visible in one or two dict lookups: the resource has no `contained`, the
reference is not local, the Period's start sorts before its end. A shortcut answers True (holds)
or None (cannot tell: the FHIRPath expression decides); only dom-6, a plain presence test, also
answers False. Each shortcut is tied to the exact expression text it was written for, and
tests/fhir/test_invariants.py checks that every answer agrees with FHIRPath on every node of the
Synthea sample and on targeted counter-examples.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from ember.fhir import model
from ember.fhir.invariants.rewrites import REWRITTEN

#: A shortcut: the JSON value of the focus -> True (holds), False (violated) or None (unknown).
Shortcut = Callable[[Any], "bool | None"]

#: `a.empty() or b.exists()`: qty-3, cpt-2, att-1 and a dozen more.
_EMPTY_OR_EXISTS = re.compile(r"(\w+)\.empty\(\) or (\w+)\.exists\(\)")


def shortcut_for(type_key: str, key: str, expression: str) -> Shortcut | None:
    """The shortcut of constraint `key` on nodes of `type_key`, None when there is none."""
    known = _BY_KEY.get(key)
    if known is not None and known[0] == expression:
        return known[1]
    match = _EMPTY_OR_EXISTS.fullmatch(expression)
    if match:
        return _empty_or_exists(type_key, match.group(1), match.group(2))
    return None


_CONTAINED_META_RULED = ("versionId", "_versionId", "lastUpdated", "_lastUpdated", "security")


def _without_contained(resource: Any) -> bool | None:
    """dom-2, dom-4 and dom-5 only look at `contained`: they hold when no contained resource has
    contained resources of its own, nor a meta with versionId, lastUpdated or security."""
    contained = resource.get("contained")
    if contained is None:
        return True
    if type(contained) is not list:
        return None
    for item in contained:
        if type(item) is not dict or "contained" in item:
            return None
        meta = item.get("meta")
        if meta is not None and (type(meta) is not dict or any(name in meta for name in _CONTAINED_META_RULED)):
            return None
    return True


def _contained_referenced(resource: Any) -> bool | None:
    """dom-3 holds without `contained`, and when each contained id is the value of some property
    `reference` (FHIRPath also accepts canonicals, uris and self references: it decides those).
    Every string property named `reference` in R4 is a Reference.reference or a uri, both of
    which dom-3 (as rewritten in rules.py) accepts.

    The search runs on the compact JSON text: an unescaped `"` always delimits a string there,
    so `"reference":"#id"` can only be a property `reference` holding "#id"."""
    contained = resource.get("contained")
    if contained is None:
        return True
    if type(contained) is not list:
        return None
    try:
        text = orjson.dumps(resource)
    except orjson.JSONEncodeError:
        return None
    for item in contained:
        if type(item) is not dict or type(item.get("id")) is not str:
            return None
        if b'"reference":' + orjson.dumps("#" + item["id"]) not in text:
            return None
    return True


def _has_narrative(resource: Any) -> bool | None:
    """dom-6 `text.div.exists()`, decided: a div value, or a `_div` carrying its extensions."""
    text = resource.get("text")
    if text is None:
        return False
    if type(text) is not dict:
        return None
    return text.get("div") is not None or text.get("_div") is not None


def _identified_or_named(organization: Any) -> bool | None:
    return True if "identifier" in organization or "name" in organization else None


def _no_value_or_no_component(observation: Any) -> bool | None:
    """obs-7 compares component codes with the Observation's code only when it has a value."""
    if "component" not in observation:
        return True
    return True if not any(name.startswith(("value", "_value")) for name in observation) else None


def _not_local_reference(reference: Any) -> bool | None:
    """ref-1 holds unless the reference starts with '#' (then the engine looks it up)."""
    value = reference.get("reference")
    return True if type(value) is not str or not value.startswith("#") else None


def _period_in_order(period: Any) -> bool | None:
    """per-1 holds without start or end, and when both have the same shape (same length, same
    time zone suffix) with start <= end as text: digits of one shape order like the instants."""
    start, end = period.get("start"), period.get("end")
    if start is None or end is None:
        return True
    if type(start) is str and type(end) is str and len(start) == len(end) and _zone(start) == _zone(end):
        return True if start <= end else None
    return None


def _zone(text: str) -> str:
    """The time-zone suffix of a date/dateTime text ('' for a date)."""
    if text.endswith("Z"):
        return "Z"
    return text[-6:] if len(text) > 10 and text[-6] in "+-" else ""


def _empty_or_exists(type_key: str, absent: str, present: str) -> Shortcut | None:
    """`absent.empty() or present.exists()` holds when no JSON key of `absent` is there, or a
    value of `present` is."""
    definition = model.type_definition(type_key)
    if definition is None:
        return None
    absent_keys = _json_keys(definition, absent)
    present_keys = _json_keys(definition, present)
    if not absent_keys or not present_keys:
        return None

    def holds(node: Any) -> bool | None:
        if all(name not in node for name in absent_keys):
            return True
        return True if any(node.get(name) is not None for name in present_keys if name[0] != "_") else None

    return holds


def _json_keys(definition: model.TypeDefinition, element: str) -> tuple[str, ...]:
    """Every JSON key a value of `element` can take (`valueQuantity`..., `_value`...)."""
    keys = [name for name, (found, _) in definition.by_json_name.items() if found.base_name == element]
    return tuple(keys + ["_" + name for name in keys])


#: key -> (the R4 expression text a shortcut was written for, the shortcut).
_BY_KEY: dict[str, tuple[str, Shortcut]] = {
    "dom-2": ("contained.contained.empty()", _without_contained),
    "dom-3": (REWRITTEN["dom-3"][0], _contained_referenced),
    "dom-4": ("contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()", _without_contained),
    "dom-5": ("contained.meta.security.empty()", _without_contained),
    "dom-6": ("text.`div`.exists()", _has_narrative),
    "ref-1": (
        "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
        "%rootResource.contained.id.trace('ids'))",
        _not_local_reference,
    ),
    "per-1": ("start.hasValue().not() or end.hasValue().not() or (start <= end)", _period_in_order),
    "org-1": ("(identifier.count() + name.count()) > 0", _identified_or_named),
    "obs-7": (
        "value.empty() or component.code.where(coding.intersect(%resource.code.coding).exists()).empty()",
        _no_value_or_no_component,
    ),
}
