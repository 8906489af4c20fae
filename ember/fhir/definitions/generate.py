"""Generate the compact structure model from the official FHIR R4 definitions.

Run `make definitions` (or `python -m ember.fhir.definitions.generate [DEFINITIONS_DIR]`).
It reads profiles-types.json.gz and profiles-resources.json.gz from the conformance folder and
writes structure.json.gz beside this file. The product reads only the generated file, so a
deployed server needs neither the 7 MB of definitions nor their parsing at start-up.

Output shape (all element tables are flattened snapshots, inherited elements included):
  {"fhirVersion": "4.0.1",
   "resourceTypes": [concrete resource names],
   "abstractTypes": ["Resource", "DomainResource"],
   "primitives": {code: {"regex": str | null}},
   "types": {type key: {element name: element}},
   "constraints": {type key: [[element path, key, severity, human, expression], ...]},
   "requiredValueSets": {value set url: {code system url: [codes]}},
   "searchParameters": [{"code", "type", "base", "url", "description", "expression"?, "target"?, "component"?}],
   "compartments": {compartment: {resource type: [search parameter codes]}},
   "unexpandedValueSets": [urls of required value sets that could not be expanded]}
A type key is a type name ("Patient", "HumanName") or the path of a backbone element
("Patient.contact"); its elements are listed in definition order (FHIR XML needs it), every
other object has sorted keys. An element is {"t": [type codes], "min": int, "max": int (-1 = *)}
plus, when relevant, "k" (type key of its children for backbone elements and contentReference),
"s": 1 (in _summary), "b" (required binding value set url), "r" (Reference/canonical targets).

Every value set named by a required binding is expanded from valuesets.json.gz,
v3-codesystems.json.gz and v2-tables.json.gz so that validation can check codes without a
terminology server. A value set is expanded only when each include is an explicit concept list or
a whole code system whose content is complete; the others (BCP-13 mime types, UCUM, ISO 4217
currencies, value sets missing from the package) land in "unexpandedValueSets" and their codes are
not checked. No required binding of R4 uses filters, value set imports or excludes, so those forms
count as unexpandable too rather than being half supported.
"""

from __future__ import annotations

import gzip
import json
import sys
import tarfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
DEFAULT_SOURCE = HERE.parents[3] / "shared" / "conformance" / "fhir-r4-definitions"
OUTPUT = HERE / "structure.json.gz"

_FHIR_TYPE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
_REGEX_EXTENSION = "http://hl7.org/fhir/StructureDefinition/regex"
_BACKBONE_CODES = {"BackboneElement", "Element"}
_TERMINOLOGY_FILES = ("valuesets.json.gz", "v3-codesystems.json.gz", "v2-tables.json.gz")


def load_structure_definitions(source: Path) -> list[dict[str, Any]]:
    definitions = []
    for name in ("profiles-types.json.gz", "profiles-resources.json.gz"):
        with gzip.open(source / name) as handle:
            bundle = json.load(handle)
        definitions += [
            entry["resource"] for entry in bundle["entry"] if entry["resource"]["resourceType"] == "StructureDefinition"
        ]
    return definitions


def type_code(type_entry: dict[str, Any]) -> str:
    """The FHIR type code, mapping FHIRPath system types (Element.id...) to their FHIR type."""
    code = type_entry["code"]
    if code.startswith("http://hl7.org/fhirpath/System."):
        for extension in type_entry.get("extension", []):
            if extension["url"] == _FHIR_TYPE_EXTENSION:
                return extension["valueUrl"]
        return code.rsplit(".", 1)[1].lower()
    return code


def compact_element(element: dict[str, Any], is_backbone: bool) -> dict[str, Any]:
    codes = [type_code(t) for t in element.get("type", [])]
    compact: dict[str, Any] = {
        "t": codes,
        "min": element.get("min", 0),
        "max": -1 if element.get("max", "1") == "*" else int(element.get("max", "1")),
    }
    if "contentReference" in element:
        compact["k"] = element["contentReference"].lstrip("#")
        compact["t"] = ["BackboneElement"]
    elif is_backbone:
        compact["k"] = element["path"]
    if element.get("isSummary"):
        compact["s"] = 1
    binding = element.get("binding", {})
    if binding.get("strength") == "required" and "valueSet" in binding:
        compact["b"] = binding["valueSet"].split("|")[0]
    targets = sorted(
        {profile.rsplit("/", 1)[1] for t in element.get("type", []) for profile in t.get("targetProfile", [])}
    )
    if targets:
        compact["r"] = targets
    return compact


def element_tables(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The element table of the type and of each of its backbone elements, keyed by type key."""
    elements = definition["snapshot"]["element"]
    root = elements[0]["path"]
    child_paths = {e["path"].rsplit(".", 1)[0] for e in elements[1:]}
    tables: dict[str, dict[str, Any]] = {root: {}}
    for element in elements[1:]:
        path = element["path"]
        parent, name = path.rsplit(".", 1)
        codes = {t["code"] for t in element.get("type", [])}
        is_backbone = path in child_paths and bool(codes & _BACKBONE_CODES)
        tables.setdefault(parent, {})[name] = compact_element(element, is_backbone)
        if is_backbone:
            tables.setdefault(path, {})
    return tables


def constraints_of(definition: dict[str, Any]) -> list[list[str]]:
    rows = []
    for element in definition["snapshot"]["element"]:
        for constraint in element.get("constraint", []):
            if "expression" in constraint:
                rows.append(
                    [
                        element["path"],
                        constraint["key"],
                        constraint["severity"],
                        constraint.get("human", ""),
                        constraint["expression"],
                    ]
                )
    return rows


def primitive_regex(definition: dict[str, Any]) -> str | None:
    for element in definition["snapshot"]["element"]:
        if element["path"].endswith(".value"):
            for type_entry in element.get("type", []):
                for extension in type_entry.get("extension", []):
                    if extension["url"] == _REGEX_EXTENSION:
                        return str(extension["valueString"])
    return None


def load_terminology(source: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ValueSet and CodeSystem resources of the package, each indexed by canonical url."""
    value_sets: dict[str, Any] = {}
    code_systems: dict[str, Any] = {}
    for name in _TERMINOLOGY_FILES:
        with gzip.open(source / name) as handle:
            bundle = json.load(handle)
        for entry in bundle["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] == "ValueSet":
                value_sets[resource["url"]] = resource
            elif resource["resourceType"] == "CodeSystem":
                code_systems[resource["url"]] = resource
    return value_sets, code_systems


def code_system_codes(concepts: list[dict[str, Any]]) -> list[str]:
    """Every code of a (possibly hierarchical) concept list, nested concepts included."""
    codes: list[str] = []
    pending = list(concepts)
    while pending:
        concept = pending.pop()
        codes.append(concept["code"])
        pending.extend(concept.get("concept", []))
    return codes


def expand_value_set(value_set: dict[str, Any], code_systems: dict[str, Any]) -> dict[str, list[str]] | None:
    """{system: sorted codes} of a value set, or None when it cannot be expanded offline."""
    compose = value_set.get("compose", {})
    if "exclude" in compose or not compose.get("include"):
        return None
    expansion: dict[str, set[str]] = {}
    for include in compose["include"]:
        if "filter" in include or "valueSet" in include or "system" not in include:
            return None
        system = include["system"]
        if "concept" in include:
            codes = [concept["code"] for concept in include["concept"]]
        else:
            code_system = code_systems.get(system)
            if code_system is None or code_system.get("content") != "complete":
                return None
            codes = code_system_codes(code_system.get("concept", []))
        expansion.setdefault(system, set()).update(codes)
    return {system: sorted(codes) for system, codes in sorted(expansion.items())}


def required_value_sets(model: dict[str, Any], source: Path) -> tuple[dict[str, Any], list[str]]:
    """Expansions of every value set a required binding names, and the urls left unexpanded."""
    value_sets, code_systems = load_terminology(source)
    urls = {element["b"] for table in model["types"].values() for element in table.values() if "b" in element}
    expanded: dict[str, Any] = {}
    skipped: list[str] = []
    for url in sorted(urls):
        expansion = expand_value_set(value_sets[url], code_systems) if url in value_sets else None
        if expansion is None:
            skipped.append(url)
        else:
            expanded[url] = expansion
    return expanded, skipped


def build(source: Path) -> dict[str, Any]:
    model: dict[str, Any] = {
        "fhirVersion": "4.0.1",
        "resourceTypes": [],
        "abstractTypes": [],
        "primitives": {},
        "types": {},
        "constraints": {},
    }
    for definition in load_structure_definitions(source):
        if definition.get("derivation") == "constraint":
            continue  # profiles such as SimpleQuantity add no new structure
        name = definition["id"]
        if definition["kind"] == "primitive-type":
            model["primitives"][name] = {"regex": primitive_regex(definition)}
            continue
        if definition["kind"] == "resource":
            bucket = "abstractTypes" if definition.get("abstract") else "resourceTypes"
            model[bucket].append(name)
        model["types"].update(element_tables(definition))
        constraints = constraints_of(definition)
        if constraints:
            model["constraints"][name] = constraints
    model["resourceTypes"].sort()
    model["requiredValueSets"], model["unexpandedValueSets"] = required_value_sets(model, source)
    model["searchParameters"] = search_parameters(source)
    model["compartments"] = compartments(source)
    return model


def search_parameters(source: Path) -> list[dict[str, Any]]:
    """Every core SearchParameter as {code, type, base, url, description, expression?, target?,
    component?}; a composite's components name the parameter they reuse by its code."""
    with gzip.open(source / "search-parameters.json.gz") as handle:
        bundle = json.load(handle)
    parameters = [entry["resource"] for entry in bundle["entry"]]
    code_of_url = {parameter["url"]: parameter["code"] for parameter in parameters}
    compact = []
    for parameter in parameters:
        row = {key: parameter[key] for key in ("code", "type", "base", "url") if key in parameter}
        row["description"] = parameter.get("description", "")
        if parameter.get("expression"):
            row["expression"] = parameter["expression"]
        if parameter.get("target"):
            row["target"] = parameter["target"]
        if parameter.get("component"):
            row["component"] = [
                {"code": code_of_url[part["definition"]], "expression": part["expression"]}
                for part in parameter["component"]
            ]
        compact.append(row)
    return sorted(compact, key=lambda row: (row["code"], row["base"]))


def compartments(source: Path) -> dict[str, dict[str, list[str]]]:
    """The official CompartmentDefinitions: compartment type -> resource type -> the search
    parameters that put a resource in the compartment (`{def}` marks the compartment's own type)."""
    found: dict[str, dict[str, list[str]]] = {}
    with tarfile.open(source / "hl7.fhir.r4.core-4.0.1.package.tgz") as package:
        for member in package.getmembers():
            name = member.name.rsplit("/", 1)[-1]
            if not name.startswith("CompartmentDefinition-") or name == "CompartmentDefinition-example.json":
                continue
            extracted = package.extractfile(member)
            if extracted is None:
                continue
            definition = json.load(extracted)
            found[definition["code"]] = {
                entry["code"]: entry["param"] for entry in definition.get("resource", []) if entry.get("param")
            }
    return found


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def stable_order(model: dict[str, Any]) -> dict[str, Any]:
    """Keys sorted everywhere for reproducible output, except the element names of each element
    table: they keep definition order, which FHIR XML requires when writing elements."""
    types = {
        key: {name: _sorted(element) for name, element in table.items()}
        for key, table in sorted(model["types"].items())
    }
    return {key: types if key == "types" else _sorted(value) for key, value in sorted(model.items())}


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE
    model = build(source.resolve())
    payload = json.dumps(stable_order(model), separators=(",", ":")).encode()
    with gzip.GzipFile(OUTPUT, "wb", mtime=0) as handle:
        handle.write(payload)
    print(f"wrote {OUTPUT} ({len(model['resourceTypes'])} resource types, {len(model['types'])} type keys)")
    print(f"expanded {len(model['requiredValueSets'])} required value sets; not expanded:")
    for url in model["unexpandedValueSets"]:
        print(f"  {url}")


if __name__ == "__main__":
    main()
