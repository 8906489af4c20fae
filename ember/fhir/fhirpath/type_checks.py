"""Type tests for ``is``, ``as``, ``ofType`` and ``type()``.

FHIR values (nodes) belong to the ``FHIR`` namespace and system values (literals, function
results) to ``System``; an unqualified name matches in either namespace, as the specification
says. ``is`` follows the type hierarchy (a ``code`` is a ``string``); ``as`` and ``ofType``
require the exact primitive type, as the official test suite does (``gender.as(string)`` is
empty) but accept specialisations of complex types and resources (``Age`` as ``Quantity``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .errors import FhirPathEvaluationError
from .model import ABSTRACT_RESOURCES, Node, fhir_model
from .quantity import Quantity
from .syntax import TypeSpec
from .temporal import DATE, DATETIME, Temporal

SYSTEM_TYPES = frozenset({"Boolean", "String", "Integer", "Decimal", "Date", "DateTime", "Time", "Quantity"})
_TEMPORAL_NAMES = {DATE: "Date", DATETIME: "DateTime", "time": "Time"}


def system_type_name(value: Any) -> str | None:
    """The System type of a system value."""
    if type(value) is bool:
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, (Decimal, float)):
        return "Decimal"
    if isinstance(value, str):
        return "String"
    if isinstance(value, Temporal):
        return _TEMPORAL_NAMES[value.kind]
    if isinstance(value, Quantity):
        return "Quantity"
    return None


def fhir_type_name(node: Node) -> str:
    """The FHIR type of a node, guessed from the JSON value when the model did not say."""
    if node.type:
        return fhir_model().type_name(node.type)
    value = node.value
    if isinstance(value, dict):
        return value.get("resourceType", "Element")
    if type(value) is bool:
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, (float, Decimal)):
        return "decimal"
    return "string"


def type_info(item: Any) -> dict[str, str]:
    """The ``{namespace, name}`` that ``type()`` returns."""
    if type(item) is Node:
        return {"namespace": "FHIR", "name": fhir_type_name(item)}
    return {"namespace": "System", "name": system_type_name(item) or "Any"}


class TypeMatcher:
    """A type specifier resolved once at compile time."""

    __slots__ = ("is_fhir", "is_system", "name", "namespace", "primitive")

    def __init__(self, spec: TypeSpec) -> None:
        model = fhir_model()
        self.namespace, self.name = spec.namespace, spec.name
        known_fhir = spec.name in model.types or spec.name in ABSTRACT_RESOURCES
        self.is_fhir = spec.namespace in (None, "FHIR") and known_fhir
        self.is_system = spec.namespace in (None, "System") and spec.name in SYSTEM_TYPES
        self.primitive = model.is_primitive(spec.name)

    def check_known(self) -> None:
        """Unknown type names are an evaluation error (``as(string1)``)."""
        if not (self.is_fhir or self.is_system):
            qualified = f"{self.namespace}.{self.name}" if self.namespace else self.name
            raise FhirPathEvaluationError(f"unknown type '{qualified}'")

    def matches(self, item: Any, exact: bool = False) -> bool:
        """True when ``item`` is of this type (``exact``: no primitive specialisations)."""
        if type(item) is Node:
            if not self.is_fhir:
                return False
            actual = fhir_type_name(item)
            if exact and self.primitive:
                return actual == self.name
            return fhir_model().is_subtype(actual, self.name)
        if not self.is_system:
            return False
        return system_type_name(item) == self.name
