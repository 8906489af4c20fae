"""The R4 constraints as compiled rules, indexed by where they apply.

A StructureDefinition constraint sits on an element path. When that path is a type key of the
structure model (a resource type, a datatype, a backbone element such as `Patient.contact` or
`Timing.repeat`) it applies to every node of that type key, wherever it occurs, so the rule of
`Period` follows every Period and the rule of `Questionnaire.item` follows nested items too.
Any other path (`Organization.telecom`, `Narrative.div`, `ElementDefinition.max`) names one
element of a type and applies to that element's values only.

Expressions are compiled on first use of the type that carries them, once per process.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from ember.fhir import model
from ember.fhir.fhirpath.compiler import compile_node
from ember.fhir.fhirpath.errors import FhirPathError
from ember.fhir.fhirpath.syntax import parse
from ember.fhir.invariants.rewrites import REWRITTEN
from ember.fhir.invariants.shortcuts import Shortcut, shortcut_for

_LOG = logging.getLogger(__name__)

#: Checked natively by ember.fhir.invariants.native (they apply to every element, so evaluating
#: them with FHIRPath would be most of the cost); a test proves both agree.
NATIVE_KEYS = frozenset({"ele-1", "ext-1"})

_HTML_CHECKS = (
    "htmlChecks() is a stub in the FHIRPath engine (always true); the structural validator "
    "checks the narrative instead (one <div>, no script/iframe/form/javascript:)"
)

#: Constraints never evaluated, with the reason. tests/fhir/test_invariants.py recomputes this
#: list (htmlChecks() plus every expression that fails to compile or always raises in the engine)
#: and fails when it drifts.
SKIPPED: dict[str, str] = {
    "txt-1": _HTML_CHECKS,
    "txt-2": _HTML_CHECKS,
    "cid-0": "R4 definition error: inherited from MetadataResource, it tests `name`, which "
    "ChargeItemDefinition does not have, so it raises on every ChargeItemDefinition",
}

#: R4 (4.0.1) defines %rootResource as the resource that contains a contained resource, but the
#: engine answers it with %resource; rules read it from a variable of this name instead.
CONTAINER_VARIABLE = "emberContainerResource"
_ROOT_RESOURCE = re.compile(r"%rootResource\b")

#: A compiled expression: (focus collection, evaluation context) -> result collection.
Closure = Callable[[list[Any], Any], list[Any]]


@dataclass(frozen=True, slots=True)
class Rule:
    """One constraint, ready to evaluate on a node."""

    key: str
    severity: str
    human: str
    expression: str
    closure: Closure
    #: A cheap verdict from the focus JSON alone (see shortcuts.py), None when there is none.
    shortcut: Shortcut | None = None


def compile_expression(expression: str, key: str = "") -> Closure:
    """Compile a constraint expression (its rewrite, if it has one); raises FhirPathError when
    the engine cannot."""
    original, rewrite = REWRITTEN.get(key, ("", ""))
    if expression == original:
        expression = rewrite
    return compile_node(parse(_ROOT_RESOURCE.sub("%" + CONTAINER_VARIABLE, expression)))


@cache
def _constraints_by_path(type_name: str) -> dict[str, tuple[tuple[str, str, str, str], ...]]:
    """The constraints of one StructureDefinition by element path: (key, severity, human,
    expression), natively checked keys left out. Paths start with the type name, so the rules
    of `Patient.contact` are found in the list of `Patient`."""
    index: dict[str, list[tuple[str, str, str, str]]] = {}
    for path, key, severity, human, expression in model.constraints(type_name):
        if key not in NATIVE_KEYS:
            index.setdefault(path, []).append((key, severity, human, expression))
    return {path: tuple(rows) for path, rows in index.items()}


def reachable_type_keys() -> frozenset[str]:
    """Every type key a resource can hold: resource types, the datatypes and backbone elements
    reachable from them (what the walk can meet, so what a full compile must cover)."""
    pending = list(model.resource_types())
    seen: set[str] = set(pending)
    while pending:
        definition = model.type_definition(pending.pop())
        for element, type_code in definition.by_json_name.values() if definition else ():
            child = element.child_type_key(type_code)
            if child not in seen and model.type_definition(child) is not None:
                seen.add(child)
                pending.append(child)
    return frozenset(seen)


def all_constraints() -> list[tuple[str, str, str]]:
    """(path, key, expression) of every constraint that applies inside some resource."""
    roots = {key.split(".", 1)[0] for key in reachable_type_keys()}
    return [
        (path, row[0], row[3])
        for root in sorted(roots)
        for path, rows in _constraints_by_path(root).items()
        for row in rows
    ]


@cache
def rules_at(path: str) -> tuple[Rule, ...]:
    """The compiled rules declared on `path` (a type key or `Type.element`), skips left out."""
    rules = []
    for key, severity, human, expression in _constraints_by_path(path.split(".", 1)[0]).get(path, ()):
        if key in SKIPPED:
            continue
        try:
            closure = compile_expression(expression, key)
        except FhirPathError as error:
            _LOG.warning("constraint %s on %s is skipped: it does not compile (%s)", key, path, error)
            continue
        rules.append(Rule(key, severity, human, expression, closure, shortcut_for(path, key, expression)))
    return tuple(rules)
