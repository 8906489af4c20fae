"""The typed walk over one resource that evaluates the constraints at every node.

Each node is visited with its type key (from the structure model), so the rules of its type and
of the element holding it are evaluated with the node as focus and %context, and the resource it
belongs to as %resource. Locations are parent-chain tuples, turned into FHIRPath text
(`Observation.component[1]`) only when an issue is reported, as in the structural validator.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from ember.fhir import terminology_hooks
from ember.fhir.fhirpath.context import Context, Terminology
from ember.fhir.fhirpath.errors import FhirPathError
from ember.fhir.fhirpath.model import Node
from ember.fhir.fhirpath.values import plain
from ember.fhir.invariants import native
from ember.fhir.invariants.plans import ChildKind, ChildPlan, type_plan
from ember.fhir.invariants.rules import CONTAINER_VARIABLE, Rule
from ember.fhir.outcome import Issue

_LOG = logging.getLogger(__name__)

#: Deepest nesting walked; the structural validator rejects anything deeper (its MAX_DEPTH).
MAX_DEPTH = 64
#: Issues collected before the walk stops reporting.
MAX_ISSUES = 1000

#: (parent location, property name, array index or None).
Location = tuple[Any, str, int | None]

_COMPLEX, _PRIMITIVE = ChildKind.COMPLEX, ChildKind.PRIMITIVE
_RESOURCE, _PRIMITIVE_EXTENSION = ChildKind.RESOURCE, ChildKind.PRIMITIVE_EXTENSION


class Scope(NamedTuple):
    """The resource a node belongs to (%resource), the variables of its evaluations, and the
    terminology service answering memberOf()/subsumes() (installed by the application)."""

    resource: Node
    variables: dict[str, list[Any]]
    terminology: Terminology


def location_text(where: Location | None) -> str:
    parts = []
    while where is not None:
        where, name, index = where
        parts.append(name if index is None else f"{name}[{index}]")
    return ".".join(reversed(parts))


def violated(rule: Rule, focus: Node, scope: Scope) -> bool:
    """True when `rule` evaluates to false on `focus`. Empty (unknown, e.g. dates of different
    precision) is not a violation, and neither is an evaluation error: the walk never fails a
    write on what the engine cannot decide."""
    ctx = Context(focus, scope.variables, terminology=scope.terminology)
    ctx.resource = scope.resource
    try:
        result = rule.closure(ctx.this, ctx)
    except FhirPathError as error:
        _LOG.debug("constraint %s not evaluated: %s", rule.key, error)
        return False
    return len(result) == 1 and plain(result[0]) is False


class Walker:
    """Collects the invariant issues of one resource and of the resources inside it."""

    __slots__ = ("issues",)

    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def report(self, constraint: tuple[str, str, str], where: Location | None) -> None:
        key, severity, human = constraint
        if len(self.issues) < MAX_ISSUES:
            self.issues.append(
                Issue(
                    code="invariant",
                    diagnostics=f"{key}: {human}",
                    severity=severity,
                    expression=(location_text(where),),
                    details_code=key,
                )
            )

    def resource(self, value: dict[str, Any], where: Location, depth: int, container: Node | None = None) -> None:
        """Walk a resource; `container` is the resource holding it when it is contained."""
        resource_type = value.get("resourceType")
        if type(resource_type) is not str or type_plan(resource_type) is None:
            return
        node = Node(value, resource_type)
        scope = Scope(node, {CONTAINER_VARIABLE: [container or node]}, terminology_hooks.installed())
        self.element(value, resource_type, where, depth, scope)

    def element(self, value: dict[str, Any], type_key: str, where: Location, depth: int, scope: Scope) -> None:
        plan = type_plan(type_key)
        if plan is None or depth > MAX_DEPTH:
            return
        if plan.is_extension and not native.extension_is_value_xor_nested(value):
            self.report(native.EXT_1[:3], where)
        if plan.rules:
            self.evaluate(
                plan.rules, scope.resource if scope.resource.value is value else Node(value, type_key), where, scope
            )
        children = plan.children
        for name, child_value in value.items():
            child = children.get(name)
            if child is not None:
                self.child(child, value, name, child_value, where, depth + 1, scope)

    def child(
        self, child: ChildPlan, parent: dict[str, Any], name: str, value: Any, where: Location, depth: int, scope: Scope
    ) -> None:
        """Walk the value(s) of one property: one value, or each item of an array."""
        kind = child.kind
        if kind is _PRIMITIVE:
            self.primitive(child, parent, name, value, where, scope)
            return
        items = enumerate(value) if type(value) is list else ((None, value),)
        if kind is _PRIMITIVE_EXTENSION:
            # `_birthDate` holds the id and extensions of `birthDate`; ele-1 is the primitive's.
            for index, item in items:
                if type(item) is dict:
                    self.element(item, "Element", (where, name[1:], index), depth, scope)
            return
        for index, item in items:
            if type(item) is not dict:
                continue
            item_where = (where, name, index)
            if kind is _RESOURCE:
                self.nested_resource(child, name, item, item_where, depth, scope)
                continue
            if not native.has_children(item):
                self.report(native.ELE_1[:3], item_where)
            if child.rules:
                self.evaluate(child.rules, Node(item, child.type_key), item_where, scope)
            self.element(item, child.type_key, item_where, depth, scope)

    def nested_resource(
        self, child: ChildPlan, name: str, value: dict[str, Any], where: Location, depth: int, scope: Scope
    ) -> None:
        """A contained resource keeps the outermost resource as its container (%rootResource);
        a resource in a Bundle entry or a Parameters value is a root of its own."""
        if not native.has_children(value):
            self.report(native.ELE_1[:3], where)
        if child.rules:
            self.evaluate(child.rules, Node(value, value.get("resourceType")), where, scope)
        container = scope.variables[CONTAINER_VARIABLE][0] if name == "contained" else None
        self.resource(value, where, depth, container)

    def primitive(
        self, child: ChildPlan, parent: dict[str, Any], name: str, value: Any, where: Location, scope: Scope
    ) -> None:
        """Element rules on primitive values (`ElementDefinition.max` eld-3), each item apart."""
        extensions = parent.get(child.extension_name)
        if type(value) is not list:
            self.evaluate(child.rules, Node(value, child.type_key, extensions), (where, name, None), scope)
            return
        for index, item in enumerate(value):
            extension = extensions[index] if type(extensions) is list and index < len(extensions) else None
            if item is not None or extension is not None:
                self.evaluate(child.rules, Node(item, child.type_key, extension), (where, name, index), scope)

    def evaluate(self, rules: tuple[Rule, ...], focus: Node, where: Location, scope: Scope) -> None:
        for rule in rules:
            verdict = rule.shortcut(focus.value) if rule.shortcut is not None else None
            if verdict is True:
                continue
            if verdict is False or violated(rule, focus, scope):
                self.report((rule.key, rule.severity, rule.human), where)
