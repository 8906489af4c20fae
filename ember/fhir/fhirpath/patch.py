"""FHIRPath Patch (FHIR R4, fhirpatch.html): apply a Parameters body to a resource.

Each ``operation`` parameter has parts ``type`` (add, insert, delete, replace, move), ``path``
(FHIRPath), and ``name``/``value``/``index``/``source``/``destination`` as the type needs.
To change the JSON in place the engine must know *where* each element the path selects lives:
the path's last member step is evaluated as candidate items whose location (container, key,
index) is recorded, and any trailing filters (``where()``, ``[n]``, ``first()``...) are then
run on exactly those items, so what they keep can be mapped back to a location.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Any

from .compiler import compile_node
from .context import Context
from .errors import FhirPathError
from .model import Node, fhir_model, resource_node
from .navigation import MemberStep
from .syntax import Call, Expr, Index, Member, Special, parse

OPERATION_TYPES = ("add", "insert", "delete", "replace", "move")


class FhirPathPatchError(FhirPathError):
    """An invalid patch; ``expression`` locates the culprit inside the Parameters body."""

    def __init__(self, message: str, expression: str) -> None:
        super().__init__(f"{message} ({expression})")
        self.message = message
        self.expression = expression


@dataclass(frozen=True)
class Location:
    """Where an element lives: ``container[key]`` or ``container[key][index]``."""

    container: dict[str, Any]
    key: str
    index: int | None


@dataclass
class Operation:
    """One decoded ``operation`` parameter."""

    type: str
    path: str
    where: str
    parts: dict[str, tuple[int, dict[str, Any]]]


def apply_fhirpath_patch(resource: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """Return a patched copy of ``resource``; raises ``FhirPathPatchError`` on invalid patches."""
    if parameters.get("resourceType") != "Parameters":
        raise FhirPathPatchError("a FHIRPath Patch must be a Parameters resource", "Parameters")
    patched = copy.deepcopy(resource)
    for position, parameter in enumerate(parameters.get("parameter") or ()):
        where = f"Parameters.parameter[{position}]"
        if parameter.get("name") != "operation":
            raise FhirPathPatchError("every parameter must be named 'operation'", where)
        _apply(patched, _decode(parameter, where))
    return patched


def _decode(parameter: dict[str, Any], where: str) -> Operation:
    parts: dict[str, tuple[int, dict[str, Any]]] = {}
    for position, part in enumerate(parameter.get("part") or ()):
        parts[part.get("name", "")] = (position, part)
    kind = _part_value(parts, "type", where)
    if kind not in OPERATION_TYPES:
        raise FhirPathPatchError(f"unknown operation type {kind!r}", _part_where(parts, "type", where))
    path = _part_value(parts, "path", where)
    if not isinstance(path, str) or not path:
        raise FhirPathPatchError("the operation has no path", where)
    return Operation(kind, path, where, parts)


def _part_where(parts: dict[str, tuple[int, dict[str, Any]]], name: str, where: str) -> str:
    return f"{where}.part[{parts[name][0]}]" if name in parts else where


def _part_value(parts: dict[str, tuple[int, dict[str, Any]]], name: str, where: str) -> Any:
    if name not in parts:
        raise FhirPathPatchError(f"the operation has no '{name}' part", where)
    value, _ = _value_of(parts[name][1])
    return value


def _value_of(part: dict[str, Any]) -> tuple[Any, str | None]:
    """The value of a part and its type suffix (``valueCoding`` -> ``Coding``)."""
    for key, value in part.items():
        if key.startswith("value") and len(key) > 5:
            return value, key[5:]
    if "resource" in part:
        return part["resource"], None
    if "part" in part:
        complex_value: dict[str, Any] = {}
        for sub in part["part"]:
            value, _ = _value_of(sub)
            name = sub.get("name", "")
            if name in complex_value:
                existing = complex_value[name]
                complex_value[name] = existing if isinstance(existing, list) else [existing]
                complex_value[name].append(value)
            else:
                complex_value[name] = value
        return complex_value, None
    return None, None


def _index_part(operation: Operation, name: str) -> int:
    value = _part_value(operation.parts, name, operation.where)
    if type(value) is not int:
        raise FhirPathPatchError(f"'{name}' must be an integer", _part_where(operation.parts, name, operation.where))
    return value


def _apply(resource: dict[str, Any], operation: Operation) -> None:
    try:
        handler = _HANDLERS[operation.type]
        handler(resource, operation)
    except FhirPathPatchError:
        raise
    except FhirPathError as error:
        raise FhirPathPatchError(str(error), _part_where(operation.parts, "path", operation.where)) from error


def _locate(resource: dict[str, Any], path: str) -> list[Location]:
    """The locations of the elements ``path`` selects (the root: a one-key pseudo container)."""
    tree = parse(path)
    member = tree
    while isinstance(member, (Call, Index)):
        member = member.source  # type: ignore[assignment]
    if member is tree and isinstance(member, Member) and member.source is None:
        return [Location({"": resource}, "", None)] if _evaluate(tree, resource, None) else []
    if not isinstance(member, Member) or member.source is None:
        raise FhirPathPatchError(f"path {path!r} does not select an element", path)
    parents = _evaluate(member.source, resource, None)
    candidates, locations = _candidates(parents, member.name)
    targets = candidates if member is tree else _evaluate(_rebase(tree, member), resource, candidates)
    return [locations[id(target)] for target in targets if id(target) in locations]


def _rebase(tree: Expr, member: Member) -> Expr:
    """The trailing filters of ``tree``, applied to ``$this`` instead of ``member``."""
    if tree is member:
        return Special("$this")
    if not isinstance(tree, (Call, Index)) or tree.source is None:
        raise FhirPathPatchError("unsupported path shape", repr(tree))
    return replace(tree, source=_rebase(tree.source, member))


def _evaluate(tree: Expr, resource: dict[str, Any], focus: list[Any] | None) -> list[Any]:
    ctx = Context(resource_node(resource), {})
    if focus is not None:
        ctx.this = focus
    return compile_node(tree)(ctx.this, ctx)


def _candidates(parents: list[Any], name: str) -> tuple[list[Any], dict[int, Location]]:
    """Every item of member ``name`` of the parents, with its location."""
    model = fhir_model()
    candidates: list[Any] = []
    locations: dict[int, Location] = {}
    for parent in parents:
        if type(parent) is not Node or type(parent.value) is not dict:
            continue
        keys = model.json_keys(parent.type)
        for key, value in parent.value.items():
            if key != name and keys.get(key, ("",))[0] != name:
                continue
            declared = keys.get(key, (name, None))[1]
            items = value if isinstance(value, list) else [value]
            for index, item in enumerate(items):
                node = Node(item, MemberStep.declared_type(item, declared))
                candidates.append(node)
                locations[id(node)] = Location(parent.value, key, index if isinstance(value, list) else None)
    return candidates, locations


def _single(resource: dict[str, Any], operation: Operation) -> Location:
    locations = _locate(resource, operation.path)
    if len(locations) != 1:
        raise FhirPathPatchError(
            f"path {operation.path!r} must select exactly one element, selected {len(locations)}",
            _part_where(operation.parts, "path", operation.where),
        )
    return locations[0]


def _list_at(resource: dict[str, Any], operation: Operation, create: bool) -> list[Any]:
    """The list a path names (insert/move), created empty for an insert when absent."""
    tree = parse(operation.path)
    where = _part_where(operation.parts, "path", operation.where)
    if not isinstance(tree, Member) or tree.source is None:
        raise FhirPathPatchError("insert/move need a path to a repeating element", where)
    parents = [p for p in _evaluate(tree.source, resource, None) if type(p.value) is dict]
    if len(parents) != 1:
        raise FhirPathPatchError(f"path {operation.path!r} must have exactly one parent", where)
    container = parents[0].value
    current = container.get(tree.name)
    if current is None and create:
        current = container[tree.name] = []
    if not isinstance(current, list):
        raise FhirPathPatchError(f"path {operation.path!r} is not a list", where)
    return current


def _add(resource: dict[str, Any], operation: Operation) -> None:
    location = _single(resource, operation)
    target = _location_value(location)
    name = _part_value(operation.parts, "name", operation.where)
    value, suffix = _value_of(operation.parts["value"][1]) if "value" in operation.parts else (None, None)
    if not isinstance(target, dict) or value is None:
        raise FhirPathPatchError("add needs a complex target and a value", operation.where)
    entry = fhir_model().element(_target_type(resource, operation.path), name)
    key = name + suffix if entry is not None and isinstance(entry[0], list) and suffix else name
    if (entry is not None and entry[1]) or isinstance(target.get(key), list):
        target.setdefault(key, []).append(value)
    elif key in target:
        raise FhirPathPatchError(f"element {key!r} already has a value", operation.where)
    else:
        target[key] = value


def _target_type(resource: dict[str, Any], path: str) -> str | None:
    nodes = _evaluate(parse(path), resource, None)
    return nodes[0].type if nodes and type(nodes[0]) is Node else None


def _location_value(location: Location) -> Any:
    value = location.container[location.key]
    return value if location.index is None else value[location.index]


def _insert(resource: dict[str, Any], operation: Operation) -> None:
    index = _index_part(operation, "index")
    value = _part_value(operation.parts, "value", operation.where)
    items = _list_at(resource, operation, create=True)
    if not 0 <= index <= len(items):
        raise FhirPathPatchError(
            f"index {index} is out of range", _part_where(operation.parts, "index", operation.where)
        )
    items.insert(index, value)


def _delete(resource: dict[str, Any], operation: Operation) -> None:
    locations = _locate(resource, operation.path)
    if not locations:
        return
    if len(locations) > 1:
        raise FhirPathPatchError(
            f"path {operation.path!r} selects {len(locations)} elements",
            _part_where(operation.parts, "path", operation.where),
        )
    location = locations[0]
    container, key = location.container, location.key
    if location.index is None:
        container.pop(key, None)
        container.pop("_" + key, None)
        return
    container[key].pop(location.index)
    extensions = container.get("_" + key)
    if isinstance(extensions, list) and location.index < len(extensions):
        extensions.pop(location.index)
    if not container[key]:
        container.pop(key)
        container.pop("_" + key, None)


def _replace(resource: dict[str, Any], operation: Operation) -> None:
    location = _single(resource, operation)
    value = _part_value(operation.parts, "value", operation.where)
    if location.index is None:
        location.container[location.key] = value
    else:
        location.container[location.key][location.index] = value


def _move(resource: dict[str, Any], operation: Operation) -> None:
    source = _index_part(operation, "source")
    destination = _index_part(operation, "destination")
    items = _list_at(resource, operation, create=False)
    for name, index in (("source", source), ("destination", destination)):
        if not 0 <= index < len(items):
            raise FhirPathPatchError(
                f"{name} index {index} is out of range", _part_where(operation.parts, name, operation.where)
            )
    items.insert(destination, items.pop(source))


_HANDLERS = {"add": _add, "insert": _insert, "delete": _delete, "replace": _replace, "move": _move}
