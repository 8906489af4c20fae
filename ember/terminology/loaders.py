"""Bulk loading of large code systems: a FHIR CodeSystem JSON file, or a CSV of local codes.

The CSV form is for local code systems (lab catalogues and the like): a header row with `code`,
`display` and optionally `parent` (the parent's code, empty for a root). Either way the result is
one CodeSystem resource written through the normal update interaction, so validation, history,
the canonical-url records and the stored closure are exactly what the REST API would produce.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ember.access import AccessContext
from ember.fhir import jsonio
from ember.fhir.outcome import error
from ember.interactions.dispatch import dispatch
from ember.interactions.request import FhirRequest
from ember.store.base import Store

Progress = Callable[[int], None]  # called with how many more concepts were read

_PARENT_PROPERTY = {"code": "parent", "uri": "http://hl7.org/fhir/concept-properties#parent", "type": "code"}
_REPORT_EVERY = 1000


def read_code_system_json(path: Path) -> dict[str, Any]:
    """A CodeSystem resource from a JSON file; 400 when the file holds something else."""
    resource = jsonio.loads(path.read_bytes())
    if not isinstance(resource, dict) or resource.get("resourceType") != "CodeSystem":
        raise error(400, "invalid", f"{path.name} does not contain a CodeSystem resource")
    return resource


def read_code_system_csv(
    path: Path, url: str, name: str | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """A complete CodeSystem `url` from a CSV with code, display and optional parent columns."""
    concepts: list[dict[str, Any]] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "code" not in reader.fieldnames:
            raise error(400, "invalid", f"{path.name} needs a header row with a 'code' column")
        for row in reader:
            concepts.append(_csv_concept(row, reader.line_num))
            if progress is not None and len(concepts) % _REPORT_EVERY == 0:
                progress(_REPORT_EVERY)
    if progress is not None:
        progress(len(concepts) % _REPORT_EVERY)
    return {
        "resourceType": "CodeSystem",
        "url": url,
        "name": name or _name_from(path),
        "status": "active",
        "content": "complete",
        "hierarchyMeaning": "is-a",
        "count": len(concepts),
        "property": [_PARENT_PROPERTY],
        "concept": concepts,
    }


def _csv_concept(row: dict[str, str | None], line: int) -> dict[str, Any]:
    code = (row.get("code") or "").strip()
    if not code:
        raise error(400, "invalid", f"Line {line}: the code is empty")
    concept: dict[str, Any] = {"code": code}
    display = (row.get("display") or "").strip()
    if display:
        concept["display"] = display
    parent = (row.get("parent") or "").strip()
    if parent:
        concept["property"] = [{"code": "parent", "valueCode": parent}]
    return concept


def _name_from(path: Path) -> str:
    """A computable name (R4 cnl-0 asks for an identifier-like one) from the file name."""
    cleaned = re.sub(r"[^A-Za-z0-9_]", "_", path.stem)
    return cleaned if cleaned[:1].isalpha() else f"CS_{cleaned}"


def resource_id_for(url: str) -> str:
    """A stable id for a code system loaded without one, so loading the same url again updates it."""
    return "cs-" + hashlib.sha256(url.encode()).hexdigest()[:32]


async def store_code_system(store: Store, resource: dict[str, Any]) -> tuple[str, int]:
    """Create or update the CodeSystem (keeping its id, or one derived from its url): (id, status)."""
    if not isinstance(resource.get("url"), str):
        raise error(400, "required", "A code system to load needs a url")
    resource_id = resource.get("id") or resource_id_for(resource["url"])
    resource = {**resource, "id": resource_id}
    request = FhirRequest(
        "update", "CodeSystem", resource_id, body=resource, method="PUT", headers={"prefer": "return=minimal"}
    )
    response = await dispatch(AccessContext.system("ember terminology load"), request, store)
    return resource_id, response.status
