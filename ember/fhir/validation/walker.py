"""The walk over one resource that collects every structural issue.

Speed matters (validation runs on every write), so the walk allocates almost nothing while the
resource is valid: the location of an object is a parent-chain tuple `(parent, key, index)`, one
per object visited, and the FHIRPath text (`Patient.name[0].given[1]`) is only built when an
issue is reported. Recursion is bounded by MAX_DEPTH object levels (the walk never descends into
properties it does not know), so hostile input cannot exhaust the stack, and the number of
issues is capped so that a million bad array items cannot build a million-issue outcome.
"""

from __future__ import annotations

from typing import Any

from ember.fhir import model, terminology_hooks
from ember.fhir.outcome import Issue
from ember.fhir.validation import references
from ember.fhir.validation.primitives import json_kind, preview
from ember.fhir.validation.schema import Kind, Schema, Slot, schema

#: Deepest object nesting accepted; real resources stay under 15 (Questionnaire items nest most).
MAX_DEPTH = 64
#: Issues collected before the walk gives up on a resource.
MAX_ISSUES = 1000

#: (parent node, property name, array index or None): where an object sits in the resource.
Node = tuple[Any, str, int | None]

_PRIMITIVE = Kind.PRIMITIVE
_COMPLEX = Kind.COMPLEX
_CONTAINED = Kind.CONTAINED
_PRIMITIVE_EXTENSION = Kind.PRIMITIVE_EXTENSION


class TooManyIssues(Exception):
    """Raised inside the walk once MAX_ISSUES issues are collected, to stop it early."""


def location(node: Node | None, key: str | None = None, index: int | None = None) -> str:
    """The FHIRPath of `key[index]` inside the object at `node` (of the object itself when key
    is None). `_given` is reported as `given`: its extensions belong to that element."""
    parts = [] if key is None else [_segment(key, index)]
    while node is not None:
        node, node_key, node_index = node
        parts.append(_segment(node_key, node_index))
    return ".".join(reversed(parts))


def _segment(key: Any, index: int | None) -> str:
    name = key[1:] if isinstance(key, str) and key.startswith("_") else str(key)
    return name if index is None else f"{name}[{index}]"


class Walker:
    """Collects the issues of one resource (and of the resources it contains or bundles)."""

    __slots__ = ("allowed_codes", "issues", "local_references")

    def __init__(self) -> None:
        self.issues: list[Issue] = []
        #: (fragment, node of the Reference) of every `#id` reference in the current resource.
        self.local_references: list[tuple[str, Node]] = []
        #: The codes of a required binding, from the installed terminology service.
        self.allowed_codes = terminology_hooks.installed().allowed_codes

    def report(
        self, code: str, message: str, node: Node | None, key: str | None = None, index: int | None = None
    ) -> None:
        self.issues.append(Issue(code=code, diagnostics=message, expression=(location(node, key, index),)))
        if len(self.issues) >= MAX_ISSUES:
            raise TooManyIssues

    def resource(self, value: dict[str, Any], node: Node, depth: int, contained: bool = False) -> None:
        """Check a resource: its type, its elements, and (unless contained, when the container
        does it) that each `#id` reference names one of its contained resources."""
        resource_type = value.get("resourceType")
        if resource_type is None:
            self.report("required", "resourceType is missing", node)
            return
        if type(resource_type) is not str or not model.is_resource_type(resource_type):
            self.report("structure", f"{preview(resource_type)} is not a known concrete resource type", node)
            return
        resource_schema = schema(resource_type)
        assert resource_schema is not None  # every concrete resource type has a table
        if contained:
            self.contained_rules(value, node)
            self.walk(value, resource_schema, node, depth)
            return
        outer_references, self.local_references = self.local_references, []
        try:
            self.walk(value, resource_schema, node, depth)
            self.resolve_local_references(value)
        finally:
            self.local_references = outer_references

    def contained_rules(self, value: dict[str, Any], node: Node) -> None:
        if "contained" in value:
            self.report("invalid", "A contained resource must not contain resources (dom-2)", node, "contained")
        if "id" not in value:
            self.report("required", "A contained resource must have an id to be referenced by", node, "id")

    def resolve_local_references(self, value: dict[str, Any]) -> None:
        if not self.local_references:
            return
        contained = value.get("contained")
        items = contained if type(contained) is list else []
        ids = {item["id"] for item in items if type(item) is dict and type(item.get("id")) is str}
        for fragment, node in self.local_references:
            if fragment and fragment not in ids:
                self.report("invalid", f"No contained resource has the id '{fragment}'", node, "reference")

    def walk(self, obj: dict[str, Any], table: Schema, node: Node, depth: int) -> None:
        """Check every property of `obj`, an instance of the type key `table` describes."""
        slots = table.slots
        choices: dict[str, str] | None = None
        for key, value in obj.items():
            slot = slots.get(key)
            if slot is None:
                if key != "resourceType" or not table.is_resource:
                    self.report("structure", f"Unknown element {preview(key)} in {table.key}", node, key)
            elif slot.simple:
                problem = slot.check(value)  # type: ignore[misc]
                if problem is not None:
                    self.primitive_problem(value, problem, node, key)
                elif slot.binding is not None:
                    self.bound_code(value, slot, node, key, None)
            else:
                if slot.choice is not None:
                    choices = self.one_choice(choices, slot.choice, key, node)
                if value is None:
                    self.report("structure", "null is not a valid value in FHIR JSON: omit the element", node, key)
                elif slot.kind is _PRIMITIVE_EXTENSION:
                    self.primitive_extension(obj, value, slot, node, key, depth)
                elif slot.is_array:
                    self.array(obj, value, slot, node, key, depth)
                elif type(value) is list:
                    self.report("structure", f"'{key}' holds a single value, not an array", node, key)
                else:
                    self.item(obj, value, slot, node, key, None, depth)
        for name, alternatives in table.required:
            for alternative in alternatives:
                if alternative in obj:
                    break
            else:
                self.report("required", f"'{name}' is required (minimum cardinality 1)", node, name)

    def primitive_problem(self, value: Any, problem: tuple[str, str], node: Node, key: str) -> None:
        if value is None:
            self.report("structure", "null is not a valid value in FHIR JSON: omit the element", node, key)
        elif type(value) is list:
            self.report("structure", f"'{key}' holds a single value, not an array", node, key)
        else:
            self.report(problem[0], problem[1], node, key)

    def one_choice(self, choices: dict[str, str] | None, base: str, key: str, node: Node) -> dict[str, str]:
        """Record `key` as the type chosen for `base[x]`; a second type is an error."""
        if choices is None:
            return {base: key.lstrip("_")}
        chosen = choices.setdefault(base, key.lstrip("_"))
        if chosen != key.lstrip("_"):
            self.report("structure", f"Only one type of {base}[x] is allowed, found {chosen} and {key}", node, key)
        return choices

    def array(self, obj: dict[str, Any], value: Any, slot: Slot, node: Node, key: str, depth: int) -> None:
        if type(value) is not list:
            self.report("structure", f"'{key}' can repeat: FHIR JSON requires an array", node, key)
            return
        if not value:
            self.report("structure", "Empty arrays are not valid in FHIR JSON: omit the element", node, key)
            return
        if slot.kind is not _COMPLEX or depth >= MAX_DEPTH:
            for index, item in enumerate(value):
                self.item(obj, item, slot, node, key, index, depth)
            return
        table = schema(slot.children)
        for index, item in enumerate(value):
            if type(item) is dict and item:
                child_node = (node, key, index)
                self.walk(item, table, child_node, depth + 1)  # type: ignore[arg-type]
                if slot.is_reference:
                    self.reference(item, slot, child_node)
                elif slot.binding is not None:
                    self.codings(item, slot, child_node)
            else:
                self.item(obj, item, slot, node, key, index, depth)

    def item(
        self, obj: dict[str, Any], value: Any, slot: Slot, node: Node, key: str, index: int | None, depth: int
    ) -> None:
        """Check one value (a single element's value or one array item) of any kind but
        primitive extensions, which are checked as a whole array by `primitive_extension`."""
        kind = slot.kind
        if kind is _PRIMITIVE:
            self.primitive_item(obj, value, slot, node, key, index)
        elif type(value) is not dict:
            self.report("structure", f"Expected a JSON object, found a JSON {json_kind(value)}", node, key, index)
        elif not value:
            self.report("structure", "Empty objects are not valid in FHIR JSON: omit the element", node, key, index)
        elif depth >= MAX_DEPTH:
            self.report("structure", f"Nested deeper than {MAX_DEPTH} levels", node, key, index)
        elif kind is _COMPLEX:
            child_node = (node, key, index)
            self.walk(value, schema(slot.children), child_node, depth + 1)  # type: ignore[arg-type]
            if slot.is_reference:
                self.reference(value, slot, child_node)
            elif slot.binding is not None:
                self.codings(value, slot, child_node)
        else:
            self.resource(value, (node, key, index), depth + 1, contained=kind is _CONTAINED)

    def primitive_item(
        self, obj: dict[str, Any], value: Any, slot: Slot, node: Node, key: str, index: int | None
    ) -> None:
        if value is None:
            extensions = obj.get(slot.sibling) if slot.sibling else None
            if type(extensions) is not list or index is None or index >= len(extensions) or not extensions[index]:
                self.report(
                    "structure", "null is only allowed in an array whose _ twin has extensions there", node, key, index
                )
            return
        problem = slot.check(value)  # type: ignore[misc]
        if problem is not None:
            self.report(problem[0], problem[1], node, key, index)
        elif slot.binding is not None:
            self.bound_code(value, slot, node, key, index)

    def bound_code(self, value: str, slot: Slot, node: Node, key: str, index: int | None) -> None:
        allowed = self.allowed_codes(slot.binding)  # type: ignore[arg-type]
        if allowed is not None and not allowed.contains(None, value):
            message = f"'{value[:100]}' is not in the required value set {slot.binding}"
            self.report("code-invalid", message, node, key, index)

    def primitive_extension(
        self, obj: dict[str, Any], value: Any, slot: Slot, node: Node, key: str, depth: int
    ) -> None:
        """`_name`: the id and extensions of primitive `name`, an object or (for repeating
        elements) an array aligned with the values, null where a value has none."""
        values = obj.get(slot.sibling)  # type: ignore[arg-type]
        if not slot.is_array:
            if type(value) is list:
                self.report("structure", f"'{key}' holds a single object, not an array", node, key)
            else:
                self.extension_object(value, values is not None, node, key, None, depth)
            return
        if type(value) is not list or not value:
            self.report("structure", f"'{key}' must be a non-empty array aligned with '{slot.sibling}'", node, key)
            return
        if type(values) is list and len(values) != len(value):
            self.report(
                "structure", f"'{key}' has {len(value)} items but '{slot.sibling}' has {len(values)}", node, key
            )
            return
        for index, item in enumerate(value):
            has_value = type(values) is list and values[index] is not None
            if item is not None:
                self.extension_object(item, has_value, node, key, index, depth)
            elif type(values) is not list:  # with values, the null value itself is reported
                self.report("structure", "Both the value and its extensions are null", node, key, index)

    def extension_object(
        self, value: Any, has_value: bool, node: Node, key: str, index: int | None, depth: int
    ) -> None:
        if type(value) is not dict:
            self.report("structure", f"Expected a JSON object, found a JSON {json_kind(value)}", node, key, index)
        elif not value:
            self.report("structure", "Empty objects are not valid in FHIR JSON: omit the element", node, key, index)
        elif not has_value and "extension" not in value:
            self.report("structure", "A primitive without a value must have extensions", node, key, index)
        elif depth >= MAX_DEPTH:
            self.report("structure", f"Nested deeper than {MAX_DEPTH} levels", node, key, index)
        else:
            self.walk(value, schema("Element"), (node, key, index), depth + 1)  # type: ignore[arg-type]

    def reference(self, value: dict[str, Any], slot: Slot, node: Node) -> None:
        reference = value.get("reference")
        if type(reference) is not str or not reference:
            return
        parsed = references.parse(reference)
        if isinstance(parsed, str):
            self.report("value", parsed, node, "reference")
        elif parsed.fragment is not None:
            self.local_references.append((parsed.fragment, node))
        elif parsed.resource_type is not None and slot.targets is not None and parsed.resource_type not in slot.targets:
            allowed = ", ".join(sorted(slot.targets))
            self.report(
                "invalid",
                f"A reference to {parsed.resource_type} is not allowed here (only {allowed})",
                node,
                "reference",
            )

    def codings(self, concept: dict[str, Any], slot: Slot, node: Node) -> None:
        """Codings from a system of the required value set must use one of its codes; codings
        from other systems are translations and are left alone."""
        codings = concept.get("coding")
        if type(codings) is not list:
            return
        allowed = self.allowed_codes(slot.binding)  # type: ignore[arg-type]
        if allowed is None:
            return
        for index, coding in enumerate(codings):
            system = coding.get("system") if type(coding) is dict else None
            if type(system) is not str or system not in allowed.systems:
                continue
            code = coding.get("code")  # type: ignore[union-attr]
            if type(code) is str and not allowed.contains(system, code):
                message = f"'{code[:100]}' is not in the required value set {slot.binding}"
                self.report("code-invalid", message, (node, "coding", index), "code")
