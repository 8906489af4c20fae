"""ele-1 and ext-1 coded in Python.

They apply to every element (ele-1) and every extension (ext-1) of every resource: evaluated as
FHIRPath they would be most of the evaluations, and the structural validator enforces only part
of them (it rejects empty objects, empty strings and primitives without value or extensions, but
accepts `{"id": "a"}` and extensions with neither or both of value[x] and nested extensions).
tests/fhir/test_invariants.py proves these functions agree with the FHIRPath expressions on
every node of the Synthea sample and on targeted counter-examples.
"""

from __future__ import annotations

from typing import Any

ELE_1 = (
    "ele-1",
    "error",
    "All FHIR elements must have a @value or children",
    "hasValue() or (children().count() > id.count())",
)
EXT_1 = ("ext-1", "error", "Must have either extensions or value[x], not both", "extension.exists() != value.exists()")

#: Properties that are not children in FHIRPath's sense, or that ele-1 does not count.
_NOT_COUNTED = frozenset({"id", "resourceType"})


def has_children(element: dict[str, Any]) -> bool:
    """ele-1 on a complex element or a contained resource: it must hold something besides its
    id (primitives are left to the structural validator, which enforces ele-1 on them)."""
    for name in element:
        if name not in _NOT_COUNTED:
            return True
    return False


def extension_is_value_xor_nested(extension: dict[str, Any]) -> bool:
    """ext-1: an extension has either a value[x] (`_valueX` alone counts: a primitive value
    that only carries extensions) or nested extensions, never both nor neither."""
    has_value = False
    for name in extension:
        if name.startswith("value") or name.startswith("_value"):
            has_value = True
            break
    return ("extension" in extension) != has_value
