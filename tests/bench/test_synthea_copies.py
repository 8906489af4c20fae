"""Copies of the Synthea sample for the search benchmark: each one a consistent, fresh transaction
that the server accepts whole, differing from the sample only where a copy must differ."""

from __future__ import annotations

import re

import httpx
import orjson
import pytest

from bench._synthea_copies import BundleTemplate, copy_plan, family_suffix_of, load_templates
from ember.rest.app import create_app
from ember.settings import Settings
from ember.store.base import Store
from tests.conformance import CONFORMANCE

SAMPLE = CONFORMANCE / "synthea" / "smart-synthea-v2.4"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def templates() -> list[BundleTemplate]:
    return load_templates(SAMPLE)


def test_every_reference_of_a_copy_points_inside_that_copy(templates: list[BundleTemplate]) -> None:
    for template in templates:
        bundle = orjson.loads(template.copy(12))
        full_urls = {entry["fullUrl"] for entry in bundle["entry"]}
        references = set(re.findall(r'"reference":"(urn:uuid:[^"]+)"', orjson.dumps(bundle).decode()))
        assert references and references <= full_urls, template.name
        assert len(full_urls) == len(bundle["entry"]) == template.resources


def test_two_copies_share_no_uuid_and_no_family_name(templates: list[BundleTemplate]) -> None:
    for template in templates:
        first, second = template.copy(3).decode(), template.copy(4).decode()
        assert not set(UUID.findall(first)) & set(UUID.findall(second)), template.name
        families = [set(re.findall(r'"family":\s*"([^"]*)"', text)) for text in (first, second)]
        assert families[0] and not families[0] & families[1], template.name


def test_a_copy_differs_from_the_sample_only_in_uuid_prefixes_and_family_suffixes(
    templates: list[BundleTemplate],
) -> None:
    for template in templates:
        original = (SAMPLE / f"{template.name}.json").read_text()
        copied = template.copy(42).decode()
        # Same positions in both texts: put each original UUID back where its copy stands.
        pieces = UUID.split(copied)
        restored = "".join(piece + uuid for piece, uuid in zip(pieces, UUID.findall(original) + [""]))
        restored = restored.replace(family_suffix_of(42) + '"', '"')
        assert restored == original, template.name
        assert all(match.group(0).startswith("0000002a") for match in UUID.finditer(copied))


def test_the_patient_family_of_each_copy_carries_the_copy_number(templates: list[BundleTemplate]) -> None:
    for template in templates:
        patient = orjson.loads(template.copy(7))["entry"][0]["resource"]
        assert patient["resourceType"] == "Patient"
        assert patient["name"][0]["family"] == template.patient_family + "00007"


def test_the_load_order_gives_whole_copies_one_after_another(templates: list[BundleTemplate]) -> None:
    plan = copy_plan(templates, 5)
    first = [next(plan) for _ in range(2 * len(templates))]
    assert [number for number, _ in first] == [5] * len(templates) + [6] * len(templates)
    assert [template.name for _, template in first[: len(templates)]] == [t.name for t in templates]


@pytest.mark.anyio
async def test_a_copy_loads_whole_as_a_transaction_next_to_another_copy(
    store: Store, templates: list[BundleTemplate]
) -> None:
    template = min(templates, key=lambda t: t.resources)
    app = create_app(Settings(max_body_bytes=8 * 1024 * 1024, auth="off"), store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ember.test/fhir") as fhir:
        patients = []
        for number in (1, 2):
            answer = await fhir.post(
                "", content=template.copy(number), headers={"Content-Type": "application/fhir+json"}
            )
            assert answer.status_code == 200, answer.text
            statuses = [entry["response"]["status"] for entry in answer.json()["entry"]]
            assert statuses == ["201 Created"] * template.resources
            patient_location = answer.json()["entry"][0]["response"]["location"].rsplit("/_history/", 1)[0]
            patients.append((await fhir.get(patient_location)).json())
    assert patients[0]["id"] != patients[1]["id"]
    assert [p["name"][0]["family"] for p in patients] == [
        template.patient_family + "00001",
        template.patient_family + "00002",
    ]
    assert patients[0]["identifier"][0]["value"] != patients[1]["identifier"][0]["value"]


def test_each_observation_gives_the_month_of_its_effective_date(templates: list[BundleTemplate]) -> None:
    for template in templates:
        observations = [
            entry["resource"]
            for entry in orjson.loads((SAMPLE / f"{template.name}.json").read_bytes())["entry"]
            if entry["resource"]["resourceType"] == "Observation"
        ]
        assert len(template.observation_months) == len(observations) > 0
        first = observations[0]["effectiveDateTime"]
        assert template.observation_months[0] == (int(first[:4]), int(first[5:7]))
