"""What the walk does at a node of each type key, worked out once per type key.

A plan lists the rules of the type and, for each JSON property, what to do with its values:
descend into a complex element, start a new resource (`contained`, `Bundle.entry.resource`),
or evaluate element rules on primitive values (`ElementDefinition.max`). Properties of no
interest (primitives without rules) are left out, so the walk skips them with one dict miss.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from functools import cache

from ember.fhir import model
from ember.fhir.invariants.rules import Rule, rules_at

_RESOURCE_TYPE_CODES = frozenset({"Resource", "DomainResource"})


class ChildKind(Enum):
    COMPLEX = "complex"
    PRIMITIVE = "primitive"
    RESOURCE = "resource"
    #: `_name` sibling of a primitive: its id and extensions, walked as an Element.
    PRIMITIVE_EXTENSION = "primitive-extension"


@dataclass(frozen=True, slots=True)
class ChildPlan:
    kind: ChildKind
    #: The type key of the values (a resource's own type is read from the value).
    type_key: str
    #: Rules declared on this element of the parent (`Organization.telecom` org-3).
    rules: tuple[Rule, ...] = ()
    #: For primitives: the JSON name of the `_name` sibling holding their extensions.
    extension_name: str = ""


@dataclass(frozen=True, slots=True)
class TypePlan:
    type_key: str
    rules: tuple[Rule, ...]
    is_extension: bool
    children: dict[str, ChildPlan] = field(default_factory=dict)


@cache
def type_plan(type_key: str) -> TypePlan | None:
    """The plan of a type key, None for a key the structure model does not know."""
    definition = model.type_definition(type_key)
    if definition is None:
        return None
    children: dict[str, ChildPlan] = {}
    for json_name, (element, type_code) in definition.by_json_name.items():
        path = f"{type_key}.{element.name}"
        if type_code in _RESOURCE_TYPE_CODES:
            children[json_name] = ChildPlan(ChildKind.RESOURCE, type_code, rules_at(path))
        elif model.is_primitive(type_code):
            children["_" + json_name] = ChildPlan(ChildKind.PRIMITIVE_EXTENSION, "Element")
            if rules_at(path):
                children[json_name] = ChildPlan(ChildKind.PRIMITIVE, type_code, rules_at(path), "_" + json_name)
        else:
            child_key = element.child_type_key(type_code)
            # A backbone element's path is its own type key: its rules come with the type.
            element_rules = rules_at(path) if path != child_key else ()
            children[json_name] = ChildPlan(ChildKind.COMPLEX, child_key, element_rules)
    return TypePlan(type_key, rules_at(type_key), type_key == "Extension", children)
