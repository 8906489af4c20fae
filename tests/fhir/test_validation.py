"""Validation on write: what `validate_resource` accepts, what it reports, and where.

Each rule has a test asserting the exact (issue code, FHIRPath expression) pairs, because
clients rely on both to fix their payloads. The Synthea sample bundles must validate cleanly.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ember.fhir import model
from ember.fhir.outcome import FhirError, Issue
from ember.fhir.validation import raise_for_issues, validate_resource
from ember.fhir.validation.schema import Kind, schema
from ember.fhir.validation.walker import MAX_DEPTH, MAX_ISSUES
from tests.conformance import CONFORMANCE

SYNTHEA = CONFORMANCE / "synthea"
BUNDLES = sorted(SYNTHEA.glob("*/*.json"))
CLINICAL_STATUS = "http://terminology.hl7.org/CodeSystem/condition-clinical"


def found(resource: Any, **expected: str) -> list[tuple[str, str]]:
    """The (code, expression) of every issue, in the order reported."""
    return [(issue.code, ",".join(issue.expression)) for issue in validate_resource(resource, **expected)]


def observation(**elements: Any) -> dict[str, Any]:
    """A valid Observation, plus (or minus, with None) some elements."""
    resource: dict[str, Any] = {"resourceType": "Observation", "status": "final", "code": {"text": "weight"}}
    resource.update(elements)
    return {name: value for name, value in resource.items() if value is not None}


def patient(**elements: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", **elements}


# --- the sample data -------------------------------------------------------------------------


@pytest.mark.parametrize("bundle_path", BUNDLES, ids=lambda path: path.name[:40])
def test_every_synthea_resource_validates_without_issues(bundle_path: Path) -> None:
    bundle = orjson.loads(bundle_path.read_bytes())
    problems = {
        f"{entry['resource']['resourceType']}/{entry['resource'].get('id')}": validate_resource(entry["resource"])
        for entry in bundle["entry"]
    }
    assert {name: issues for name, issues in problems.items() if issues} == {}


def test_synthea_bundles_are_present() -> None:
    assert len(BUNDLES) >= 10


def test_a_whole_synthea_bundle_validates_as_one_resource() -> None:
    bundle = orjson.loads(BUNDLES[0].read_bytes())
    assert validate_resource(bundle) == []


def test_every_type_reachable_from_a_resource_compiles() -> None:
    pending, seen = list(model.resource_types()), set()
    while pending:
        key = pending.pop()
        if key in seen:
            continue
        seen.add(key)
        table = schema(key)
        assert table is not None, key
        pending += [slot.children for slot in table.slots.values() if slot.kind is Kind.COMPLEX and slot.children]
        assert all(slot.check for slot in table.slots.values() if slot.kind is Kind.PRIMITIVE), key
    assert len(seen) > 600


# --- the body and resourceType ---------------------------------------------------------------


@pytest.mark.parametrize("body", [[], "Patient", 1, None, True])
def test_a_body_that_is_not_an_object_is_a_structure_issue(body: Any) -> None:
    assert found(body) == [("structure", "")]


def test_missing_resource_type_is_required() -> None:
    assert found({"id": "1"}) == [("required", "Resource")]
    assert found({"id": "1"}, expected_type="Patient") == [("required", "Patient"), ("invalid", "Patient")]


@pytest.mark.parametrize("resource_type", ["Foo", "DomainResource", "Resource", "HumanName", "patient", 7])
def test_unknown_or_abstract_resource_types_are_rejected(resource_type: Any) -> None:
    assert found({"resourceType": resource_type}) == [("structure", "Resource")]


# --- unknown elements ------------------------------------------------------------------------


def test_unknown_elements_are_reported_at_every_depth() -> None:
    resource = patient(
        foo=1,
        name=[{"family": "Doe", "nickname": "J"}],
        contact=[{"name": {"text": "x"}, "colour": "red"}],
        extension=[{"url": "http://example.org/x", "valueString": "a", "bogus": True}],
        contained=[{"resourceType": "Organization", "id": "o", "nom": "x"}],
    )
    assert sorted(found(resource)) == [
        ("structure", "Patient.contact[0].colour"),
        ("structure", "Patient.contained[0].nom"),
        ("structure", "Patient.extension[0].bogus"),
        ("structure", "Patient.foo"),
        ("structure", "Patient.name[0].nickname"),
    ]


def test_unknown_elements_are_found_through_content_references() -> None:
    deep_item = {"linkId": "3", "type": "string", "bad": 1}
    items = [{"linkId": "1", "type": "group", "item": [{"linkId": "2", "type": "group", "item": [deep_item]}]}]
    questionnaire = {"resourceType": "Questionnaire", "status": "draft", "item": items}
    assert found(questionnaire) == [("structure", "Questionnaire.item[0].item[0].item[0].bad")]


def test_resource_type_is_only_allowed_on_resources() -> None:
    assert found(patient(name=[{"resourceType": "HumanName", "family": "x"}])) == [
        ("structure", "Patient.name[0].resourceType")
    ]


def test_a_choice_element_needs_its_type_suffix() -> None:
    assert found(observation(value=1)) == [("structure", "Observation.value")]
    assert found(observation(valueFoo=1)) == [("structure", "Observation.valueFoo")]


def test_bundle_entries_are_validated_as_resources() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": patient(bad=1)}, {"resource": {"resourceType": "Nope"}}, {"resource": observation()}],
    }
    assert found(bundle) == [("structure", "Bundle.entry[0].resource.bad"), ("structure", "Bundle.entry[1].resource")]


# --- JSON types, arrays, nulls and empties ---------------------------------------------------


@pytest.mark.parametrize(
    ("elements", "expression"),
    [
        ({"active": "true"}, "Patient.active"),
        ({"active": 1}, "Patient.active"),
        ({"gender": 1}, "Patient.gender"),
        ({"birthDate": {"value": "2000"}}, "Patient.birthDate"),
        ({"maritalStatus": "M"}, "Patient.maritalStatus"),
        ({"name": ["Doe"]}, "Patient.name[0]"),
        ({"multipleBirthInteger": 1.5}, "Patient.multipleBirthInteger"),
        ({"multipleBirthInteger": True}, "Patient.multipleBirthInteger"),
    ],
)
def test_wrong_json_types_are_structure_issues(elements: dict[str, Any], expression: str) -> None:
    assert found(patient(**elements)) == [("structure", expression)]


def test_repeating_elements_must_be_arrays_and_single_ones_must_not() -> None:
    assert found(patient(name={"family": "Doe"}, gender=["male"])) == [
        ("structure", "Patient.name"),
        ("structure", "Patient.gender"),
    ]


def test_nulls_and_empty_values_are_invalid() -> None:
    resource = patient(active=None, telecom=[], address=[{}], maritalStatus={}, name=[None], gender="")
    assert found(resource) == [
        ("structure", "Patient.active"),
        ("structure", "Patient.telecom"),
        ("structure", "Patient.address[0]"),
        ("structure", "Patient.maritalStatus"),
        ("structure", "Patient.name[0]"),
        ("value", "Patient.gender"),
    ]


def test_a_null_inside_a_primitive_array_needs_extensions_at_the_same_place() -> None:
    assert found(patient(name=[{"given": ["Ann", None]}])) == [("structure", "Patient.name[0].given[1]")]


# --- cardinality -----------------------------------------------------------------------------


def test_missing_required_elements_are_reported_where_they_belong() -> None:
    assert found(observation(status=None, code=None)) == [
        ("required", "Observation.status"),
        ("required", "Observation.code"),
    ]
    link = {"resourceType": "Patient", "link": [{"type": "seealso"}]}
    assert found(link) == [("required", "Patient.link[0].other")]


def test_a_required_choice_element_is_satisfied_by_any_of_its_types() -> None:
    request = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/1"},
    }
    assert found(request) == [("required", "MedicationRequest.medication")]
    assert found({**request, "medicationReference": {"reference": "Medication/1"}}) == []
    assert found({**request, "medicationCodeableConcept": {"text": "aspirin"}}) == []


def test_a_required_primitive_may_be_present_only_through_extensions() -> None:
    absent = {
        "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]
    }
    assert found(observation(status=None, _status=absent)) == []


# --- primitive formats -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("elements", "expression"),
    [
        ({"birthDate": "2000-13-01"}, "Patient.birthDate"),
        ({"birthDate": "2001-02-29"}, "Patient.birthDate"),
        ({"birthDate": "20000101"}, "Patient.birthDate"),
        ({"deceasedDateTime": "2020-01-01T10:00:00"}, "Patient.deceasedDateTime"),
        ({"deceasedDateTime": "2020-01-01T25:00:00Z"}, "Patient.deceasedDateTime"),
        ({"id": "has space"}, "Patient.id"),
        ({"id": "x" * 65}, "Patient.id"),
        ({"id": "a_b"}, "Patient.id"),
        ({"implicitRules": "http://exa mple.org"}, "Patient.implicitRules"),
        ({"gender": "male "}, "Patient.gender"),
        ({"language": "en  US"}, "Patient.language"),
        ({"multipleBirthInteger": 2**31}, "Patient.multipleBirthInteger"),
        ({"multipleBirthInteger": -(2**31) - 1}, "Patient.multipleBirthInteger"),
        ({"photo": [{"data": "not base64!"}]}, "Patient.photo[0].data"),
        ({"photo": [{"data": "abc"}]}, "Patient.photo[0].data"),
        ({"photo": [{"size": -1}]}, "Patient.photo[0].size"),
        ({"name": [{"family": "bad\x00byte"}]}, "Patient.name[0].family"),
        ({"name": [{"family": "lone \ud800 surrogate"}]}, "Patient.name[0].family"),
        ({"name": [{"family": "x" * (1024 * 1024 + 1)}]}, "Patient.name[0].family"),
        ({"meta": {"lastUpdated": "2020-01-01"}}, "Patient.meta.lastUpdated"),
        ({"meta": {"versionId": "1 2"}}, "Patient.meta.versionId"),
        ({"meta": {"profile": ["with space"]}}, "Patient.meta.profile[0]"),
        ({"extension": [{"url": "http://x", "valueOid": "urn:oid:1.2.x"}]}, "Patient.extension[0].valueOid"),
        ({"extension": [{"url": "http://x", "valueOid": "1.2.3"}]}, "Patient.extension[0].valueOid"),
        ({"extension": [{"url": "http://x", "valueUuid": "urn:uuid:ABC"}]}, "Patient.extension[0].valueUuid"),
        ({"extension": [{"url": "http://x", "valueUrl": "http://a b"}]}, "Patient.extension[0].valueUrl"),
        ({"extension": [{"url": "http://x", "valueCanonical": "http://a b"}]}, "Patient.extension[0].valueCanonical"),
        (
            {"extension": [{"url": "http://x", "valueInstant": "2020-01-01T00:00:00"}]},
            "Patient.extension[0].valueInstant",
        ),
        ({"extension": [{"url": "http://x", "valueUnsignedInt": -1}]}, "Patient.extension[0].valueUnsignedInt"),
        ({"extension": [{"url": "http://x", "valuePositiveInt": 0}]}, "Patient.extension[0].valuePositiveInt"),
        ({"extension": [{"url": "http://x", "valueMarkdown": ""}]}, "Patient.extension[0].valueMarkdown"),
        ({"extension": [{"url": "has space", "valueString": "x"}]}, "Patient.extension[0].url"),
    ],
)
def test_bad_primitive_values_are_value_issues(elements: dict[str, Any], expression: str) -> None:
    assert found(patient(**elements)) == [("value", expression)]


@pytest.mark.parametrize(
    "elements",
    [
        {"birthDate": "2000"},
        {"birthDate": "2000-02"},
        {"birthDate": "2000-02-29"},
        {"deceasedDateTime": "2020-01-01T10:00:00.123+14:00"},
        {"id": "A-1.b"},
        {"name": [{"family": "Ström\u00a0Ørsted", "text": "line\nbreak\ttab"}]},
        {"multipleBirthInteger": -(2**31)},
        {"photo": [{"data": "aGVs\nbG8=", "size": 0}]},
        {"photo": [{"data": "QUJD" * 400_000}]},
        {"meta": {"lastUpdated": "2020-01-01T00:00:00Z", "versionId": "1"}},
        {"extension": [{"url": "http://x", "valueOid": "urn:oid:2.16.840.1.113883"}]},
        {"extension": [{"url": "http://x", "valueUuid": "urn:uuid:0c7764a9-ede1-44de-9c32-8d41151a713e"}]},
        {"extension": [{"url": "http://x", "valueInstant": "2020-01-01T00:00:00.5-05:00"}]},
        {"extension": [{"url": "http://x", "valueBase64Binary": "aGVsbG8="}]},
    ],
)
def test_good_primitive_values_pass(elements: dict[str, Any]) -> None:
    assert found(patient(**elements)) == []


def test_a_value_is_checked_every_time_and_per_type() -> None:
    for _ in range(3):
        assert found(patient(gender="male", birthDate="2000-01-01")) == []
        assert found(patient(birthDate="2000-02-30")) == [("value", "Patient.birthDate")]
    assert found(patient(id="2000-01-01", implicitRules="2000-01-01", language="male")) == []
    assert found(patient(birthDate="male")) == [("value", "Patient.birthDate")]


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (1, None),
        (1.5, None),
        (Decimal("1.50"), None),
        ("1.5", "structure"),
        (True, "structure"),
        (float("nan"), "value"),
    ],
)
def test_decimals_are_json_numbers_or_exact_decimals(value: Any, code: str | None) -> None:
    expected = [] if code is None else [(code, "Observation.valueQuantity.value")]
    assert found(observation(valueQuantity={"value": value, "unit": "kg"})) == expected


@pytest.mark.parametrize(("value", "ok"), [(1, True), (0, False), (-1, False), (2**31, False)])
def test_positive_ints_are_checked(value: int, ok: bool) -> None:
    schedule = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}
    schedule["valueSampledData"] = {"origin": {"value": 0}, "period": 1, "dimensions": value}
    assert found(schedule) == ([] if ok else [("value", "Observation.valueSampledData.dimensions")])


@pytest.mark.parametrize(("value", "ok"), [("12:30:00", True), ("12:30", False), ("24:00:00", False)])
def test_times_are_checked(value: str, ok: bool) -> None:
    assert found(observation(valueTime=value)) == ([] if ok else [("value", "Observation.valueTime")])


# --- primitive extensions --------------------------------------------------------------------

EXTENSION = {"extension": [{"url": "http://example.org/why", "valueString": "because"}]}


def test_primitive_extensions_are_accepted_beside_or_instead_of_the_value() -> None:
    assert found(patient(birthDate="2000-01-01", _birthDate={"id": "b", **EXTENSION})) == []
    assert found(patient(_birthDate=EXTENSION)) == []
    assert found(patient(name=[{"given": ["Ann", None], "_given": [None, EXTENSION]}])) == []
    assert found(patient(name=[{"_given": [EXTENSION]}])) == []


def test_primitive_extensions_must_be_well_formed() -> None:
    assert found(patient(_birthDate={"id": "b"})) == [("structure", "Patient.birthDate")]
    assert found(patient(_birthDate=[EXTENSION])) == [("structure", "Patient.birthDate")]
    assert found(patient(_birthDate={"extension": [{"valueString": "x"}]})) == [
        ("required", "Patient.birthDate.extension[0].url")
    ]
    assert found(patient(_birthDate={"extension": [{"url": "http://x", "valueString": "x"}], "oops": 1})) == [
        ("structure", "Patient.birthDate.oops")
    ]
    assert found(patient(_name=EXTENSION)) == [("structure", "Patient.name")]


def test_primitive_extension_arrays_must_align_with_their_values() -> None:
    assert found(patient(name=[{"given": ["a", "b"], "_given": [EXTENSION]}])) == [
        ("structure", "Patient.name[0].given")
    ]
    assert found(patient(name=[{"given": ["a", None], "_given": [EXTENSION, None]}])) == [
        ("structure", "Patient.name[0].given[1]")
    ]
    assert found(patient(name=[{"_given": [EXTENSION, None]}])) == [("structure", "Patient.name[0].given[1]")]
    assert found(patient(name=[{"given": ["a"], "_given": {"id": "x"}}])) == [("structure", "Patient.name[0].given")]


# --- choice elements -------------------------------------------------------------------------


def test_two_types_of_one_choice_element_are_an_error() -> None:
    assert found(observation(valueString="a", valueQuantity={"value": 1})) == [
        ("structure", "Observation.valueQuantity")
    ]
    assert found(observation(valueString="a", _valueBoolean=EXTENSION)) == [("structure", "Observation.valueBoolean")]
    assert found(observation(valueString="a", _valueString=EXTENSION)) == []


# --- references ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reference",
    [
        "Patient/123",
        "Patient/123/_history/2",
        "https://example.org/fhir/Patient/123",
        "https://example.org/fhir/Patient/123/_history/1",
        "http://example.org/some/thing",
        "urn:uuid:0c7764a9-ede1-44de-9c32-8d41151a713e",
        "urn:oid:1.2.3.4",
        "Patient?identifier=http://example.org|123",
    ],
)
def test_accepted_reference_forms(reference: str) -> None:
    assert found(observation(subject={"reference": reference})) == []


@pytest.mark.parametrize(
    "reference",
    [
        "Patient/",
        "Patient/a b",
        "Patient/a/b",
        "patient/1",
        "Foo/1",
        "Foo?x=1",
        "urn:uuid:nope",
        "urn:isbn:123",
        "#a b",
        "just text",
    ],
)
def test_malformed_references_are_value_issues(reference: str) -> None:
    assert found(observation(subject={"reference": reference})) == [("value", "Observation.subject.reference")]


@pytest.mark.parametrize(
    "reference",
    ["Practitioner/1", "Practitioner/1/_history/3", "http://example.org/fhir/Practitioner/1", "Practitioner?name=x"],
)
def test_references_to_types_the_element_does_not_allow_are_invalid(reference: str) -> None:
    assert found(observation(subject={"reference": reference})) == [("invalid", "Observation.subject.reference")]


def test_any_type_goes_where_the_target_is_resource() -> None:
    provenance = {
        "resourceType": "Provenance",
        "target": [{"reference": "Observation/1"}, {"reference": "Practitioner/2"}],
        "recorded": "2020-01-01T00:00:00Z",
        "agent": [{"who": {"reference": "Practitioner/2"}}],
    }
    assert found(provenance) == []


def test_local_references_must_name_a_contained_resource() -> None:
    contained = [{"resourceType": "Patient", "id": "p1"}]
    assert found(observation(contained=contained, subject={"reference": "#p1"})) == []
    assert found(observation(contained=contained, subject={"reference": "#p2"})) == [
        ("invalid", "Observation.subject.reference")
    ]
    assert found(observation(subject={"reference": "#p1"})) == [("invalid", "Observation.subject.reference")]


def test_local_references_survive_malformed_contained_ids() -> None:
    contained = [{"resourceType": "Patient", "id": ["p1"]}, "junk"]
    assert found(observation(contained=contained, subject={"reference": "#p1"})) == [
        ("structure", "Observation.contained[0].id"),
        ("structure", "Observation.contained[1]"),
        ("invalid", "Observation.subject.reference"),
    ]


def test_references_inside_contained_resources_resolve_against_the_container() -> None:
    contained = [
        {"resourceType": "Organization", "id": "org"},
        {"resourceType": "Patient", "id": "p1", "managingOrganization": {"reference": "#org"}},
        {
            "resourceType": "Practitioner",
            "id": "dr",
            "qualification": [{"code": {"text": "x"}, "issuer": {"reference": "#nope"}}],
        },
    ]
    assert found(observation(contained=contained, subject={"reference": "#p1"})) == [
        ("invalid", "Observation.contained[2].qualification[0].issuer.reference")
    ]


# --- required bindings -----------------------------------------------------------------------


def test_codes_of_required_bindings_must_be_in_the_value_set() -> None:
    assert found(observation(status="done")) == [("code-invalid", "Observation.status")]
    assert found(patient(gender="M", name=[{"use": "nick"}])) == [
        ("code-invalid", "Patient.gender"),
        ("code-invalid", "Patient.name[0].use"),
    ]


def test_codings_from_the_bound_system_must_use_its_codes() -> None:
    def condition(system: str, code: str) -> dict[str, Any]:
        status = {"coding": [{"system": "http://example.org", "code": "x"}, {"system": system, "code": code}]}
        return {"resourceType": "Condition", "subject": {"reference": "Patient/1"}, "clinicalStatus": status}

    assert found(condition(CLINICAL_STATUS, "active")) == []
    assert found(condition(CLINICAL_STATUS, "bogus")) == [("code-invalid", "Condition.clinicalStatus.coding[1].code")]
    assert found(condition("http://example.org/other", "bogus")) == []


def test_value_sets_that_cannot_be_expanded_are_not_checked() -> None:
    assert "http://hl7.org/fhir/ValueSet/mimetypes" in model.unexpanded_value_sets()
    assert model.required_value_set("http://hl7.org/fhir/ValueSet/mimetypes") is None
    assert found(patient(photo=[{"contentType": "anything/goes"}])) == []


def test_required_value_sets_are_expanded_by_code_system() -> None:
    codes = model.required_value_set("http://hl7.org/fhir/ValueSet/observation-status")
    assert codes is not None
    assert {"final", "amended", "corrected"} <= codes["http://hl7.org/fhir/observation-status"]
    nested = model.required_value_set("http://hl7.org/fhir/ValueSet/condition-clinical")
    assert nested is not None and {"active", "recurrence", "relapse", "resolved"} <= nested[CLINICAL_STATUS]


# --- expected type and id --------------------------------------------------------------------


def test_the_type_and_id_in_the_url_must_match_the_body() -> None:
    assert found(patient(id="1"), expected_type="Patient", expected_id="1") == []
    assert found(patient(id="1"), expected_type="Observation") == [("invalid", "Patient")]
    assert found(patient(id="2"), expected_type="Patient", expected_id="1") == [("invalid", "Patient.id")]
    assert found(patient(), expected_type="Patient", expected_id="1") == [("required", "Patient.id")]


# --- contained resources and narrative -------------------------------------------------------


def test_contained_resources_are_validated_and_must_not_nest() -> None:
    inner = {"resourceType": "Patient", "id": "p", "contained": [{"resourceType": "Organization", "id": "o"}]}
    assert found(observation(contained=[inner])) == [("invalid", "Observation.contained[0].contained")]
    assert found(observation(contained=[{"resourceType": "Patient", "gender": "x"}])) == [
        ("required", "Observation.contained[0].id"),
        ("code-invalid", "Observation.contained[0].gender"),
    ]


@pytest.mark.parametrize(
    ("div", "ok"),
    [
        ('<div xmlns="http://www.w3.org/1999/xhtml">Hello</div>', True),
        ("<div>ok</div>", True),
        ("Hello", False),
        ("<p>Hello</p>", False),
        ("<divider/>", False),
        ('<div xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></div>', False),
        ('<div><a href="javascript:alert(1)">x</a></div>', False),
    ],
)
def test_the_narrative_must_be_a_harmless_div(div: str, ok: bool) -> None:
    resource = patient(text={"status": "generated", "div": div})
    assert found(resource) == ([] if ok else [("value", "Patient.text.div")])


# --- hostile input ---------------------------------------------------------------------------


def test_deep_nesting_is_rejected_without_recursion_errors() -> None:
    item: dict[str, Any] = {"linkId": "leaf", "type": "display"}
    for level in range(5000):
        item = {"linkId": str(level), "type": "group", "item": [item]}
    issues = found({"resourceType": "Questionnaire", "status": "draft", "item": [item]})
    assert len(issues) == 1
    code, expression = issues[0]
    assert code == "structure" and expression == "Questionnaire" + ".item[0]" * (MAX_DEPTH + 1)


def test_deeply_nested_extensions_and_bundles_stop_at_the_limit() -> None:
    extension: dict[str, Any] = {"url": "http://x", "valueString": "x"}
    for _ in range(200):
        extension = {"url": "http://x", "extension": [extension]}
    assert [code for code, _ in found(patient(extension=[extension]))] == ["structure"]
    bundle: dict[str, Any] = patient()
    for _ in range(200):
        bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": bundle}]}
    assert [code for code, _ in found(bundle)] == ["structure"]


def test_huge_arrays_of_bad_items_are_capped() -> None:
    issues = validate_resource(patient(name=[{"given": [None] * 100_000}]))
    assert len(issues) == MAX_ISSUES + 1
    assert issues[-1].code == "too-costly"


def test_a_deep_value_where_a_string_belongs_is_just_the_wrong_type() -> None:
    value: Any = "x"
    for _ in range(10_000):
        value = [value]
    assert found(patient(gender=value, unknown=value)) == [
        ("structure", "Patient.gender"),
        ("structure", "Patient.unknown"),
    ]


JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | st.decimals() | st.text(max_size=20)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=30,
)
PATIENT_NAMES = sorted(model.type_definition("Patient").by_json_name) + ["resourceType", "_birthDate", "_active"]  # type: ignore[union-attr]


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_any_json_value_gives_a_list_of_issues_and_never_raises(value: Any) -> None:
    issues = validate_resource(value)
    assert isinstance(issues, list) and all(isinstance(issue, Issue) for issue in issues)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.sampled_from(PATIENT_NAMES), JSON_VALUES, max_size=8),
    st.sampled_from(["Patient", "Bundle", "Observation"]),
)
def test_resource_shaped_noise_never_raises(elements: dict[str, Any], resource_type: str) -> None:
    resource = {**elements, "resourceType": resource_type}
    issues = validate_resource(resource, expected_type="Patient", expected_id="1")
    assert isinstance(issues, list) and all(issue.expression for issue in issues if issue.code != "too-costly")


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(BUNDLES), st.data())
def test_damaging_a_valid_resource_reports_it(bundle_path: Path, data: st.DataObject) -> None:
    entries = orjson.loads(bundle_path.read_bytes())["entry"]
    resource = copy.deepcopy(data.draw(st.sampled_from(entries))["resource"])
    resource[data.draw(st.sampled_from(["unknownElement", "_unknown", "text"]))] = data.draw(JSON_LEAVES)
    assert validate_resource(resource) != []


# --- raising ---------------------------------------------------------------------------------


def test_raise_for_issues_raises_400_with_every_issue_when_one_is_an_error() -> None:
    issues = validate_resource(patient(foo=1, gender="x"))
    with pytest.raises(FhirError) as raised:
        raise_for_issues(issues)
    assert raised.value.status == 400 and raised.value.issues == issues


def test_raise_for_issues_ignores_warnings_and_nothing() -> None:
    raise_for_issues([])
    raise_for_issues([Issue(code="informational", diagnostics="fine", severity="warning")])
