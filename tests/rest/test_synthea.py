"""Every Synthea bundle in the shared conformance folder loads as a transaction (or batch) and
every resource reads back as sent, in JSON and in XML (apart from server meta and references
rewritten to server ids)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from ember.fhir.xml import xml_to_json
from tests.conformance import CONFORMANCE

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SYNTHEA = CONFORMANCE / "synthea"


def synthea_bundles() -> list[Path]:
    """The conditional-reference data set first, its batch bundles before its patients: their
    references must match exactly one Organization, and the other data set adds more
    Organizations with the same Synthea identifiers (unconditionally, as it is entitled to)."""

    def order(path: Path) -> tuple[bool, bool, str]:
        conditional = any(path.parent.glob("*Information*.json"))
        return (not conditional, json.loads(path.read_bytes()).get("type") != "batch", path.name)

    return sorted(SYNTHEA.glob("*/*.json"), key=order)


def _resource_matches(sent: dict[str, Any], stored: dict[str, Any], identities: dict[str, str], where: str) -> None:
    """Top level: the server assigns id and adds meta.versionId/lastUpdated; all else is kept."""
    stored_meta = {k: v for k, v in stored["meta"].items() if k not in ("versionId", "lastUpdated")}
    assert stored_meta == sent.get("meta", {}), where
    sent_rest = {k: v for k, v in sent.items() if k not in ("id", "meta")}
    stored_rest = {k: v for k, v in stored.items() if k not in ("id", "meta")}
    _matches(sent_rest, stored_rest, identities, where)


def _matches(sent: Any, stored: Any, identities: dict[str, str], where: str) -> None:
    if isinstance(sent, dict):
        assert isinstance(stored, dict) and set(stored) == set(sent), f"{where}: {set(stored) ^ set(sent)}"
        for key, value in sent.items():
            if key == "reference" and isinstance(value, str):
                _reference_matches(value, stored[key], identities, f"{where}.{key}")
            else:
                _matches(value, stored[key], identities, f"{where}.{key}")
    elif isinstance(sent, list):
        assert isinstance(stored, list) and len(stored) == len(sent), where
        for index, (a, b) in enumerate(zip(sent, stored)):
            _matches(a, b, identities, f"{where}[{index}]")
    else:
        assert sent == stored, where


def _reference_matches(sent: str, stored: str, identities: dict[str, str], where: str) -> None:
    if sent in identities:
        assert stored == identities[sent], where
    elif "?" in sent:
        assert stored.startswith(sent.split("?")[0] + "/"), where
    else:
        assert stored == sent, where


async def test_every_synthea_bundle_loads_and_reads_back(client: httpx.AsyncClient) -> None:
    bundles = synthea_bundles()
    assert len(bundles) >= 12
    checked = 0
    for path in bundles:
        bundle = json.loads(path.read_bytes())
        response = await client.post("", json=bundle)
        assert response.status_code == 200, f"{path.name}: {response.text[:500]}"
        results = response.json()["entry"]
        assert all(r["response"]["status"][:3] in ("200", "201") for r in results), path.name
        identities = {
            entry["fullUrl"]: result["response"]["location"].split("/_history")[0]
            for entry, result in zip(bundle["entry"], results)
            if "fullUrl" in entry
        }
        for entry, result in zip(bundle["entry"], results):
            if result["response"]["status"].startswith("200"):
                continue  # a conditional create that matched an earlier resource
            location = result["response"]["location"].split("/_history")[0]
            stored = await client.get(location)
            _resource_matches(entry["resource"], stored.json(), identities, location)
            as_xml = await client.get(location, params={"_format": "xml"})
            assert xml_to_json(as_xml.content) == json.loads(stored.content), location
            checked += 1
    assert checked > 5000
