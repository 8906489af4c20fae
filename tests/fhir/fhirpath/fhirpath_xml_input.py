"""A minimal FHIR XML -> JSON-dict converter for the official FHIRPath suite's inputs.

Test-only: the product's real converter lives in ``ember/fhir/xml/``. This one knows just
enough (cardinality and primitive types from the engine's own type table) to turn the suite's
XML inputs into the dicts the engine evaluates, including ``_name`` siblings for primitive
extensions and ids.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree

from ember.fhir.fhirpath.model import fhir_model

FHIR_NS = "{http://hl7.org/fhir}"
XHTML_NS = "{http://www.w3.org/1999/xhtml}"
_INTEGERS = {"integer", "positiveInt", "unsignedInt"}


def load_xml_resource(path: Path) -> dict[str, Any]:
    """Parse a FHIR XML resource file into a JSON-style dict."""
    root = etree.parse(str(path)).getroot()
    return _resource(root)


def _local(element: Any) -> str:
    return etree.QName(element).localname


def _resource(element: Any) -> dict[str, Any]:
    name = _local(element)
    result: dict[str, Any] = {"resourceType": name}
    _children(element, name, result)
    return result


def _element_type(parent_type: str | None, name: str) -> tuple[str | None, bool]:
    model = fhir_model()
    entry = model.element(parent_type, name)
    if entry is not None and not isinstance(entry[0], list):
        return entry[0], bool(entry[1])
    for key, (element, type_key) in model.json_keys(parent_type).items():
        if key == name:
            repeats = bool(model.element(parent_type, element)[1])  # type: ignore[index]
            return type_key, repeats
    return None, False


def _children(element: Any, type_key: str | None, result: dict[str, Any]) -> None:
    for child in element:
        if not isinstance(child.tag, str):
            continue
        name = _local(child)
        if child.tag == XHTML_NS + "div":
            result["div"] = etree.tostring(child, encoding="unicode", with_tail=False)
            continue
        child_type, repeats = _element_type(type_key, name)
        value, ext = _convert(child, child_type)
        _store(result, name, value, ext, repeats)
    for attribute in ("id", "url"):
        if attribute in element.attrib and attribute not in result:
            result[attribute] = element.attrib[attribute]


def _convert(element: Any, type_key: str | None) -> tuple[Any, Any]:
    model = fhir_model()
    if type_key == "Resource" or (type_key is None and len(element) == 1 and model.is_resource(_local(element[0]))):
        inner = [c for c in element if isinstance(c.tag, str)]
        return _resource(inner[0]), None
    if model.is_primitive(type_key) or (type_key is None and "value" in element.attrib):
        ext: dict[str, Any] = {}
        _children(element, type_key, ext)
        raw = element.attrib.get("value")
        return (None if raw is None else _primitive(raw, type_key)), (ext or None)
    complex_value: dict[str, Any] = {}
    _children(element, type_key, complex_value)
    return complex_value, None


def _primitive(raw: str, type_key: str | None) -> Any:
    if type_key == "boolean":
        return raw == "true"
    if type_key in _INTEGERS:
        return int(raw)
    if type_key == "decimal":
        return Decimal(raw)
    return raw


def _store(result: dict[str, Any], name: str, value: Any, ext: Any, repeats: bool) -> None:
    if not repeats:
        if value is not None:
            result[name] = value
        if ext is not None:
            result["_" + name] = ext
        return
    values = result.setdefault(name, [])
    exts = result.get("_" + name)
    if ext is not None and exts is None:
        exts = result["_" + name] = [None] * len(values)
    values.append(value)
    if exts is not None:
        exts.append(ext)
