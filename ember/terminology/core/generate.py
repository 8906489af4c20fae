"""Generate the compact core terminology (R4 CodeSystems and ValueSets) from the official definitions.

Run `python -m ember.terminology.core.generate [DEFINITIONS_DIR]` (beside `make definitions`). It reads
valuesets.json.gz (FHIR), v3-codesystems.json.gz and v2-tables.json.gz from the conformance folder
and writes terminology.ndjson.gz beside this file, keeping only what terminology operations use
(url, version, name, content, caseSensitive, concepts, compose; and the shipped expansions, so
tests can compare against them). Narrative, contacts and extensions are dropped: the product reads
only this file and never needs the definitions at run time.

Output: one resource per line, sorted by type and url: its type, url and version (empty when it
has none), each followed by a tab, then its compact JSON with sorted keys. A worker finds a
resource by its line's header and parses only the resources it uses (see core/__init__.py).
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
DEFAULT_SOURCE = HERE.parents[3] / "shared" / "conformance" / "fhir-r4-definitions"
OUTPUT = HERE / "terminology.ndjson.gz"
SOURCES = ("valuesets.json.gz", "v3-codesystems.json.gz", "v2-tables.json.gz")

_CODE_SYSTEM_KEYS = ("resourceType", "id", "url", "version", "name", "content", "caseSensitive", "hierarchyMeaning")
_VALUE_SET_KEYS = ("resourceType", "id", "url", "version", "name", "compose", "expansion")
_CONCEPT_KEYS = ("code", "display", "definition", "designation", "property")


def compact_concept(concept: dict[str, Any]) -> dict[str, Any]:
    kept = {key: concept[key] for key in _CONCEPT_KEYS if key in concept}
    if concept.get("concept"):
        kept["concept"] = [compact_concept(child) for child in concept["concept"]]
    return kept


def compact(resource: dict[str, Any]) -> dict[str, Any] | None:
    """The parts of a CodeSystem or ValueSet that terminology operations read; None otherwise."""
    if resource.get("resourceType") == "CodeSystem":
        kept = {key: resource[key] for key in _CODE_SYSTEM_KEYS if key in resource}
        kept["concept"] = [compact_concept(concept) for concept in resource.get("concept", [])]
        return kept
    if resource.get("resourceType") == "ValueSet":
        return {key: resource[key] for key in _VALUE_SET_KEYS if key in resource}
    return None


def generate(source: Path) -> list[dict[str, Any]]:
    """The compact CodeSystems and ValueSets of the definitions, sorted by type and url."""
    by_url: dict[str, dict[str, Any]] = {}
    for name in SOURCES:
        with gzip.open(source / name) as handle:
            bundle = json.load(handle)
        for entry in bundle.get("entry", []):
            kept = compact(entry["resource"])
            if kept is not None and kept.get("url"):
                by_url.setdefault(kept["url"], kept)  # the FHIR file wins over a v2/v3 duplicate
    return sorted(by_url.values(), key=lambda r: (r["resourceType"], r["url"]))


def line(resource: dict[str, Any]) -> str:
    text = json.dumps(resource, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{resource['resourceType']}\t{resource['url']}\t{resource.get('version', '')}\t{text}\n"


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE
    resources = generate(source)
    with gzip.GzipFile(OUTPUT, "wb", mtime=0) as handle:
        handle.write("".join(line(resource) for resource in resources).encode())
    kinds = [resource["resourceType"] for resource in resources]
    print(f"{kinds.count('CodeSystem')} code systems, {kinds.count('ValueSet')} value sets -> {OUTPUT}")


if __name__ == "__main__":
    main()
