"""How each FHIR type looks in XML, derived once from the structure model.

JSON and XML name elements the same way (`valueQuantity` in both), but XML adds what JSON leaves
to key order and object shape: elements must come in definition order, `id` is an attribute on
data types and backbone elements (an element on resources), `url` is an attribute on extensions,
and primitives carry their value in a `value` attribute. A `Layout` answers those questions for
one type key with plain dictionary hits, so the reader and writer never consult the model twice.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from ember.fhir.model import is_primitive, is_resource_type, type_definition

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XHTML_DIV = f"{{{XHTML_NS}}}div"

#: Nesting deeper than this (in XML elements) is refused both ways: no real resource needs it and
#: it keeps recursion far from Python's limit. libxml2 itself stops at 256 levels.
MAX_DEPTH = 200

_INTEGER_TYPES = frozenset({"integer", "positiveInt", "unsignedInt"})
_NATIVE_TYPES = _INTEGER_TYPES | {"boolean", "decimal"}
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
# Same length cap as ember.fhir.jsonio: a 4,000-digit integer is an attack, not a measurement.
_INTEGER = re.compile(r"-?[0-9]{1,40}")


class Kind(enum.Enum):
    """What an element holds, which decides how it is written."""

    PRIMITIVE = "primitive"
    COMPLEX = "complex"
    RESOURCE = "resource"
    XHTML = "xhtml"


@dataclass(frozen=True, slots=True)
class Field:
    """One element as it appears in XML and JSON (a choice element yields one Field per type)."""

    name: str
    position: int
    kind: Kind
    is_array: bool
    #: The type key of the children (complex), or the primitive type code (primitive).
    child_key: str
    #: A primitive JSON writes as a number or boolean, not as the string it is in XML.
    is_native: bool


@dataclass(frozen=True, slots=True)
class Layout:
    """The XML shape of one type key."""

    key: str
    fields: dict[str, Field]
    #: JSON properties written as XML attributes instead of elements.
    attributes: frozenset[str]
    is_resource: bool
    #: The fields by qualified lxml tag (`{http://hl7.org/fhir}given`): one hit per element read.
    by_tag: dict[str, Field]


@cache
def layout_of(key: str) -> Layout | None:
    """The layout of a type name or backbone path, None when the model has no such type."""
    definition = type_definition(key)
    if definition is None:
        return None
    resource = is_resource_type(key) or key in ("Resource", "DomainResource")
    attributes = frozenset() if resource else frozenset({"id", "url"} if key == "Extension" else {"id"})
    position = {name: index for index, name in enumerate(definition.elements)}
    fields = {}
    for json_name, (element, code) in definition.by_json_name.items():
        if json_name in attributes:
            continue
        fields[json_name] = Field(
            name=json_name,
            position=position[element.name],
            kind=_kind(code),
            is_array=element.is_array,
            child_key=element.child_type_key(code),
            is_native=code in _NATIVE_TYPES,
        )
    by_tag = {}
    for name, field in fields.items():
        by_tag[XHTML_DIV if field.kind is Kind.XHTML else f"{{{FHIR_NS}}}{name}"] = field
    return Layout(key=key, fields=fields, attributes=attributes, is_resource=resource, by_tag=by_tag)


def required_layout(key: str) -> Layout:
    """The layout of a type key the model itself named; its absence is a bug, not bad input."""
    layout = layout_of(key)
    if layout is None:
        raise LookupError(f"The structure model has no type {key!r}")
    return layout


def _kind(type_code: str) -> Kind:
    if type_code == "xhtml":
        return Kind.XHTML
    if type_code == "Resource":
        return Kind.RESOURCE
    return Kind.PRIMITIVE if is_primitive(type_code) else Kind.COMPLEX


def text_to_value(type_code: str, text: str) -> Any:
    """The JSON value of a primitive's XML `value` attribute; ValueError when it is not lexically
    valid for a type that JSON represents natively (boolean, integers, decimal).

    Decimals follow ember.fhir.jsonio: an integer literal becomes int, a float when it prints back
    identically, otherwise Decimal so that precision such as `1.50` survives.
    """
    if type_code == "boolean":
        if text == "true":
            return True
        if text == "false":
            return False
        raise ValueError("a boolean is 'true' or 'false'")
    if type_code in _INTEGER_TYPES:
        if _INTEGER.fullmatch(text) is None:
            raise ValueError("not an integer")
        return int(text)
    if type_code == "decimal":
        if _DECIMAL.fullmatch(text) is None or len(text) > 100:
            raise ValueError("not a decimal")
        if "." not in text and "e" not in text and "E" not in text and len(text) <= 40:
            return int(text)
        number = float(text)
        return number if repr(number) == text else Decimal(text)
    return text


def value_to_text(type_code: str, value: Any) -> str:
    """The XML `value` attribute text of a primitive's JSON value; TypeError when the JSON type
    does not fit the FHIR type (which would not survive the trip back)."""
    kind = type(value)
    if type_code == "boolean":
        if kind is bool:
            return "true" if value else "false"
    elif type_code in _INTEGER_TYPES:
        if kind is int:
            return str(value)
    elif type_code == "decimal":
        if kind is float:
            return repr(value)
        if kind is int or (kind is Decimal and value.is_finite()):
            return str(value)
    elif kind is str:
        return str(value)
    raise TypeError(f"a JSON {kind.__name__} is not a valid {type_code}")
