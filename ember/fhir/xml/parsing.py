"""Parsing XML from untrusted clients without letting the document attack the server.

XML can reach outside itself (external entities read files and URLs: XXE), grow without bound
(nested entity definitions: "billion laughs") or nest until the parser's stack gives out. FHIR XML
needs none of that: no DTD, no entities beyond the five predefined ones, UTF-8 only. So we refuse
every DOCTYPE before libxml2 sees it, switch off entity resolution, DTD loading and network
access, keep libxml2's own size and depth limits (no huge_tree), and force UTF-8 so a declared
encoding cannot smuggle a DOCTYPE past the byte scan.
"""

from __future__ import annotations

from lxml import etree

from ember.fhir.outcome import FhirError, error

#: Larger request bodies are refused before parsing (a Synthea patient bundle is ~2 MB of XML).
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024


def _parser() -> etree.XMLParser:
    # A fresh parser per document: lxml parsers keep per-parse state and are not thread-safe.
    return etree.XMLParser(
        encoding="utf-8",
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def parse(data: bytes, what: str = "XML document", *expression: str) -> etree._Element:
    """The root element of `data`, or a 400 FhirError for anything hostile or malformed.

    `what` names the input in messages; `expression` locates it when it sits inside a resource.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise error(400, "structure", f"{what} must be bytes", *expression)
    data = bytes(data)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise error(400, "structure", f"{what} is larger than {MAX_DOCUMENT_BYTES} bytes", *expression)
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise _refused_doctype(what, expression)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise _malformed(what, exc, expression) from None
    if root.getroottree().docinfo.doctype:
        raise _refused_doctype(what, expression)
    return root


def _refused_doctype(what: str, expression: tuple[str, ...]) -> FhirError:
    message = f"{what}: DOCTYPE and entity declarations are not allowed in FHIR XML"
    return error(400, "structure", message, *expression)


def _malformed(what: str, exc: etree.XMLSyntaxError, expression: tuple[str, ...]) -> FhirError:
    message = exc.msg or "not well-formed"
    if exc.lineno and f"line {exc.lineno}" not in message:
        message += f" (line {exc.lineno})"
    if "encoding" in message:
        message += "; FHIR XML must be UTF-8"
    return error(400, "structure", f"{what} is not well-formed XML: {message}", *expression)
