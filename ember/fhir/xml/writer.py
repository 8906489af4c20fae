"""FHIR JSON (a parsed dict) to FHIR XML.

The XML is written as text rather than built as an lxml tree: the writer already knows every
name and attribute, so string pieces joined once save creating an element object per value, and
pretty printing can leave the narrative untouched. Every value written is escaped
(escape_attribute) or re-serialised from a parsed tree (the div).
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from ember.fhir.model import is_resource_type
from ember.fhir.outcome import FhirError, error
from ember.fhir.xml.layout import FHIR_NS, MAX_DEPTH, Field, Kind, Layout, required_layout, value_to_text
from ember.fhir.xml.xhtml import escape_attribute, string_to_div

_POSITION = attrgetter("position")
_FLAT = [""] * (MAX_DEPTH + 2)
_PRETTY = ["\n" + "  " * depth for depth in range(MAX_DEPTH + 2)]


def json_to_xml(resource: dict[str, Any], *, pretty: bool = False) -> bytes:
    """FHIR XML (UTF-8, no XML declaration) of a FHIR JSON resource.

    Raises a 400 FhirError when the resource cannot be written faithfully: unknown elements,
    values of the wrong JSON type, arrays where single values belong or the reverse.
    """
    writer = _Writer(pretty)
    writer.resource(resource, None, 0)
    text = "".join(writer.parts)
    if pretty:
        text = text[1:] + "\n"
    return text.encode("utf-8")


def _invalid(message: str, *expression: str) -> FhirError:
    return error(400, "structure", message, *expression)


def _location(path: str, name: str, index: int | None) -> str:
    return f"{path}.{name}" if index is None else f"{path}.{name}[{index}]"


class _Writer:
    """Accumulates the XML text of one resource."""

    __slots__ = ("parts", "indent")

    def __init__(self, pretty: bool) -> None:
        self.parts: list[str] = []
        self.indent = _PRETTY if pretty else _FLAT

    def resource(self, resource: Any, path: str | None, depth: int) -> None:
        """Write a resource as an element named after its type (`path` None: the document root)."""
        where = () if path is None else (path,)
        if type(resource) is not dict:
            raise _invalid("A resource must be a JSON object", *where)
        resource_type = resource.get("resourceType")
        if not isinstance(resource_type, str) or not is_resource_type(resource_type):
            raise _invalid(f"Unknown resourceType {resource_type!r}", *where)
        namespace = f' xmlns="{FHIR_NS}"' if path is None else ""
        layout = required_layout(resource_type)
        self.element(resource_type, resource, layout, path or resource_type, depth, namespace)

    def element(self, name: str, obj: Any, layout: Layout, path: str, depth: int, extra: str = "") -> None:
        """Write `<name ...>` for a JSON object; `extra` holds attributes decided by the caller."""
        if depth > MAX_DEPTH:
            raise _invalid(f"Elements are nested more than {MAX_DEPTH} levels deep", path)
        if type(obj) is not dict:
            raise _invalid(f"'{name}' must be a JSON object", path)
        attributes, fields = self.plan(obj, layout, path)
        parts = self.parts
        parts.append(f"{self.indent[depth]}<{name}{attributes}{extra}")
        if not fields:
            parts.append("/>")
            return
        parts.append(">")
        for field in fields:
            self.field(obj, field, path, depth + 1)
        parts.append(f"{self.indent[depth]}</{name}>")

    def plan(self, obj: dict[str, Any], layout: Layout, path: str) -> tuple[str, list[Field]]:
        """The attribute text of `obj` and its child elements in definition order."""
        attributes = ""
        fields = []
        lookup = layout.fields
        for key, value in obj.items():
            field = lookup.get(key)
            if field is not None:
                fields.append(field)
            elif key in layout.attributes:
                if type(value) is not str:
                    raise _invalid(f"'{key}' must be a string", f"{path}.{key}")
                attributes += f' {key}="{self.escape(value, path, key)}"'
            elif key[:1] == "_" and self.is_primitive(lookup.get(key[1:])):
                if key[1:] not in obj:
                    fields.append(lookup[key[1:]])
            elif not (key == "resourceType" and layout.is_resource):
                raise _invalid(f"Unknown element '{key}'", f"{path}.{key}")
        if len(fields) > 1:
            fields.sort(key=_POSITION)
        return attributes, fields

    def field(self, obj: dict[str, Any], field: Field, path: str, depth: int) -> None:
        """Write every occurrence of one element of `obj`."""
        name = field.name
        if field.kind is Kind.PRIMITIVE:
            if field.is_array:
                self.primitives(obj, field, path, depth)
            else:
                self.primitive(field, obj.get(name), obj.get("_" + name), path, None, depth)
            return
        value = obj[name]
        if field.is_array:
            if type(value) is not list or not value:
                raise _invalid(f"'{name}' must be a non-empty array", f"{path}.{name}")
            items = [(item, f"{path}.{name}[{index}]") for index, item in enumerate(value)]
        elif type(value) is list:
            raise _invalid(f"'{name}' must not be an array", f"{path}.{name}")
        else:
            items = [(value, f"{path}.{name}")]
        if field.kind is Kind.COMPLEX:
            layout = required_layout(field.child_key)
            for item, item_path in items:
                self.element(name, item, layout, item_path, depth)
        elif field.kind is Kind.RESOURCE:
            indent = self.indent[depth]
            for item, item_path in items:
                self.parts.append(f"{indent}<{name}>")
                self.resource(item, item_path, depth + 1)
                self.parts.append(f"{indent}</{name}>")
        else:
            self.parts.append(self.indent[depth] + string_to_div(value, f"{path}.{name}"))

    def primitives(self, obj: dict[str, Any], field: Field, path: str, depth: int) -> None:
        """Write a primitive element from its value (`name`) and its id/extensions (`_name`)."""
        name = field.name
        value, extra = obj.get(name), obj.get("_" + name)
        values = [] if value is None else value
        extras = [] if extra is None else extra
        if type(values) is not list or type(extras) is not list:
            raise _invalid(f"'{name}' and '_{name}' must be arrays", f"{path}.{name}")
        if values and extras and len(values) != len(extras):
            raise _invalid(f"'{name}' and '_{name}' differ in length", f"{path}.{name}")
        count = max(len(values), len(extras))
        if count == 0:
            raise _invalid(f"'{name}' must be a non-empty array", f"{path}.{name}")
        for index in range(count):
            item = values[index] if values else None
            self.primitive(field, item, extras[index] if extras else None, path, index, depth)

    def primitive(self, field: Field, value: Any, extra: Any, path: str, index: int | None, depth: int) -> None:
        """Write one occurrence of a primitive: `<name id=".." value=".."><extension/></name>`."""
        name = field.name
        value_attribute = ""
        if value is not None:
            try:
                if type(value) is not str or field.is_native:
                    value = value_to_text(field.child_key, value)
                value_attribute = f' value="{escape_attribute(value)}"'
            except (TypeError, ValueError) as exc:
                raise _invalid(f"Invalid value of '{name}': {exc}", _location(path, name, index)) from None
        elif not extra:
            raise _invalid(f"'{name}' has neither a value nor extensions", _location(path, name, index))
        if extra is None:
            self.parts.append(f"{self.indent[depth]}<{name}{value_attribute}/>")
        elif type(extra) is list:
            raise _invalid(f"'_{name}' must not be an array", _location(path, name, index))
        else:
            location = _location(path, name, index)
            self.element(name, extra, required_layout("Element"), location, depth, value_attribute)

    @staticmethod
    def is_primitive(field: Field | None) -> bool:
        return field is not None and field.kind is Kind.PRIMITIVE

    def escape(self, value: str, path: str, key: str) -> str:
        try:
            return escape_attribute(value)
        except ValueError as exc:
            raise _invalid(f"Invalid value of '{key}': {exc}", f"{path}.{key}") from None
