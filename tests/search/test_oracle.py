"""The oracle is right before it judges Ember: its matching rules and search logic on hand-made
resources, with answers worked out by hand from the spec's search page."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.search import matching
from tests.search.oracle import DEFINITIONS, Oracle, compiled

BASE = "http://example.org/fhir"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_commas_pipes_and_dollars_split_only_where_not_escaped() -> None:
    assert matching.split_unescaped(r"a\,b,c", ",") == [r"a\,b", "c"]
    assert matching.split_unescaped(r"s|x\|y", "|") == ["s", r"x\|y"]
    assert matching.unescape(r"x\,y\|z\$w\\") == "x,y|z$w\\"


def test_string_is_accent_and_case_insensitive_starts_with() -> None:
    name = {"family": "Ångström", "given": ["Zoë", "Anne"]}
    assert matching.string_matches(name, "angs", None)
    assert matching.string_matches(name, "ZOE", None)
    assert matching.string_matches(name, "ann", None)
    assert not matching.string_matches(name, "ström", None)
    assert matching.string_matches(name, "ström", "contains")
    assert matching.string_matches(name, "Ångström", "exact")
    assert not matching.string_matches(name, "Angstrom", "exact")
    address = {"line": ["30 Warren Street"], "city": "Milford", "postalCode": "01757"}
    assert matching.string_matches(address, "mil", None) and matching.string_matches(address, "0175", None)


def test_token_forms() -> None:
    concept = {"coding": [{"system": "http://loinc.org", "code": "8302-2", "display": "Body Height"}], "text": "Height"}
    assert matching.token_matches(concept, "8302-2", None)
    assert matching.token_matches(concept, "http://loinc.org|8302-2", None)
    assert matching.token_matches(concept, "http://loinc.org|", None)
    assert not matching.token_matches(concept, "|8302-2", None)
    assert not matching.token_matches(concept, "http://snomed.info/sct|8302-2", None)
    assert matching.token_matches(concept, "body", "text") and matching.token_matches(concept, "heig", "text")
    assert matching.token_matches("final", "final", None) and matching.token_matches("final", "|final", None)
    assert matching.token_matches(False, "false", None) and not matching.token_matches(False, "true", None)
    escaped = {"system": "http://example.org/ids", "value": "a|b,c$d"}
    assert matching.token_matches(escaped, r"http://example.org/ids|a\|b,c$d", None)


def test_token_identifier_of_type_and_contact_point() -> None:
    identifier = {
        "system": "http://hospital.example",
        "value": "123",
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
    }
    assert matching.token_matches(identifier, "http://terminology.hl7.org/CodeSystem/v2-0203|MR|123", "of-type")
    assert not matching.token_matches(identifier, "http://terminology.hl7.org/CodeSystem/v2-0203|SS|123", "of-type")
    assert matching.token_matches({"system": "phone", "value": "555-0100"}, "555-0100", None)


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("2021", "2021-01-01T00:00:00+00:00", "2022-01-01T00:00:00+00:00"),
        ("2021-12", "2021-12-01T00:00:00+00:00", "2022-01-01T00:00:00+00:00"),
        ("2021-02", "2021-02-01T00:00:00+00:00", "2021-03-01T00:00:00+00:00"),
        ("2021-03-04", "2021-03-04T00:00:00+00:00", "2021-03-05T00:00:00+00:00"),
        ("2021-03-04T10:00Z", "2021-03-04T10:00:00+00:00", "2021-03-04T10:01:00+00:00"),
        ("2021-03-04T10:00:05+02:00", "2021-03-04T08:00:05+00:00", "2021-03-04T08:00:06+00:00"),
        ("2021-03-04T10:00:05.25Z", "2021-03-04T10:00:05.250000+00:00", "2021-03-04T10:00:05.260000+00:00"),
    ],
)
def test_date_ranges_follow_the_precision_written(text: str, low: str, high: str) -> None:
    assert tuple(value.isoformat() for value in matching.date_range(text)) == (low, high)


@pytest.mark.parametrize(
    ("target", "query", "expected"),
    [
        ("2021-03-04T10:00:00Z", "2021", True),
        ("2021-03-04T10:00:00Z", "eq2021-03-04", True),
        ("2021", "eq2021-03-04", False),  # the day does not contain the whole year
        ("2021", "ne2021-03-04", True),
        ("2021", "gt2021-03-04", True),  # the year extends after the day
        ("2021", "lt2021-03-04", True),
        ("2021", "ge2021-03-04", True),
        ("2021", "sa2021-03-04", False),
        ("2021", "eb2021-03-04", False),
        ("2021", "ap2021-03-04", True),
        ("2021-03-05", "sa2021-03-04", True),
        ("2021-03-04", "sa2021-03-04", False),
        ("2021-03-03", "eb2021-03-04", True),
        ("2021-03-04", "le2021-03-04", True),
        ("2021-03-05", "le2021-03-04", False),
        ("2021-03-04T10:00:00Z", "2021-03-04T10:00Z", True),
        ("2021-03-04T10:01:00Z", "2021-03-04T10:00Z", False),
        ("2021-03-04T23:30:00-05:00", "2021-03-05", True),  # 04:30 UTC on the 5th
        ({"start": "2021-03-04T10:00:00Z"}, "gt2030", True),  # an open end goes on for ever
        ({"start": "2021-03-04T10:00:00Z"}, "eq2021", False),
        ({"start": "2021-03-04", "end": "2021-03-05"}, "eq2021-03", True),
        ({"end": "2021-03-05"}, "lt1900", True),
        ({"event": ["2021-01-01", "2021-06-01"]}, "eq2021", True),
        ({"event": ["2020-12-31", "2021-06-01"]}, "eq2021", False),
    ],
)
def test_date_prefixes(target: Any, query: str, expected: bool) -> None:
    assert matching.date_matches(target, query, NOW) is expected


def test_date_ap_widens_by_a_tenth_of_the_distance_to_now() -> None:
    # 2016-01-01 is 10 years before NOW: a year either side is "approximately".
    assert matching.date_matches("2015-01-15", "ap2016-01-01", NOW)
    assert not matching.date_matches("2014-06-01", "ap2016-01-01", NOW)


@pytest.mark.parametrize(
    ("value", "query", "expected"),
    [
        (Decimal("100"), "100", True),
        (Decimal("99.5"), "100", True),
        (Decimal("100.5"), "100", False),
        (Decimal("99.4"), "100", False),
        (Decimal("100.2"), "100.0", False),
        (Decimal("1.5"), "1.50", True),
        (Decimal("1.505"), "1.50", False),
        (Decimal("100.2"), "ne100", False),
        (Decimal("100.2"), "gt100", True),
        (Decimal("100"), "gt100", False),
        (Decimal("100"), "ge100", True),
        (Decimal("99.9"), "lt100", True),
        (Decimal("100"), "le100", True),
        (Decimal("101"), "sa100", True),
        (Decimal("100.5"), "sa100", True),
        (Decimal("99"), "eb100", True),
        (Decimal("170.22"), "gt170", True),  # greater than exactly 170
        (Decimal("109"), "ap100", True),
        (Decimal("111"), "ap100", False),
        (7, "7", True),
    ],
)
def test_numbers(value: Any, query: str, expected: bool) -> None:
    assert matching.number_matches(value, query) is expected


def test_quantities() -> None:
    quantity = {"value": 5.4, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"}
    assert matching.quantity_matches(quantity, "5.4|http://unitsofmeasure.org|mmol/L")
    assert matching.quantity_matches(quantity, "gt5|http://unitsofmeasure.org|mmol/L")
    assert matching.quantity_matches(quantity, "5.4||mmol/L")
    assert matching.quantity_matches(quantity, "5.4")
    assert not matching.quantity_matches(quantity, "5.4|http://unitsofmeasure.org|mg/dL")
    assert not matching.quantity_matches(quantity, "5.4|http://other.org|mmol/L")
    assert not matching.quantity_matches(quantity, "lt5.4")
    assert matching.quantity_matches({"value": 5, "unit": "mm"}, "5||mm")


def test_references() -> None:
    value = {"reference": "Patient/p1"}
    assert matching.reference_matches(value, "Patient/p1", None, BASE)
    assert matching.reference_matches(value, "p1", None, BASE)
    assert matching.reference_matches(value, "p1", "Patient", BASE)
    assert not matching.reference_matches(value, "p1", "Group", BASE)
    assert matching.reference_matches(value, f"{BASE}/Patient/p1", None, BASE)
    assert matching.reference_matches({"reference": f"{BASE}/Patient/p1/_history/2"}, "Patient/p1", None, BASE)
    assert not matching.reference_matches(value, "Patient/p2", None, BASE)
    assert not matching.reference_matches({"reference": "http://elsewhere.org/Patient/p1"}, "Patient/p1", None, BASE)
    by_identifier = {"identifier": {"system": "http://hl7.org/fhir/sid/us-npi", "value": "42"}}
    assert matching.reference_matches(by_identifier, "http://hl7.org/fhir/sid/us-npi|42", "identifier", BASE)
    assert not matching.reference_matches(value, "http://hl7.org/fhir/sid/us-npi|42", "identifier", BASE)


def test_uris() -> None:
    url = "http://example.org/fhir/ValueSet/lipids"
    assert matching.uri_matches(url, url, None) and not matching.uri_matches(url, url + "/v2", None)
    assert matching.uri_matches(url, "http://example.org/fhir", "below")
    assert matching.uri_matches(url, url + "/_history/2", "above")
    assert not matching.uri_matches(url, "http://example.org/other", "below")


def _resources() -> list[dict[str, Any]]:
    return [
        {"resourceType": "Patient", "id": "p1", "gender": "female", "name": [{"family": "Ångström"}]},
        {"resourceType": "Patient", "id": "p2", "gender": "male", "birthDate": "1970-05-06"},
        {
            "resourceType": "Encounter",
            "id": "e1",
            "status": "finished",
            "class": {"code": "AMB"},
            "subject": {"reference": "Patient/p1"},
        },
        {
            "resourceType": "Observation",
            "id": "o1",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
            "subject": {"reference": "Patient/p1"},
            "encounter": {"reference": "Encounter/e1"},
            "valueQuantity": {"value": 120, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
        },
        {
            "resourceType": "Observation",
            "id": "o2",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
            "subject": {"reference": "Patient/p2"},
            "component": [
                {
                    "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                    "valueQuantity": {"value": 140, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
                },
                {
                    "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                    "valueQuantity": {"value": 90, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
                },
            ],
        },
    ]


@pytest.fixture
def oracle() -> Oracle:
    return Oracle(_resources(), BASE, NOW)


@pytest.mark.parametrize(
    ("resource_type", "params", "expected"),
    [
        ("Patient", [("gender", "female,male")], {"Patient/p1", "Patient/p2"}),
        ("Patient", [("gender", "female"), ("gender", "male")], set()),
        ("Patient", [("gender:not", "female")], {"Patient/p2"}),
        ("Patient", [("birthdate:missing", "true")], {"Patient/p1"}),
        ("Patient", [("birthdate:missing", "false")], {"Patient/p2"}),
        ("Patient", [("name", "angstrom")], {"Patient/p1"}),
        ("Patient", [("_id", "p2")], {"Patient/p2"}),
        ("Patient", [("unknown-parameter", "x"), ("_count", "1")], {"Patient/p1", "Patient/p2"}),
        ("Observation", [("patient", "p1")], {"Observation/o1"}),
        ("Observation", [("subject:Patient.gender", "male")], {"Observation/o2"}),
        ("Observation", [("encounter.subject:Patient.name", "ang")], {"Observation/o1"}),
        ("Observation", [("combo-code", "8480-6")], {"Observation/o1", "Observation/o2"}),
        ("Observation", [("code", "8480-6")], {"Observation/o1"}),
        ("Observation", [("value-quantity", "gt100")], {"Observation/o1"}),
        ("Observation", [("component-code-value-quantity", "http://loinc.org|8480-6$gt130")], {"Observation/o2"}),
        ("Observation", [("component-code-value-quantity", "http://loinc.org|8462-4$gt130")], set()),
        (
            "Observation",
            [("code-value-quantity", "http://loinc.org|8480-6$120|http://unitsofmeasure.org|mm[Hg]")],
            {"Observation/o1"},
        ),
        ("Observation", [("code-value-quantity", "http://loinc.org\\|8480-6$120")], set()),
        (
            "Observation",
            [("combo-code-value-quantity", "8480-6$lt130,8480-6$gt130")],
            {"Observation/o1", "Observation/o2"},
        ),
        ("Patient", [("_has:Observation:patient:code", "8480-6")], {"Patient/p1"}),
        ("Patient", [("_has:Encounter:subject:_has:Observation:encounter:code", "8480-6")], {"Patient/p1"}),
        ("Patient", [("_has:Observation:patient:code", "8462-4")], set()),
        (None, [("_type", "Patient,Encounter")], {"Patient/p1", "Patient/p2", "Encounter/e1"}),
    ],
)
def test_oracle_search(
    oracle: Oracle, resource_type: str | None, params: list[tuple[str, str]], expected: set[str]
) -> None:
    assert oracle.matches(resource_type, params) == expected


def test_oracle_includes(oracle: Oracle) -> None:
    matched = {"Observation/o1"}
    assert oracle.includes(matched, [("_include", "Observation:subject")]) == {"Patient/p1"}
    assert oracle.includes(matched, [("_include", "Observation:*")]) == {"Patient/p1", "Encounter/e1"}
    assert oracle.includes(matched, [("_include", "Observation:subject:Group")]) == set()
    iterate = [("_include", "Observation:encounter"), ("_include:iterate", "Encounter:subject")]
    assert oracle.includes(matched, iterate) == {"Encounter/e1", "Patient/p1"}
    without = [("_include", "Observation:encounter"), ("_include", "Encounter:subject")]
    assert oracle.includes(matched, without) == {"Encounter/e1"}
    revinclude = [("_revinclude", "Observation:subject")]
    assert oracle.includes({"Patient/p1"}, revinclude) == {"Observation/o1"}
    assert oracle.includes({"Patient/p1"}, [*revinclude, ("_include:iterate", "Observation:encounter")]) == {
        "Observation/o1",
        "Encounter/e1",
    }


def test_oracle_code_hierarchy() -> None:
    system = "http://example.org/shapes"
    shapes = {
        "resourceType": "CodeSystem",
        "id": "cs",
        "url": system,
        "concept": [
            {"code": "shape", "concept": [{"code": "polygon", "concept": [{"code": "square"}]}, {"code": "circle"}]}
        ],
    }
    coded = [
        {"resourceType": "Observation", "id": code, "code": {"coding": [{"system": system, "code": code}]}}
        for code in ("shape", "polygon", "square", "circle")
    ]
    oracle = Oracle([shapes, *coded], BASE, NOW)
    below = oracle.matches("Observation", [("code:below", f"{system}|polygon")])
    assert below == {"Observation/polygon", "Observation/square"}
    above = oracle.matches("Observation", [("code:above", f"{system}|square")])
    assert above == {"Observation/square", "Observation/polygon", "Observation/shape"}


def test_oracle_sort_keys(oracle: Oracle) -> None:
    assert oracle.sort_key("Patient/p2", "birthdate", False) == datetime(1970, 5, 6, tzinfo=UTC)
    assert oracle.sort_key("Patient/p2", "birthdate", True) == datetime(1970, 5, 7, tzinfo=UTC)
    assert oracle.sort_key("Patient/p1", "birthdate", False) is None
    assert oracle.sort_key("Patient/p1", "family", False) == "angstrom"


def test_oracle_refuses_what_it_cannot_judge(oracle: Oracle) -> None:
    with pytest.raises(ValueError):
        oracle.matches("Patient", [("name:below", "ang")])


def test_every_r4_expression_runs_on_its_base_types() -> None:
    """The rewrites leave every one of the spec's expressions something fhirpathpy can run."""
    bundle = json.loads(gzip.decompress(DEFINITIONS.read_bytes()))
    checked = 0
    for entry in bundle["entry"]:
        parameter = entry["resource"]
        for base in parameter["base"] if "expression" in parameter else []:
            resource_type = "Patient" if base in ("Resource", "DomainResource") else base
            assert isinstance(compiled(parameter["expression"], resource_type)({"resourceType": resource_type}), list)
            checked += 1
    assert checked > 1300
