"""Behaviour of the engine beyond the official suite: the API, hooks, FHIR JSON details."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from typing import Any

import pytest

from ember.fhir import fhirpath
from ember.fhir.fhirpath.fastpath import element_types, plan, relative_root_keys
from ember.fhir.fhirpath.syntax import parse
from tests.conformance import CONFORMANCE

CONFORMANCE = CONFORMANCE

PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "birthDate": "1974-12-25",
    "_birthDate": {
        "id": "bd",
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                "valueDateTime": "1974-12-25T14:35:45-05:00",
            }
        ],
    },
    "name": [{"given": ["Peter", None], "_given": [None, {"extension": [{"url": "x"}]}]}],
    "managingOrganization": {"reference": "Organization/1"},
    "contained": [{"resourceType": "Practitioner", "id": "gp"}],
    "generalPractitioner": [{"reference": "#gp"}],
}


def test_compile_is_cached_and_reusable() -> None:
    assert fhirpath.compile("Patient.id") is fhirpath.compile("Patient.id")
    assert fhirpath.compile("Patient.id")(PATIENT) == ["p1"]


def test_errors_have_a_common_base() -> None:
    with pytest.raises(fhirpath.FhirPathSyntaxError):
        fhirpath.compile("Patient.name.(")
    with pytest.raises(fhirpath.FhirPathEvaluationError):
        fhirpath.evaluate(PATIENT, "Patient.name.given.single()")
    assert issubclass(fhirpath.FhirPathSyntaxError, fhirpath.FhirPathError)


def test_undefined_elements_raise_instead_of_silently_giving_empty() -> None:
    with pytest.raises(fhirpath.FhirPathEvaluationError, match="birthdate"):
        fhirpath.evaluate(PATIENT, "Patient.birthdate")


def test_primitive_extensions_and_ids_come_from_underscore_siblings() -> None:
    assert fhirpath.evaluate(PATIENT, "birthDate.extension.url") == [
        "http://hl7.org/fhir/StructureDefinition/patient-birthTime"
    ]
    assert fhirpath.evaluate(PATIENT, "birthDate.id") == ["bd"]
    assert fhirpath.evaluate(PATIENT, "name.given.count()") == [2]
    assert fhirpath.evaluate(PATIENT, "name.given.select(hasValue())") == [True, False]


@pytest.mark.parametrize("value", [1.5, Decimal("1.50")])
def test_decimals_may_be_floats_or_decimals(value: Any) -> None:
    observation = {
        "resourceType": "Observation",
        "valueQuantity": {"value": value, "system": "http://unitsofmeasure.org", "code": "mg"},
    }
    assert fhirpath.evaluate(observation, "Observation.value = 0.0015 'g'") == [True]
    assert fhirpath.evaluate(observation, "Observation.value.value > 1") == [True]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 'kg' = 1000 'g'", True),
        ("10 'mm' = 1 'cm'", True),
        ("1 'm' > 99 'cm'", True),
        ("60 'min' = 1 'h'", True),
        ("1 'd' = 24 'h'", True),
        ("1 'wk' = 7 'd'", True),
        ("1 '[lb_av]' < 1 'kg'", True),
        ("1 'mg' = 1 'mL'", None),
        ("@2020-01-31 + 1 month", "2020-02-29"),
        ("@2020-01-01 + 2 'wk'", "2020-01-15"),
        ("@2020-03-01T10:00:00Z - 90 'min'", "2020-03-01T08:30:00Z"),
    ],
)
def test_ucum_conversions_and_date_arithmetic(expression: str, expected: Any) -> None:
    result = fhirpath.evaluate(None, expression)
    if expected is None:
        assert result == []
    elif isinstance(expected, str):
        assert [str(item) for item in result] == [expected]
    else:
        assert result == [expected]


def test_partial_dates_compare_as_unknown() -> None:
    assert fhirpath.evaluate(None, "@2018-03 < @2018-03-01") == []
    assert fhirpath.evaluate(None, "@2018-02 < @2018-03-01") == [True]


def test_resolve_contained_literal_and_bundle_references() -> None:
    assert fhirpath.evaluate(PATIENT, "generalPractitioner.resolve().id") == ["gp"]
    assert fhirpath.evaluate(PATIENT, "managingOrganization.where(resolve() is Organization).exists()") == [True]
    bundle = {
        "resourceType": "Bundle",
        "entry": [
            {
                "fullUrl": "urn:uuid:1",
                "resource": {"resourceType": "Patient", "id": "a", "link": [{"other": {"reference": "urn:uuid:2"}}]},
            },
            {"fullUrl": "urn:uuid:2", "resource": {"resourceType": "Patient", "id": "b"}},
        ],
    }
    assert fhirpath.evaluate(bundle, "entry.resource.link.other.resolve().id") == ["b"]


def test_resolver_hook_is_consulted() -> None:
    target = {"resourceType": "Organization", "id": "1", "name": "Acme"}
    assert fhirpath.evaluate(PATIENT, "managingOrganization.resolve().name", resolver=lambda ref: target) == ["Acme"]


class FakeTerminology:
    """Males are members; a code subsumes itself and every code that starts with it."""

    def member_of(self, coded: Any, value_set: str) -> bool | None:
        return coded == "male" if value_set == "http://x" else None

    def subsumes(self, coded_a: Any, coded_b: Any) -> bool | None:
        return coded_b["code"].startswith(coded_a["code"]) if coded_a["system"] == coded_b["system"] else None


def test_terminology_functions_need_a_terminology_service() -> None:
    patient = {"resourceType": "Patient", "gender": "male"}
    for expression in ("gender.memberOf('http://x')", "gender.subsumes(gender)", "gender.subsumedBy(gender)"):
        with pytest.raises(fhirpath.FhirPathEvaluationError, match="terminology"):
            fhirpath.evaluate(patient, expression)
    terminology = FakeTerminology()
    assert fhirpath.evaluate(patient, "gender.memberOf('http://x')", terminology=terminology) == [True]
    assert fhirpath.evaluate(patient, "gender.memberOf('http://y')", terminology=terminology) == []


def test_subsumes_and_subsumed_by_ask_in_opposite_directions() -> None:
    observation = {
        "resourceType": "Observation",
        "code": {"coding": [{"system": "s", "code": "ab"}]},
        "category": [{"coding": [{"system": "s", "code": "a"}]}, {"coding": [{"system": "t", "code": "a"}]}],
    }
    hooks = {"terminology": FakeTerminology()}
    assert fhirpath.evaluate(observation, "category[0].coding.subsumes(%resource.code.coding)", **hooks) == [True]
    assert fhirpath.evaluate(observation, "code.coding.subsumes(%resource.category[0].coding)", **hooks) == [False]
    assert fhirpath.evaluate(observation, "code.coding.subsumedBy(%resource.category[0].coding)", **hooks) == [True]
    assert fhirpath.evaluate(observation, "code.coding.subsumedBy(%resource.category[1].coding)", **hooks) == []
    # Not single items on either side: empty, as the specification says.
    assert fhirpath.evaluate(observation, "category.coding.subsumes(%resource.code.coding)", **hooks) == []


def test_trace_and_variables() -> None:
    seen: list[tuple[str, list[Any]]] = []
    result = fhirpath.evaluate(
        PATIENT, "id.trace('ids') = %expected", {"expected": "p1"}, tracer=lambda n, v: seen.append((n, v))
    )
    assert result == [True] and seen == [("ids", ["p1"])]


def test_typed_results_carry_fhir_and_system_types() -> None:
    typed = fhirpath.compile("birthDate | 1 | @2020").typed(PATIENT)
    assert [item.type for item in typed] == ["FHIR.date", "System.Integer", "System.Date"]


def _synthea_resources() -> list[dict[str, Any]]:
    resources = []
    for path in sorted(CONFORMANCE.glob("synthea/smart-synthea-v2.4/*.json"))[:3]:
        resources += [e["resource"] for e in json.loads(path.read_text())["entry"]]
    return resources


def test_fast_plain_paths_agree_with_the_general_engine() -> None:
    """Every search-parameter expression gives the same values by both routes."""
    with gzip.open(CONFORMANCE / "fhir-r4-definitions" / "search-parameters.json.gz") as f:
        expressions = {e["resource"].get("expression") for e in json.load(f)["entry"]}
    resources = _synthea_resources()
    planned = 0
    for expression in sorted(filter(None, expressions)):
        compiled = fhirpath.compile(expression)
        if plan(parse(expression)) is None:
            continue
        planned += 1
        for resource in resources:
            general = [getattr(n, "value", n) for n in compiled.nodes(resource)]
            assert compiled(resource) == general, expression
    assert planned > 500


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("Patient.generalPractitioner.where(resolve() is Practitioner)", [{"reference": "#gp"}]),
        ("Patient.generalPractitioner.where(resolve() is Organization)", []),
        (
            "Observation.subject.where(resolve() is Patient)",
            [{"reference": "Patient/1"}, {"reference": "http://other.org/fhir/Patient/2/_history/3"}],
        ),
        ("(Observation.value as CodeableConcept).text", ["Sweet"]),
        ("Observation | Observation.component", None),
    ],
)
def test_fast_lane_shapes_agree_with_the_general_engine(expression: str, expected: list[Any] | None) -> None:
    """Reference-type filters (contained targets fall back to resolve()), casts inside a path
    and the resource itself: fast lane or not, the answer is the general engine's."""
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "taste"},
        "subject": [{"reference": "Patient/1"}, {"reference": "Group/1"}],
        "valueCodeableConcept": {"text": "Sweet"},
        "component": [{"code": {"text": "part"}}],
    }
    observation["subject"].append({"reference": "http://other.org/fhir/Patient/2/_history/3"})
    resource = PATIENT if expression.startswith("Patient") else observation
    compiled = fhirpath.compile(expression)
    general = [getattr(n, "value", n) for n in compiled.nodes(resource)]
    assert compiled(resource) == general
    if expected is not None:
        assert general == expected
    assert plan(parse(expression)) is not None


@pytest.mark.parametrize(
    ("base", "part", "keys"),
    [
        ("Observation | Observation.component", "value.as(Quantity)", {"valueQuantity"}),
        ("Observation.component", "code", {"code"}),
        ("Questionnaire.useContext", "value.as(Quantity) | value.as(Range)", {"valueQuantity", "valueRange"}),
        (
            "Group.characteristic",
            "value.where(true).first()",  # filters keep every type of value[x]
            {"valueCodeableConcept", "valueBoolean", "valueQuantity", "valueRange", "valueReference"},
        ),
        ("Observation", "value.as(DateTime)", None),  # no FHIR type of that name: left to the engine
        ("Observation", "value.exists()", None),  # true or false on an empty value
        ("Observation", "%resource.code", None),
    ],
)
def test_composite_parts_read_known_keys(base: str, part: str, keys: set[str] | None) -> None:
    types = element_types(parse(base))
    assert types is not None
    assert relative_root_keys(parse(part), types) == (None if keys is None else frozenset(keys))


def test_composite_parts_are_empty_without_their_keys() -> None:
    """The keys a composite's part reads on each composite value (relative_root_keys): a value
    with none of them gives the part no value, by the general engine, on every R4 composite
    and every Synthea resource."""
    with gzip.open(CONFORMANCE / "fhir-r4-definitions" / "search-parameters.json.gz") as f:
        composites = [e["resource"] for e in json.load(f)["entry"] if e["resource"].get("type") == "composite"]
    resources = _synthea_resources()
    checked = 0
    for composite in composites:
        base = composite.get("expression")
        types = element_types(parse(base)) if base else None
        if types is None:
            continue
        values = [item for resource in resources for item in fhirpath.compile(base)(resource)]
        for component in composite.get("component", ()):
            keys = relative_root_keys(parse(component["expression"]), types)
            if keys is None:
                continue
            part = fhirpath.compile(component["expression"])
            for value in values:
                if keys.isdisjoint(value):
                    assert part(value) == [], (composite["code"], component["expression"])
                    checked += 1
    assert checked > 1_000
