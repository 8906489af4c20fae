"""A fast lane for plain paths, the bulk of search-parameter expressions.

``Observation.subject``, ``(Observation.value as CodeableConcept).text``, the resource itself,
``Observation.subject.where(resolve() is Patient)`` and unions of such paths need no FHIRPath
machinery: with the root type known, the model tells at compile time which JSON keys each step
reads (``value`` as Quantity reads ``valueQuantity``). The lane walks the dicts directly and
returns the same plain values the general engine would. Anything it cannot decide statically
(polymorphic resources, primitives with ``_name`` extensions, undefined elements that must
raise, contained references) returns ``None`` so the caller uses the general engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .functions.resolve import LITERAL_REFERENCE
from .model import fhir_model
from .syntax import Binary, Call, Expr, Member, TypeOp

PlainPath = Callable[[Any], "list[Any] | None"]
_FALLBACK = None


def plan(tree: Expr) -> PlainPath | None:
    """A fast evaluator for ``tree``, or None when it is not a plain path or union of them."""
    if isinstance(tree, Binary) and tree.op == "|":
        left, right = plan(tree.left), plan(tree.right)
        return None if left is None or right is None else _union(left, right)
    target = _resolved_type(tree)
    if target is not None:
        assert isinstance(tree, Call) and tree.source is not None
        references = plan(tree.source)
        return None if references is None else _resolving_to(references, target)
    chain = _chain(tree)
    if chain is None:
        return None
    root_type, names = chain
    steps = _static_steps(root_type, names)
    return None if steps is None else _walker(root_type, steps)


def root_keys(tree: Expr) -> frozenset[str] | None:
    """The top-level JSON keys a plain path (or union of them) can read first, so a caller can
    tell it is empty on a resource that has none of them without evaluating it; None when the
    expression is not a plain path."""
    if isinstance(tree, Binary) and tree.op == "|":
        left, right = root_keys(tree.left), root_keys(tree.right)
        return None if left is None or right is None else left | right
    if _resolved_type(tree) is not None:
        assert isinstance(tree, Call) and tree.source is not None
        return root_keys(tree.source)
    chain = _chain(tree)
    if chain is None:
        return None
    steps = _static_steps(*chain)
    return None if not steps else frozenset(steps[0])


def element_types(tree: Expr) -> frozenset[str] | None:
    """The model types of the elements a plain path (or union of them) yields: a composite
    parameter's `Observation | Observation.component` yields `Observation` and
    `Observation.component` elements; None when it is not a plain path."""
    if isinstance(tree, Binary) and tree.op == "|":
        left, right = element_types(tree.left), element_types(tree.right)
        return None if left is None or right is None else left | right
    chain = _chain(tree)
    walked = None if chain is None else _static_walk(*chain)
    return None if walked is None else frozenset(walked[1])


def relative_root_keys(tree: Expr, context_types: frozenset[str]) -> frozenset[str] | None:
    """The JSON keys an expression evaluated on an element of one of `context_types` reads
    first: with none of them the result is empty (a component `value.as(Quantity)` of an
    Observation or of its `component` reads `valueQuantity`). None when that cannot be told
    statically: a root that is not an element name, a step other than a path, a filter or a
    cast, or a cast that matches none of the element's types."""
    if isinstance(tree, Binary) and tree.op == "|":
        left, right = relative_root_keys(tree.left, context_types), relative_root_keys(tree.right, context_types)
        return None if left is None or right is None else left | right
    first = _first_step(tree)
    if first is None:
        return None
    keys: set[str] = set()
    for context_type in context_types:
        walked = _static_walk(context_type, [first])
        if walked is None or not walked[0][0]:
            return None
        keys.update(walked[0][0])
    return frozenset(keys)


#: Functions that keep only some of their input (or its items as another type): applied to an
#: empty collection they give an empty one.
_NARROWING = frozenset({"as", "ofType", "where", "first"})


def _first_step(tree: Expr) -> tuple[str, str | None] | None:
    """(element name, type it is cast to) of the step a relative path starts with."""
    cast: str | None = None
    while True:
        if isinstance(tree, Member) and tree.source is None:
            return tree.name, cast
        if isinstance(tree, TypeOp) and tree.op == "as":
            cast, tree = tree.type.name, tree.operand
        elif isinstance(tree, Call) and tree.name in _NARROWING and tree.source is not None:
            argument = tree.args[0] if tree.name in ("as", "ofType") and len(tree.args) == 1 else None
            cast = argument.name if isinstance(argument, Member) and argument.source is None else None
            tree = tree.source
        elif isinstance(tree, Member) and tree.source is not None:
            cast, tree = None, tree.source
        else:
            return None


def _chain(tree: Expr) -> tuple[str, list[tuple[str, str | None]]] | None:
    """(root resource type, [(element name, type it is cast to with `as`, if any)...])."""
    names: list[tuple[str, str | None]] = []
    cast: str | None = None
    while True:
        if isinstance(tree, TypeOp) and tree.op == "as" and tree.type.namespace in (None, "FHIR") and cast is None:
            cast, tree = tree.type.name, tree.operand
        elif isinstance(tree, Member) and tree.source is not None:
            names.append((tree.name, cast))
            cast, tree = None, tree.source
        else:
            break
    model = fhir_model()
    if not (isinstance(tree, Member) and cast is None and model.is_resource(tree.name)):
        return None
    if tree.name in ("Resource", "DomainResource"):
        return None
    return tree.name, names[::-1]


def _resolved_type(tree: Expr) -> str | None:
    """T for ``path.where(resolve() is T)`` (how search parameters pick references to one
    type), when T is a concrete resource type; None for anything else."""
    if not (isinstance(tree, Call) and tree.name == "where" and tree.source is not None and len(tree.args) == 1):
        return None
    test = tree.args[0]
    if not (isinstance(test, TypeOp) and test.op == "is" and test.type.namespace in (None, "FHIR")):
        return None
    if test.operand != Call(None, "resolve", ()):
        return None
    name = test.type.name
    return name if fhir_model().is_resource(name) and name not in ("Resource", "DomainResource") else None


def _static_steps(root_type: str, names: list[tuple[str, str | None]]) -> list[tuple[str, ...]] | None:
    """The JSON keys each step reads, or None when the path is not statically plain."""
    walked = _static_walk(root_type, names)
    return None if walked is None else walked[0]


def _static_walk(root_type: str, names: list[tuple[str, str | None]]) -> tuple[list[tuple[str, ...]], set[str]] | None:
    """The JSON keys each step reads and the types the last step yields, or None when the path
    is not statically plain."""
    model = fhir_model()
    types, steps = {root_type}, []
    for name, as_type in names:
        keys: list[str] = []
        next_types: set[str] = set()
        for type_key in types:
            entry = model.element(type_key, name)
            if entry is None or model.is_primitive(type_key):
                return None
            children = entry[0] if isinstance(entry[0], list) else [entry[0]]
            for child in children:
                if as_type is not None and not _is_as(child, as_type):
                    continue
                keys.append(name + child[0].upper() + child[1:] if entry[0] is children else name)
                next_types.add(child)
        if "Resource" in next_types:
            return None
        steps.append(tuple(dict.fromkeys(keys)))
        types = next_types
    return steps, types


def _is_as(actual: str, wanted: str) -> bool:
    model = fhir_model()
    if model.is_primitive(wanted):
        return actual == wanted
    return model.is_subtype(actual, wanted)


def _walker(root_type: str, steps: list[tuple[str, ...]]) -> PlainPath:
    last_index = len(steps) - 1

    def walk(resource: Any) -> list[Any] | None:
        if type(resource) is not dict:
            return _FALLBACK
        if resource.get("resourceType") != root_type:
            return [] if "resourceType" in resource else _FALLBACK
        current = [resource]
        for index, keys in enumerate(steps):
            found: list[Any] = []
            for item in current:
                if type(item) is not dict:
                    continue
                for key in keys:
                    value = item.get(key)
                    if index == last_index and "_" + key in item:
                        return _FALLBACK
                    if value is None:
                        continue
                    if type(value) is list:
                        if None in value:
                            return _FALLBACK
                        found.extend(value)
                    else:
                        found.append(value)
            current = found
        return current

    return walk


def _resolving_to(references: PlainPath, target: str) -> PlainPath:
    """Keep the references whose literal target is a `target` (resolve() makes a stub of that
    type for them; see functions/resolve.py). A contained (`#id`) reference needs the real
    resolve(), and a Bundle root its entries: the general engine takes those."""

    def keep(resource: Any) -> list[Any] | None:
        found = references(resource)
        if found is None or resource.get("resourceType") == "Bundle":
            return _FALLBACK
        kept = []
        for item in found:
            reference = item.get("reference") if type(item) is dict else item
            if type(reference) is not str or not reference:
                continue
            if reference.startswith("#"):
                return _FALLBACK
            match = LITERAL_REFERENCE.search(reference)
            if match is not None and match.group(1) == target:
                kept.append(item)
        return kept

    return keep


def _union(left: PlainPath, right: PlainPath) -> PlainPath:
    def union(resource: Any) -> list[Any] | None:
        first, second = left(resource), right(resource)
        if first is None or second is None:
            return _FALLBACK
        return _distinct(first + second)

    return union


def _distinct(values: list[Any]) -> list[Any]:
    """Remove duplicates by JSON equality (a bool never equals a number)."""
    out: list[Any] = []
    seen: set[tuple[type, Any]] = set()
    for value in values:
        if isinstance(value, (dict, list)):
            if any(type(value) is type(other) and value == other for other in out):
                continue
        else:
            key = (bool if type(value) is bool else str if type(value) is str else float, value)
            if key in seen:
                continue
            seen.add(key)
        out.append(value)
    return out
