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
from ember.fhir.xml.layout import FHIR_NS, MAX_DEPTH, XSI_NS, Field, Kind, Layout, layout_of, text_to_value
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


def _layout(key: str) -> Layout:
    layout = layout_of(key)
    if layout is None:
        raise LookupError(f"The structure model has no type {key!r}")
    return layout


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
    _read_children(element, _layout(name), result, path, depth)
    return result


def _read_children(element: etree._Element, layout: Layout, result: dict[str, Any], path: str, depth: int) -> None:
    """Add the JSON properties of `element`'s child elements to `result`."""
    if depth > MAX_DEPTH:
        raise _fail(element, f"Elements are nested more than {MAX_DEPTH} levels deep", path)
    text = element.text
    if text is not None and not text.isspace():
        raise _fail(element, "Text content is not allowed here", path)
    primitive_arrays = []
    for child in element:
        field = _identify(child, layout, path)
        name = field.name
        if field.is_array:
            child_path = f"{path}.{name}[{len(result.get(name, ()))}]"
        elif name in result or ("_" + name) in result:
            raise _fail(child, f"<{name}> may appear only once", f"{path}.{name}")
        else:
            child_path = f"{path}.{name}"
        if field.kind is not Kind.PRIMITIVE:
            item = _read_value(child, field, child_path, depth + 1)
            if field.is_array:
                result.setdefault(name, []).append(item)
            else:
                result[name] = item
            continue
        value, extra = _read_primitive(child, field.child_key, child_path, depth + 1)
        if not field.is_array:
            if value is not None:
                result[name] = value
            if extra is not None:
                result["_" + name] = extra
            continue
        if name not in result:
            result[name], result["_" + name] = [], []
            primitive_arrays.append(name)
        result[name].append(value)
        result["_" + name].append(extra)
    for name in primitive_arrays:
        _drop_if_all_null(result, name)
        _drop_if_all_null(result, "_" + name)


def _identify(child: etree._Element, layout: Layout, path: str) -> Field:
    """The model field a child element stands for, checking its namespace and trailing text."""
    tag = child.tag
    field = layout.by_tag.get(tag)
    if field is None:
        raise _misplaced(child, tag, layout, path)
    tail = child.tail
    if tail is not None and not tail.isspace():
        raise _fail(child, "Text content is not allowed here", path)
    return field


def _misplaced(child: etree._Element, tag: str, layout: Layout, path: str) -> FhirError:
    """Why an element's tag is not one `layout` expects: wrong namespace or unknown name."""
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


def _read_value(element: etree._Element, field: Field, path: str, depth: int) -> Any:
    """The JSON value of a complex, resource or narrative element."""
    if field.kind is Kind.COMPLEX:
        layout = _layout(field.child_key)
        result: dict[str, Any] = {}
        for key, value in element.items():
            if key in layout.attributes:
                result[key] = value
            elif not key.startswith(_XSI_PREFIX):
                raise _fail(element, f"Unknown attribute '{key}' on <{field.name}>", path)
        _read_children(element, layout, result, path, depth)
        return result
    if field.kind is Kind.XHTML:
        return div_to_string(element, path)
    return _read_container(element, path, depth)


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


def _read_primitive(element: etree._Element, type_code: str, path: str, depth: int) -> tuple[Any, Any]:
    """(value, `_name` object) of a primitive element: its value attribute and its id/extensions."""
    value = extra = None
    for key, text in element.items():
        if key == "value":
            try:
                value = text_to_value(type_code, text)
            except ValueError as exc:
                raise _fail(element, f"Invalid {type_code} value {text[:40]!r}: {exc}", path) from None
        elif key == "id":
            extra = {"id": text}
        elif not key.startswith(_XSI_PREFIX):
            raise _fail(element, f"Unknown attribute '{key}' on a primitive element", path)
    if len(element) or element.text is not None:
        extra = extra or {}
        _read_children(element, _layout("Element"), extra, path, depth)
        extra = extra or None
    if value is None and extra is None:
        raise _fail(element, "A primitive element needs a value attribute or extensions", path)
    return value, extra
