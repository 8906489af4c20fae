"""Narrative `div`: XHTML embedded in XML, a string in JSON.

FHIR JSON carries the div as serialised XHTML, `<div xmlns="http://www.w3.org/1999/xhtml">...`.
Reading XML we serialise the parsed element ourselves rather than with lxml.tostring, for three
reasons: the JSON form must declare the XHTML namespace on the div as the default namespace
(whatever prefix the document used), namespaces of the enclosing FHIR document must not leak in,
and text is escaped the way the FHIR reference implementation does (`"` as `&quot;`), so our JSON
matches the official examples. The same serialiser writes divs into XML, so a div makes the
JSON -> XML -> JSON trip unchanged.
"""

from __future__ import annotations

import re

from lxml import etree

from ember.fhir.outcome import error
from ember.fhir.xml.layout import XHTML_DIV, XHTML_NS
from ember.fhir.xml.parsing import parse

_XHTML_PREFIX = f"{{{XHTML_NS}}}"
_XML_PREFIX = "{http://www.w3.org/XML/1998/namespace}"
#: Elements HTML knows to be empty: written `<br/>`; any other element keeps an explicit end tag,
#: since `<a/>` opens an anchor that never closes when a browser reads the narrative as HTML.
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
_MAX_DIV_DEPTH = 100

# Characters XML 1.0 cannot carry at all, and those needing a reference in attribute values
# (whitespace other than space would be normalised away by the reader).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_ATTRIBUTE_SPECIAL = re.compile('[&<>"\t\n\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]')
_TEXT_SPECIAL = re.compile('[&<>"]')


def escape_attribute(text: str) -> str:
    """`text` ready to sit between double quotes; ValueError when XML cannot represent it."""
    if _ATTRIBUTE_SPECIAL.search(text) is None:
        return text
    if _NOT_XML.search(text):
        raise ValueError("contains characters that XML 1.0 cannot represent")
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\t", "&#9;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
    )


def _escape_text(text: str) -> str:
    if _TEXT_SPECIAL.search(text) is None:
        return text
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def div_to_string(div: etree._Element, path: str) -> str:
    """The FHIR JSON string of a parsed XHTML div; 400 when it holds non-XHTML content."""
    parts: list[str] = []
    _write(div, parts, path, 0)
    return "".join(parts)


def string_to_div(text: str, path: str) -> str:
    """Check a JSON div string and return it in canonical form, ready to embed in XML."""
    if not isinstance(text, str):
        raise error(400, "structure", "The narrative div must be a string", path)
    root = parse(text.encode("utf-8", "surrogatepass"), "The narrative div", path)
    if root.tag != XHTML_DIV:
        raise error(400, "structure", "The narrative must be a <div> in the XHTML namespace", path)
    return div_to_string(root, path)


def _write(element: etree._Element, parts: list[str], path: str, depth: int) -> None:
    tag = element.tag
    if not isinstance(tag, str) or not tag.startswith(_XHTML_PREFIX):
        raise error(400, "structure", f"Narrative contains non-XHTML content {tag!r}", path)
    if depth > _MAX_DIV_DEPTH:
        raise error(400, "structure", "Narrative is nested too deeply", path)
    name = tag[len(_XHTML_PREFIX) :]
    parts.append(f'<{name} xmlns="{XHTML_NS}"' if depth == 0 else f"<{name}")
    for key, value in element.attrib.items():
        parts.append(f' {_attribute_name(key, path)}="{escape_attribute(value)}"')
    if element.text is None and len(element) == 0 and name in _VOID:
        parts.append("/>")
        return
    parts.append(">")
    if element.text:
        parts.append(_escape_text(element.text))
    for child in element:
        _write(child, parts, path, depth + 1)
        if child.tail:
            parts.append(_escape_text(child.tail))
    parts.append(f"</{name}>")


def _attribute_name(key: str, path: str) -> str:
    if not key.startswith("{"):
        return key
    if key.startswith(_XML_PREFIX):
        return "xml:" + key[len(_XML_PREFIX) :]
    raise error(400, "structure", f"Narrative attribute {key!r} is not XHTML", path)
