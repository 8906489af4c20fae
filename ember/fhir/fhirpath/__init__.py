"""Ember's FHIRPath engine: parse once, compile to Python closures, cache by expression text.

Usage::

    from ember.fhir import fhirpath

    given = fhirpath.compile("Patient.name.given")   # cached; compile errors raise here
    given(patient)                                   # -> ['Peter', 'James', ...]
    fhirpath.evaluate(patient, "birthDate < today()")  # -> [True]

A compiled expression is called as
``expression(resource, variables=None, *, resolver=None, terminology=None, tracer=None)``
and returns a ``list``:

* ``resource``: the focus, a resource (or any element) as a dict parsed from FHIR JSON; it is
  also ``%resource``, ``%rootResource`` and ``%context``. ``None`` evaluates with no focus.
* ``variables``: ``%name`` values (a value or a list of values); dicts with ``resourceType``
  are treated as resources.
* ``resolver(reference) -> dict | None``: looks references up for ``resolve()``; without it
  ``resolve()`` finds contained resources, entries of a Bundle being evaluated, or returns a
  ``{"resourceType", "id"}`` stub for literal references (enough for ``resolve() is Patient``).
* ``terminology``: an object with ``member_of(coded, value_set_url)`` and
  ``subsumes(coded_a, coded_b)`` (``context.Terminology``, answered by ember.terminology) for
  ``memberOf()``, ``subsumes()`` and ``subsumedBy()``; without it they raise
  ``FhirPathEvaluationError``.
* ``tracer(name, values)``: receives ``trace()`` output (default: the ``ember.fhirpath``
  logger at DEBUG level).

Items of the result are the JSON values of the resource (dicts, strings, bools, numbers:
a FHIR primitive holding only extensions gives ``None``) or FHIRPath system values computed
by the expression: ``bool``, ``int``, ``decimal.Decimal``, ``str``, ``Temporal`` (date, dateTime,
time; ``str()`` gives the FHIR form) and ``Quantity``. ``typed()`` also gives each item's type.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, NamedTuple

from .compiler import compile_node
from .context import Context, Resolver, Terminology, Tracer
from .errors import FhirPathError, FhirPathEvaluationError, FhirPathSyntaxError
from .fastpath import plan, root_keys
from .model import Node, resource_node
from .quantity import Quantity
from .syntax import parse
from .temporal import Temporal
from .type_checks import fhir_type_name, system_type_name
from .values import plain

__all__ = [
    "CompiledExpression",
    "FhirPathError",
    "FhirPathEvaluationError",
    "FhirPathSyntaxError",
    "Quantity",
    "Temporal",
    "TypedValue",
    "compile",
    "evaluate",
]


class TypedValue(NamedTuple):
    """A result item with its type: ``FHIR.date``, ``System.Boolean``..."""

    value: Any
    type: str


class CompiledExpression:
    """A FHIRPath expression compiled to closures; call it on a resource."""

    __slots__ = ("_closure", "_plain_path", "expression", "root_keys")

    def __init__(self, expression: str) -> None:
        self.expression = expression
        tree = parse(expression)
        self._closure = compile_node(tree)
        self._plain_path = plan(tree)
        #: For a plain path: the resource keys it starts from (empty result without any of them).
        self.root_keys = root_keys(tree)

    def __repr__(self) -> str:
        return f"CompiledExpression({self.expression!r})"

    def __call__(
        self,
        resource: Any,
        variables: dict[str, Any] | None = None,
        *,
        resolver: Resolver | None = None,
        terminology: Terminology | None = None,
        tracer: Tracer | None = None,
    ) -> list[Any]:
        """Evaluate on ``resource``; returns the result collection as plain values."""
        if self._plain_path is not None and not variables and resolver is None:
            fast = self._plain_path(resource)
            if fast is not None:
                return fast
        items = self.nodes(resource, variables, resolver=resolver, terminology=terminology, tracer=tracer)
        return [plain(item) for item in items]

    def typed(
        self,
        resource: Any,
        variables: dict[str, Any] | None = None,
        *,
        resolver: Resolver | None = None,
        terminology: Terminology | None = None,
        tracer: Tracer | None = None,
    ) -> list[TypedValue]:
        """Evaluate and return each item with its FHIR or System type name."""
        items = self.nodes(resource, variables, resolver=resolver, terminology=terminology, tracer=tracer)
        return [_typed(item) for item in items]

    def nodes(
        self,
        resource: Any,
        variables: dict[str, Any] | None = None,
        *,
        resolver: Resolver | None = None,
        terminology: Terminology | None = None,
        tracer: Tracer | None = None,
    ) -> list[Any]:
        """Evaluate and return the engine's internal items (``Node`` for FHIR data)."""
        focus = resource_node(resource) if resource is not None else None
        ctx = Context(focus, _wrap_variables(variables), resolver, terminology, tracer)
        return self._closure(ctx.this, ctx)


def _wrap_variables(variables: dict[str, Any] | None) -> dict[str, list[Any]]:
    if not variables:
        return {}
    wrapped: dict[str, list[Any]] = {}
    for name, value in variables.items():
        values = value if isinstance(value, list) else ([] if value is None else [value])
        wrapped[name] = [resource_node(item) for item in values]
    return wrapped


def _typed(item: Any) -> TypedValue:
    if isinstance(item, Node):
        return TypedValue(item.value, f"FHIR.{fhir_type_name(item)}")
    return TypedValue(item, f"System.{system_type_name(item) or 'Any'}")


@lru_cache(maxsize=4096)
def compile(expression: str) -> CompiledExpression:
    """Compile ``expression`` once (cached); raises ``FhirPathSyntaxError``."""
    return CompiledExpression(expression)


def evaluate(resource: Any, expression: str, variables: dict[str, Any] | None = None, **hooks: Any) -> list[Any]:
    """Compile (cached) and evaluate ``expression`` on ``resource``; see module docs."""
    return compile(expression)(resource, variables, **hooks)
