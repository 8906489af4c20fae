"""FHIR XML to FHIR JSON: the dict ember.fhir.jsonio.loads would return for the same resource.

The walk is driven by the structure model, so anything the model does not know is refused with a
400 naming the offending element as a FHIRPath expression (`Patient.name[1].given[0]`) and its
source line: an integration engineer must be able to find the mistake in a large Bundle. Element
order is not enforced (several official examples deviate); everything else in FHIR XML's shape is.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from ember.fhir.model import is_resource_type
from ember.fhir.outcome import FhirError, error
from ember.fhir.xml.layout import (
    FHIR_NS,
    MAX_DEPTH,
    XSI_NS,
    Field,
    Kind,
    Layout,
    required_layout,
    text_to_value,
)
from ember.fhir.xml.parsing import parse
from ember.fhir.xml.xhtml import div_to_string

_FHIR_PREFIX = f"{{{FHIR_NS}}}"
_FHIR_PREFIX_LENGTH = len(_FHIR_PREFIX)
_XSI_PREFIX = f"{{{XSI_NS}}}"


def xml_to_json(data: bytes) -> dict[str, Any]:
    """The FHIR JSON form of a FHIR XML resource; a 400 FhirError for anything else."""
    return _read_resource(parse(data, "The XML document"), None, 0)


def _fail(element: etree._Element, message: str, path: str | None) -> FhirError:
    if element.sourceline:
        message += f" (line {element.sourceline})"
    return error(400, "structure", message, *(() if path is None else (path,)))


def _describe(tag: str) -> str:
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return f"<{name}> in namespace {namespace!r}"
    return f"<{tag}> without a namespace"


def _read_resource(element: etree._Element, path: str | None, depth: int) -> dict[str, Any]:
    """A resource element (`path` None: the document root) as a JSON object."""
    tag = element.tag
    if not tag.startswith(_FHIR_PREFIX):
        raise _fail(element, f"Expected a FHIR resource, found {_describe(tag)}", path)
    name = tag[_FHIR_PREFIX_LENGTH:]
    if not is_resource_type(name):
        raise _fail(element, f"<{name}> is not a FHIR resource type", path)
    path = path or name
    for key, _ in element.items():
        if not key.startswith(_XSI_PREFIX):
            raise _fail(element, f"Unknown attribute '{key}' on <{name}>", path)
    result: dict[str, Any] = {"resourceType": name}
    _read_children(element, required_layout(name), result, path, depth)
    return result


def _read_children(element: etree._Element, layout: Layout, result: dict[str, Any], path: str, depth: int) -> None:
    """Add the JSON properties of `element`'s child elements to `result`."""
    if depth > MAX_DEPTH:
        raise _fail(element, f"Elements are nested more than {MAX_DEPTH} levels deep", path)
    text = element.text
    if text is not None and not text.isspace():
        raise _fail(element, "Text content is not allowed here", path)
    primitive_arrays = []
    by_tag = layout.by_tag
    for child in element:
        field = by_tag.get(child.tag)
        if field is None:
            raise _misplaced(child, layout, path)
        tail = child.tail
        if tail is not None and not tail.isspace():
            raise _fail(child, "Text content is not allowed here", path)
        name = field.name
        if field.kind is not Kind.PRIMITIVE:
            _add_value(child, field, result, path, depth + 1)
        elif not field.is_array:
            if name in result or ("_" + name) in result:
                raise _fail(child, f"<{name}> may appear only once", f"{path}.{name}")
            value, extra = _read_primitive(child, field, path, None, depth + 1)
            if value is not None:
                result[name] = value
            if extra is not None:
                result["_" + name] = extra
        else:
            if name not in result:
                result[name], result["_" + name] = [], []
                primitive_arrays.append(name)
            value, extra = _read_primitive(child, field, path, len(result[name]), depth + 1)
            result[name].append(value)
            result["_" + name].append(extra)
    for name in primitive_arrays:
        _drop_if_all_null(result, name)
        _drop_if_all_null(result, "_" + name)


def _add_value(element: etree._Element, field: Field, result: dict[str, Any], path: str, depth: int) -> None:
    """Add the JSON value of a complex, resource or narrative element to `result`."""
    name = field.name
    if field.is_array:
        items = result.setdefault(name, [])
        path = f"{path}.{name}[{len(items)}]"
    elif name in result:
        raise _fail(element, f"<{name}> may appear only once", f"{path}.{name}")
    else:
        path = f"{path}.{name}"
    if field.kind is Kind.COMPLEX:
        layout = required_layout(field.child_key)
        value: Any = {}
        for key, text in element.items():
            if key in layout.attributes:
                value[key] = text
            elif not key.startswith(_XSI_PREFIX):
                raise _fail(element, f"Unknown attribute '{key}' on <{name}>", path)
        _read_children(element, layout, value, path, depth)
    elif field.kind is Kind.XHTML:
        value = div_to_string(element, path)
    else:
        value = _read_container(element, path, depth)
    if field.is_array:
        items.append(value)
    else:
        result[name] = value


def _misplaced(child: etree._Element, layout: Layout, path: str) -> FhirError:
    """Why an element's tag is not one `layout` expects: wrong namespace or unknown name."""
    tag = child.tag
    if not tag.startswith(_FHIR_PREFIX):
        name = tag.rpartition("}")[2]
        if name in layout.fields:
            return _fail(child, f"{_describe(tag)} is in the wrong namespace", f"{path}.{name}")
        return _fail(child, f"{_describe(tag)} is not a FHIR element", path)
    name = tag[_FHIR_PREFIX_LENGTH:]
    if name in layout.fields:
        return _fail(child, "The narrative <div> must be in the XHTML namespace", f"{path}.{name}")
    return _fail(child, f"Unknown element <{name}>", f"{path}.{name}")


def _drop_if_all_null(result: dict[str, Any], key: str) -> None:
    """JSON writes `given: ["a"]` without `_given: [null]`, and the reverse."""
    values = result[key]
    if values.count(None) == len(values):
        del result[key]


def _read_container(element: etree._Element, path: str, depth: int) -> dict[str, Any]:
    """The resource inside `<contained>`, `<resource>`: exactly one element named by its type."""
    for key, _ in element.items():
        if not key.startswith(_XSI_PREFIX):
            raise _fail(element, f"Unknown attribute '{key}'", path)
    text = element.text
    if text is not None and not text.isspace():
        raise _fail(element, "Text content is not allowed here", path)
    children = list(element)
    if len(children) != 1:
        raise _fail(element, f"Expected exactly one resource, found {len(children)} elements", path)
    tail = children[0].tail
    if tail is not None and not tail.isspace():
        raise _fail(element, "Text content is not allowed here", path)
    return _read_resource(children[0], path, depth)


def _read_primitive(element: etree._Element, field: Field, path: str, index: int | None, depth: int) -> tuple[Any, Any]:
    """(value, `_name` object) of a primitive element: its value attribute and its id/extensions.

    The location (`path`.name[index]) is only formatted when needed: most primitives are plain
    values and this is the hottest function of the reader.
    """
    value = extra = None
    for key, text in element.items():
        if key == "value":
            value = _convert(element, field, text, path, index) if field.is_native else text
        elif key == "id":
            extra = {"id": text}
        elif not key.startswith(_XSI_PREFIX):
            location = _location(path, field.name, index)
            raise _fail(element, f"Unknown attribute '{key}' on a primitive", location)
    if element.text is not None or len(element):
        extra = extra or {}
        _read_children(element, required_layout("Element"), extra, _location(path, field.name, index), depth)
        extra = extra or None
    if value is None and extra is None:
        message = "A primitive element needs a value attribute or extensions"
        raise _fail(element, message, _location(path, field.name, index))
    return value, extra


def _convert(element: etree._Element, field: Field, text: str, path: str, index: int | None) -> Any:
    try:
        return text_to_value(field.child_key, text)
    except ValueError as exc:
        message = f"Invalid {field.child_key} value {text[:40]!r}: {exc}"
        raise _fail(element, message, _location(path, field.name, index)) from None


def _location(path: str, name: str, index: int | None) -> str:
    return f"{path}.{name}" if index is None else f"{path}.{name}[{index}]"
