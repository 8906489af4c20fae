"""The structure model compiled for validation: one flat table per type key.

`model.TypeDefinition` describes elements as declared; the walker needs, for every property name
that may appear in JSON (`valueQuantity`, `_birthDate`, `resourceType`), everything to check it
with a single dictionary hit: its kind, array-ness, primitive checker, bound value set and Reference
targets. Tables are built on first use and cached for the life of the process.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from functools import cache

from ember.fhir import model
from ember.fhir.validation import primitives

_ELEMENT_KEY = "Element"
_ABSTRACT_RESOURCES = frozenset({"Resource", "DomainResource"})


class Kind(IntEnum):
    """What a JSON property holds, which decides how the walker checks it."""

    PRIMITIVE = 0
    COMPLEX = 1
    CONTAINED = 2  # DomainResource.contained: resources sharing their container's references
    RESOURCE = 3  # Bundle.entry.resource, Parameters.parameter.resource: stand-alone resources
    PRIMITIVE_EXTENSION = 4  # `_birthDate`: the id and extensions of a primitive


@dataclass(frozen=True, slots=True)
class Slot:
    """One property name a JSON object of some type may carry."""

    kind: Kind
    #: max > 1. R4 itself has no finite maximum above 1 nor minimum above 1, so an array's
    #: cardinality is fully checked by its JSON shape and the `required` list of its type.
    is_array: bool
    #: The base name of a choice element (`value` for valueQuantity), None otherwise.
    choice: str | None = None
    check: primitives.Checker | None = None
    #: The other half of a primitive: `_given` for `given` and `given` for `_given`.
    sibling: str | None = None
    children: str | None = None
    #: The value set url of a required binding on a primitive (`code`) or CodeableConcept
    #: element; its codes come from the installed terminology (ember/fhir/terminology_hooks.py).
    binding: str | None = None
    is_reference: bool = False
    #: Resource types a Reference may point to; None when any type will do.
    targets: frozenset[str] | None = None
    #: A single, non-choice primitive: the common case, which the walker checks inline.
    simple: bool = False


@dataclass(frozen=True, slots=True)
class Schema:
    """The slots of one type key and the elements an instance of it must carry."""

    key: str
    slots: dict[str, Slot]
    #: (element name, JSON names any of which satisfies it) for every element with min >= 1.
    required: tuple[tuple[str, tuple[str, ...]], ...]
    #: Whether instances carry `resourceType` (which is not an element, so has no slot).
    is_resource: bool


@cache
def schema(key: str) -> Schema | None:
    """The compiled table of a type name or backbone path; None for an unknown key."""
    definition = model.type_definition(key)
    if definition is None:
        return None
    is_resource = model.is_resource_type(key) or key in _ABSTRACT_RESOURCES
    slots: dict[str, Slot] = {}
    required: list[tuple[str, tuple[str, ...]]] = []
    for element in definition.elements.values():
        names: list[str] = []
        for type_code in element.types:
            json_name = element.base_name + type_code[0].upper() + type_code[1:] if element.is_choice else element.name
            if is_resource and json_name == "id":
                type_code = "id"
            slots[json_name] = _slot(element, type_code)
            names.append(json_name)
            if slots[json_name].kind is Kind.PRIMITIVE and type_code != "xhtml":
                slots["_" + json_name] = _extension_slot(element, json_name)
                names.append("_" + json_name)
        if element.min >= 1:
            required.append((element.base_name, tuple(names)))
    return Schema(key, slots, tuple(required), is_resource)


def _slot(element: model.ElementDefinition, type_code: str) -> Slot:
    choice = element.base_name if element.is_choice else None
    if model.is_primitive(type_code):
        return Slot(
            Kind.PRIMITIVE,
            element.is_array,
            choice=choice,
            check=primitives.checker(type_code),
            sibling="_" + element.name if element.is_array else None,
            binding=element.binding,
            simple=not element.is_array and choice is None,
        )
    if type_code == "Resource":
        kind = Kind.CONTAINED if element.name == "contained" else Kind.RESOURCE
        return Slot(kind, element.is_array)
    targets = frozenset(element.targets) if element.targets and "Resource" not in element.targets else None
    return Slot(
        Kind.COMPLEX,
        element.is_array,
        choice=choice,
        children=element.child_type_key(type_code),
        binding=element.binding if type_code == "CodeableConcept" else None,
        is_reference=type_code == "Reference",
        targets=targets if type_code == "Reference" else None,
    )


def _extension_slot(element: model.ElementDefinition, json_name: str) -> Slot:
    return Slot(
        Kind.PRIMITIVE_EXTENSION,
        element.is_array,
        choice=element.base_name if element.is_choice else None,
        sibling=json_name,
        children=_ELEMENT_KEY,
    )
