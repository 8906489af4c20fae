"""Moving through FHIR JSON: member access, children() and descendants().

Member access is the hot path of search indexing, so each ``.name`` step is compiled into a
``MemberStep`` that caches, per parent type, how to read the element (plain key, or the keys
of a choice element such as ``valueQuantity``) and which type its items get.
"""

from __future__ import annotations

from typing import Any

from .errors import FhirPathEvaluationError
from .model import FhirModel, Node, fhir_model

_PLAIN, _CHOICE, _UNDEFINED, _UNKNOWN = 0, 1, 2, 3


def _item_type(value: Any, declared: str | None) -> str | None:
    """Resources carry their own type (``contained``, ``Bundle.entry.resource``)."""
    if (declared is None or declared == "Resource") and type(value) is dict:
        return value.get("resourceType", declared)
    return declared


def emit(out: list[Any], value: Any, ext: Any, declared: str | None) -> None:
    """Append the items of one JSON member (a value or an array) to ``out`` as nodes."""
    if type(value) is list:
        exts = ext if type(ext) is list else None
        for index, item in enumerate(value):
            item_ext = exts[index] if exts is not None and index < len(exts) else None
            if item is None and item_ext is None:
                continue
            out.append(Node(item, _item_type(item, declared), item_ext))
    elif type(ext) is list:
        for item_ext in ext:
            if item_ext is not None:
                out.append(Node(None, declared, item_ext))
    elif value is not None or ext is not None:
        out.append(Node(value, _item_type(value, declared), ext))


class MemberStep:
    """The compiled ``.name`` step.

    Naming an element that the item's type does not define is an error (it catches
    ``Observation.valueQuantity`` and typos) unless some item defines it, or the items are
    resources reached polymorphically (``Bundle.entry.resource.subject``).
    """

    __slots__ = ("accessors", "ext_key", "model", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.ext_key = "_" + name
        self.model: FhirModel = fhir_model()
        self.accessors: dict[str | None, tuple[int, Any]] = {}

    @staticmethod
    def declared_type(value: Any, declared: str | None) -> str | None:
        """The type an item of an element declared as ``declared`` really has."""
        return _item_type(value, declared)

    def _accessor(self, type_key: str | None) -> tuple[int, Any]:
        entry = self.model.element(type_key, self.name)
        accessor: tuple[int, Any]
        if entry is None:
            accessor = (_UNDEFINED if self.model.knows(type_key) else _UNKNOWN, None)
        elif isinstance(entry[0], list):
            name = self.name
            keys = [(name + t[0].upper() + t[1:], "_" + name + t[0].upper() + t[1:], t) for t in entry[0]]
            accessor = (_CHOICE, keys)
        else:
            accessor = (_PLAIN, entry[0])
        self.accessors[type_key] = accessor
        return accessor

    def __call__(self, focus: list[Any], root: Any) -> list[Any]:
        out: list[Any] = []
        undefined = defined = 0
        for node in focus:
            if type(node) is not Node:
                continue
            value = node.value
            if type(value) is not dict:
                value = node.ext
                if type(value) is not dict:
                    continue
            kind, payload = self.accessors.get(node.type) or self._accessor(node.type)
            if kind < _UNDEFINED:
                defined += 1
            if kind == _PLAIN:
                emit(out, value.get(self.name), value.get(self.ext_key), payload)
            elif kind == _CHOICE:
                for key, ext_key, type_key in payload:
                    if key in value or ext_key in value:
                        emit(out, value.get(key), value.get(ext_key), type_key)
            elif kind == _UNKNOWN:
                self._untyped(out, value)
            elif "resourceType" not in value or value is root:
                undefined += 1
        if undefined and not defined:
            raise FhirPathEvaluationError(f"'{self.name}' is not an element of {self._types(focus)}")
        return out

    def _untyped(self, out: list[Any], value: dict[str, Any]) -> None:
        """No model information: read the key, or a choice key such as ``valueString``."""
        name = self.name
        if name in value or self.ext_key in value:
            emit(out, value.get(name), value.get(self.ext_key), None)
            return
        size = len(name)
        for key, item in value.items():
            if key.startswith(name) and len(key) > size and key[size].isupper():
                emit(out, item, value.get("_" + key), self.model.type_for_suffix(key[size:]))

    def _types(self, focus: list[Any]) -> str:
        names = {self.model.type_name(n.type) for n in focus if type(n) is Node and n.type}
        return ", ".join(sorted(names))


def children(focus: list[Any]) -> list[Any]:
    """Every child element of every item (choice elements under their concrete type)."""
    model = fhir_model()
    out: list[Any] = []
    for node in focus:
        if type(node) is not Node:
            continue
        value = node.value
        if type(value) is not dict:
            if type(node.ext) is dict:
                emit(out, node.ext.get("extension"), None, "Extension")
            continue
        keys = model.json_keys(node.type)
        for key, child in value.items():
            if key == "resourceType" or (key[0] == "_" and key[1:] in value):
                continue
            if key[0] == "_":
                key, child, ext = key[1:], None, child
            else:
                ext = value.get("_" + key)
            declared = keys.get(key, (key, None))[1]
            emit(out, child, ext, declared)
    return out


def descendants(focus: list[Any]) -> list[Any]:
    """All children, recursively (level by level)."""
    out: list[Any] = []
    level = children(focus)
    while level:
        out.extend(level)
        level = children(level)
    return out
