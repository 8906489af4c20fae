"""The evaluation context shared by the compiled closures of one evaluation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

# A resolver maps a reference string to the resource it points at (or None).
Resolver = Callable[[str], "dict[str, Any] | None"]


class Terminology(Protocol):
    """Answers the FHIR terminology functions. Coded values are what the items hold: a code
    (str), a Coding or a CodeableConcept (dicts). None means the service cannot tell (an unknown
    value set or code system), which the functions return as empty."""

    def member_of(self, coded: Any, value_set: str) -> bool | None:
        """memberOf(): is `coded` (one of its codings, for a CodeableConcept) in `value_set`?"""
        ...

    def subsumes(self, coded_a: Any, coded_b: Any) -> bool | None:
        """subsumes(): is A (a coding of it) equivalent to or an ancestor of B (a coding of it)?"""
        ...


# A tracer receives trace() calls: (name, items).
Tracer = Callable[[str, list[Any]], None]


class Context:
    """Mutable state of one evaluation.

    ``this`` is the collection that identifiers and function arguments are evaluated against;
    iterating functions (``where``, ``select``...) set it per item and restore it afterwards.
    """

    __slots__ = (
        "cache",
        "index",
        "resolver",
        "resource",
        "root",
        "root_value",
        "terminology",
        "this",
        "total",
        "tracer",
        "variables",
    )

    def __init__(
        self,
        resource: Any,
        variables: dict[str, list[Any]],
        resolver: Resolver | None = None,
        terminology: Terminology | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.this: list[Any] = [resource] if resource is not None else []
        self.index: int | None = None
        self.total: list[Any] = []
        self.root = resource
        self.root_value = getattr(resource, "value", resource)
        self.resource = resource
        self.variables = variables
        self.resolver = resolver
        self.terminology = terminology
        self.tracer = tracer
        self.cache: dict[str, Any] = {}
