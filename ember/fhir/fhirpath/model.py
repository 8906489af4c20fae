"""What the engine knows of the FHIR R4 model, and the node that carries type information.

Items navigated from a resource are wrapped in ``Node`` so the engine remembers their FHIR type
(``Patient.birthDate`` is a ``date``, ``valueQuantity`` is a ``Quantity``) and the extensions of
primitives, which FHIR JSON keeps in ``_name`` siblings. The table comes from
``fhir_types.json.gz`` (see ``generate_types.py``) and is loaded on first use.
"""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

TABLE_PATH = Path(__file__).with_name("fhir_types.json.gz")
ABSTRACT_RESOURCES = ("Resource", "DomainResource")


class Node:
    """A FHIR element: its JSON value, its type key and its ``_name`` sibling (extensions).

    ``type`` is a type name (``HumanName``), a backbone element path (``Patient.contact``) or
    None when unknown. ``value`` is None for a primitive that only has extensions.
    """

    __slots__ = ("ext", "type", "value")

    def __init__(self, value: Any, type_key: str | None, ext: Any = None) -> None:
        self.value = value
        self.type = type_key
        self.ext = ext

    def __repr__(self) -> str:
        return f"Node({self.value!r}, {self.type!r})"


class FhirModel:
    """Element types and the type hierarchy of FHIR R4."""

    def __init__(self, table: dict[str, Any]) -> None:
        self.types: dict[str, dict[str, Any]] = table["types"]
        self._json_keys: dict[str, dict[str, tuple[str, str | None]]] = {}
        self._primitive_by_suffix = {
            name[0].upper() + name[1:]: name for name, entry in self.types.items() if entry["kind"] == "primitive-type"
        }

    def element(self, type_key: str | None, name: str) -> list[Any] | None:
        """``[type_key | [choice types], repeats]`` of element ``name``, or None."""
        entry = self.types.get(type_key) if type_key else None
        return entry["elements"].get(name) if entry else None

    def knows(self, type_key: str | None) -> bool:
        """True when ``type_key`` is in the table (so undefined elements can be reported)."""
        return type_key is not None and type_key in self.types

    def type_name(self, type_key: str) -> str:
        """The FHIR type name of a type key (backbone paths are ``BackboneElement``)."""
        if "." in type_key:
            return self.types[type_key]["base"] if type_key in self.types else "BackboneElement"
        return type_key

    def is_subtype(self, type_key: str, ancestor: str) -> bool:
        """True when ``type_key`` is ``ancestor`` or derives from it."""
        current: str | None = self.type_name(type_key)
        while current:
            if current == ancestor:
                return True
            entry = self.types.get(current)
            current = entry["base"] if entry else None
        return False

    def is_resource(self, name: str) -> bool:
        """True for concrete and abstract resource type names."""
        entry = self.types.get(name)
        return entry is not None and entry["kind"] == "resource"

    def is_primitive(self, name: str | None) -> bool:
        """True for FHIR primitive types (``string``, ``date``...)."""
        entry = self.types.get(name) if name else None
        return entry is not None and entry["kind"] == "primitive-type"

    def type_for_suffix(self, suffix: str) -> str:
        """The type of a choice element from its JSON key suffix (``String`` -> ``string``)."""
        return self._primitive_by_suffix.get(suffix, suffix)

    def json_keys(self, type_key: str | None) -> dict[str, tuple[str, str | None]]:
        """Map each JSON key of ``type_key`` (``valueQuantity`` too) to (element, type)."""
        if type_key is None or type_key not in self.types:
            return {}
        keys = self._json_keys.get(type_key)
        if keys is None:
            keys = {}
            for name, (child, _) in self.types[type_key]["elements"].items():
                if isinstance(child, list):
                    for choice in child:
                        keys[name + choice[0].upper() + choice[1:]] = (name, choice)
                else:
                    keys[name] = (name, child)
            self._json_keys[type_key] = keys
        return keys


@cache
def fhir_model() -> FhirModel:
    """The R4 model, loaded once from the committed table."""
    with gzip.open(TABLE_PATH) as stream:
        return FhirModel(json.load(stream))


def resource_node(resource: Any) -> Any:
    """Wrap a resource (or any JSON value given as a variable) for evaluation."""
    if isinstance(resource, Node):
        return resource
    if isinstance(resource, dict):
        return Node(resource, resource.get("resourceType"))
    return resource
