"""Generate ``fhir_types.json.gz``: the element type table the FHIRPath engine needs.

Run from the repository root::

    python -m ember.fhir.fhirpath.generate_types [definitions_folder]

The engine must know, for every element, its FHIR type (``Patient.birthDate`` is a ``date``,
``Observation.value[x]`` is a choice of types, ``Patient.contact`` is a backbone element) and the
type hierarchy (``code`` is a ``string``, ``Age`` is a ``Quantity``). The official R4
StructureDefinitions hold that information but weigh megabytes; this script distils them into a
small table that is committed beside it and loaded lazily at run time, so the product never reads
the shared definitions folder.

Output layout (JSON, gzip)::

    {"types": {type_key: {"base": parent_name | null, "kind": kind,
                          "elements": {name: [type_key | [choice types], repeats]}}}}

``type_key`` is a type name (``HumanName``) or, for backbone elements, the element path
(``Patient.contact``). FHIRPath system types appear as ``System.String`` and so on.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_DEFINITIONS = Path("/work/shared/conformance/fhir-r4-definitions")
OUTPUT = Path(__file__).with_name("fhir_types.json.gz")
SYSTEM_PREFIX = "http://hl7.org/fhirpath/"
FHIR_TYPE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
BACKBONE_TYPES = {"BackboneElement", "Element"}


def _structure_definitions(folder: Path) -> list[dict[str, Any]]:
    """Return the base (non-constraint) StructureDefinitions of types and resources."""
    found = []
    for name in ("profiles-types.json.gz", "profiles-resources.json.gz"):
        with gzip.open(folder / name) as stream:
            bundle = json.load(stream)
        for entry in bundle["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] != "StructureDefinition":
                continue
            if resource.get("derivation") == "constraint":
                continue
            found.append(resource)
    return found


def _type_code(element_type: dict[str, Any]) -> str:
    """Map an element type to the engine's name (``System.String`` for system types).

    R4 declares ``Resource.id`` and ``Element.id`` as system strings but tags them with the
    FHIR type they carry in JSON (``id``, ``string``, ``uri``); that FHIR type is the useful one.
    """
    for extension in element_type.get("extension", []):
        if extension["url"] == FHIR_TYPE_EXTENSION:
            return extension["valueUrl"]
    code: str = element_type["code"]
    if code.startswith(SYSTEM_PREFIX):
        return code[len(SYSTEM_PREFIX) :]
    return code


def _element_entry(element: dict[str, Any]) -> tuple[Any, int] | None:
    """Return ``(type_key or choice list, repeats)`` for one ElementDefinition."""
    path: str = element["path"]
    repeats = 1 if element.get("max") not in ("0", "1") else 0
    if "contentReference" in element:
        return element["contentReference"].lstrip("#"), repeats
    codes = [_type_code(t) for t in element.get("type", [])]
    if not codes:
        return None
    if path.endswith("[x]"):
        return codes, repeats
    if codes[0] in BACKBONE_TYPES and "." in path:
        return path, repeats
    return codes[0], repeats


def _add_definition(types: dict[str, Any], definition: dict[str, Any]) -> None:
    """Add one StructureDefinition (and its backbone elements) to ``types``."""
    base = definition.get("baseDefinition", "").rsplit("/", 1)[-1] or None
    name = definition["type"]
    types[name] = {"base": base, "kind": definition["kind"], "elements": {}}
    for element in definition["snapshot"]["element"]:
        path: str = element["path"]
        if "." not in path:
            continue
        parent, child = path.rsplit(".", 1)
        entry = _element_entry(element)
        if entry is None:
            continue
        if parent not in types:
            types[parent] = {"base": "BackboneElement", "kind": "backbone", "elements": {}}
        types[parent]["elements"][child.removesuffix("[x]")] = list(entry)


def build(folder: Path) -> dict[str, Any]:
    """Build the compact type table from the definitions in ``folder``."""
    types: dict[str, Any] = {}
    for definition in _structure_definitions(folder):
        _add_definition(types, definition)
    return {"fhirVersion": "4.0.1", "types": types}


def main(argv: list[str]) -> None:
    """Write ``fhir_types.json.gz`` beside this script."""
    folder = Path(argv[1]) if len(argv) > 1 else DEFAULT_DEFINITIONS
    table = build(folder)
    data = json.dumps(table, separators=(",", ":"), sort_keys=True).encode()
    with gzip.GzipFile(OUTPUT, "wb", mtime=0) as stream:
        stream.write(data)
    print(f"wrote {OUTPUT} ({len(table['types'])} types, {len(data)} bytes raw)")


if __name__ == "__main__":
    main(sys.argv)
