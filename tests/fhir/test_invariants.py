"""FHIRPath invariants: what `check_invariants` reports, where, and that its shortcuts are sound.

Violations are asserted as (key, severity, location) triples. The natively coded ele-1/ext-1 and
the shortcuts of shortcuts.py are checked against the FHIRPath expressions they stand for, on
every node of the Synthea sample and on counter-examples written to hit each branch.
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import orjson
import pytest

from ember.fhir import model
from ember.fhir.fhirpath.context import Context
from ember.fhir.fhirpath.errors import FhirPathError
from ember.fhir.fhirpath.model import Node
from ember.fhir.invariants import SKIPPED, check_invariants, native
from ember.fhir.invariants.plans import type_plan
from ember.fhir.invariants.rules import CONTAINER_VARIABLE, Rule, all_constraints, compile_expression, rules_at
from ember.fhir.invariants.walk import Location, Scope, Walker, violated
from tests.conformance import CONFORMANCE

SYNTHEA = CONFORMANCE / "synthea"
BUNDLES = sorted(SYNTHEA.glob("*/*.json"))
UCUM = "http://unitsofmeasure.org"


def synthea_resources() -> list[dict[str, Any]]:
    return [entry["resource"] for path in BUNDLES for entry in orjson.loads(path.read_bytes())["entry"]]


def found(resource: dict[str, Any], severity: str = "error") -> list[tuple[str, str]]:
    """(key, location) of every issue of `severity`."""
    return [
        (issue.details_code or "", ",".join(issue.expression))
        for issue in check_invariants(resource)
        if issue.severity == severity
    ]


def observation(**elements: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Observation", "status": "final", "code": {"text": "weight"}}
    resource.update(elements)
    return resource


def patient(**elements: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Patient", "text": {"status": "generated", "div": "<div>x</div>"}}
    resource.update(elements)
    return resource


def scope_of(resource: dict[str, Any]) -> Scope:
    node = Node(resource, resource.get("resourceType"))
    return Scope(node, {CONTAINER_VARIABLE: [node]})


# --- the Synthea sample -------------------------------------------------------------------------


@pytest.mark.skipif(not BUNDLES, reason="Synthea sample not available")
def test_synthea_resources_have_no_invariant_errors_and_only_narrative_warnings() -> None:
    errors: list[tuple[str, str, str]] = []
    warnings: Counter[str] = Counter()
    for resource in synthea_resources():
        for issue in check_invariants(resource):
            if issue.severity == "error":
                errors.append((resource["resourceType"], issue.diagnostics, issue.expression[0]))
            else:
                warnings[issue.details_code or ""] += 1
    assert errors == []
    # dom-6: most Synthea resources (and every contained one) carry no narrative.
    assert set(warnings) <= {"dom-6"}


# --- targeted violations: key, severity and location ---------------------------------------------


def test_obs_6_value_and_data_absent_reason() -> None:
    resource = observation(valueString="12", dataAbsentReason={"text": "lost"})
    assert found(resource) == [("obs-6", "Observation")]
    issue = next(issue for issue in check_invariants(resource) if issue.severity == "error")
    assert issue.code == "invariant"
    assert issue.diagnostics == "obs-6: dataAbsentReason SHALL only be present if Observation.value[x] is not present"


def test_component_value_with_data_absent_reason_is_no_r4_invariant() -> None:
    # R4 puts no constraint on Observation.component (R5 added obs-6-like rules there).
    component = {"code": {"text": "systolic"}, "valueQuantity": {"value": 120}, "dataAbsentReason": {"text": "lost"}}
    resource = observation(component=[{"code": {"text": "ok"}, "valueString": "x"}, component])
    assert found(resource) == []


def test_obs_7_observation_value_with_its_code_in_a_component() -> None:
    code = {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]}
    resource = observation(code=code, valueString="x", component=[{"code": code, "valueString": "y"}])
    assert found(resource) == [("obs-7", "Observation")]


def test_dom_2_contained_resource_with_contained() -> None:
    inner = {"resourceType": "Organization", "id": "inner", "name": "x"}
    outer = {"resourceType": "Organization", "id": "org", "name": "y", "contained": [inner]}
    resource = patient(contained=[outer], managingOrganization={"reference": "#org"})
    assert ("dom-2", "Patient") in found(resource)


def test_dom_3_contained_resource_not_referenced() -> None:
    resource = patient(contained=[{"resourceType": "Organization", "id": "org", "name": "x"}])
    assert found(resource) == [("dom-3", "Patient")]


def test_dom_3_holds_for_referenced_and_self_referencing_contained_resources() -> None:
    organization = {"resourceType": "Organization", "id": "org", "name": "x"}
    assert found(patient(contained=[organization], managingOrganization={"reference": "#org"})) == []
    loop = {"resourceType": "Organization", "id": "o2", "name": "y", "partOf": {"reference": "#"}}
    assert found(patient(contained=[loop])) == []


def test_dom_4_contained_resource_with_version_id() -> None:
    organization = {"resourceType": "Organization", "id": "org", "name": "x", "meta": {"versionId": "2"}}
    resource = patient(contained=[organization], managingOrganization={"reference": "#org"})
    assert found(resource) == [("dom-4", "Patient")]


def test_dom_6_is_a_warning() -> None:
    resource = {"resourceType": "Patient", "active": True}
    assert found(resource) == []
    assert found(resource, "warning") == [("dom-6", "Patient")]


def test_pat_1_contact_without_details() -> None:
    resource = patient(contact=[{"name": {"family": "Doe"}}, {"gender": "male"}])
    assert found(resource) == [("pat-1", "Patient.contact[1]")]


def test_per_1_period_inside_a_backbone_element() -> None:
    period = {"start": "2020-02-01", "end": "2020-01-01"}
    resource = patient(contact=[{"name": {"family": "Doe"}}, {"name": {"family": "Roe"}, "period": period}])
    assert found(resource) == [("per-1", "Patient.contact[1].period")]


def test_per_1_in_a_datatype_inside_a_datatype() -> None:
    period = {"start": "2021-01-01T10:00:00Z", "end": "2021-01-01T09:00:00Z"}
    resource = patient(identifier=[{"value": "1", "period": period}])
    assert found(resource) == [("per-1", "Patient.identifier[0].period")]


def test_qty_3_quantity_code_without_system() -> None:
    resource = observation(valueQuantity={"value": 5, "code": "mg"})
    assert found(resource) == [("qty-3", "Observation.valueQuantity")]


def test_ref_1_local_reference_to_a_missing_contained_resource() -> None:
    resource = observation(subject={"reference": "#nobody"})
    assert found(resource) == [("ref-1", "Observation.subject")]


def test_ref_1_inside_a_contained_resource_looks_in_the_container() -> None:
    practitioner = {"resourceType": "Practitioner", "id": "doc", "active": True}
    role = {"resourceType": "PractitionerRole", "id": "role", "practitioner": {"reference": "#doc"}}
    resource = observation(contained=[practitioner, role], performer=[{"reference": "#role"}])
    assert found(resource) == []
    role["practitioner"] = {"reference": "#ghost"}
    resource["performer"].append({"reference": "#doc"})
    assert found(resource) == [("ref-1", "Observation.contained[1].practitioner")]


def test_resource_invariant_of_a_contained_resource_is_located_there() -> None:
    bad = observation(id="o1", valueString="1", dataAbsentReason={"text": "x"})
    resource = {
        "resourceType": "DiagnosticReport",
        "status": "final",
        "code": {"text": "panel"},
        "contained": [bad],
        "result": [{"reference": "#o1"}],
    }
    assert found(resource) == [("obs-6", "DiagnosticReport.contained[0]")]


def test_invariant_inside_a_bundle_entry_resource() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:1", "resource": patient()},
            {"fullUrl": "urn:uuid:2", "resource": observation(valueString="1", dataAbsentReason={"text": "x"})},
        ],
    }
    assert found(bundle) == [("obs-6", "Bundle.entry[1].resource")]


def test_bundle_level_invariant() -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": patient()}]}
    assert ("bdl-3", "Bundle") in found(bundle)


def test_element_rule_on_a_resource_element() -> None:
    resource = {
        "resourceType": "Organization",
        "name": "x",
        "telecom": [{"system": "phone", "value": "1"}, {"system": "phone", "value": "2", "use": "home"}],
    }
    assert found(resource) == [("org-3", "Organization.telecom[1]")]


def test_ele_1_element_with_only_an_id() -> None:
    resource = patient(maritalStatus={"coding": [{"id": "c1"}]})
    assert found(resource) == [("ele-1", "Patient.maritalStatus.coding[0]")]


def test_ext_1_extension_with_value_and_nested_extensions() -> None:
    extension = {"url": "http://x", "valueString": "a", "extension": [{"url": "y", "valueString": "b"}]}
    resource = patient(name=[{"family": "Doe", "_family": {"extension": [{"url": "http://z"}]}}], extension=[extension])
    assert sorted(found(resource)) == [
        ("ext-1", "Patient.extension[0]"),
        ("ext-1", "Patient.name[0].family.extension[0]"),
    ]


def test_unknown_or_malformed_input_gives_no_issues() -> None:
    assert check_invariants({"resourceType": "NoSuchType", "x": 1}) == []
    assert check_invariants({"no": "type"}) == []
    assert check_invariants([1, 2]) == []  # type: ignore[arg-type]
    assert found(observation(component="not a list", subject=5)) == []


# --- the skipped constraints --------------------------------------------------------------------


def fails_in_the_engine(path: str, key: str, expression: str) -> bool:
    """True when the expression does not compile, or raises on a bare node of its type (it
    names an element the type does not have)."""
    try:
        closure = compile_expression(expression, key)
    except FhirPathError:
        return True
    if model.type_definition(path) is None:
        return False
    root = path.split(".")[0]
    root = root if model.is_resource_type(root) else "Patient"
    resource = Node({"resourceType": root}, root)
    focus = Node({"id": "x"}, path)
    context = Context(focus, {CONTAINER_VARIABLE: [resource]})
    context.resource = resource
    try:
        closure(context.this, context)
    except FhirPathError:
        return True
    return False


def test_skipped_keys_are_the_html_checks_and_the_constraints_failing_in_the_engine() -> None:
    expected = {
        key
        for path, key, expression in all_constraints()
        if "htmlChecks()" in expression or fails_in_the_engine(path, key, expression)
    }
    assert expected == set(SKIPPED)
    assert rules_at("Narrative.div") == ()
    assert all(rule.key not in SKIPPED for rule in rules_at("ChargeItemDefinition"))


# --- native checks and shortcuts agree with FHIRPath --------------------------------------------


class AuditingWalker(Walker):
    """A walk that also evaluates with FHIRPath every answer the native code gives."""

    __slots__ = ("checked", "disagreements")

    def __init__(self) -> None:
        super().__init__()
        self.checked: Counter[str] = Counter()
        self.disagreements: list[tuple[str, Any]] = []

    def element(self, value: dict[str, Any], type_key: str, where: Location, depth: int, scope: Scope) -> None:
        if depth > 0 and type_key != "Element":  # not the root resource, not a `_name` holder
            self.compare(native.ELE_1, native.has_children(value), Node(value, type_key), scope)
        if type_key == "Extension":
            self.compare(native.EXT_1, native.extension_is_value_xor_nested(value), Node(value, type_key), scope)
        super().element(value, type_key, where, depth, scope)

    def evaluate(self, rules: tuple[Rule, ...], focus: Node, where: Location, scope: Scope) -> None:
        for rule in rules:
            verdict = rule.shortcut(focus.value) if rule.shortcut is not None else None
            if verdict is not None:
                self.checked[rule.key] += 1
                if verdict == violated(rule, focus, scope):
                    self.disagreements.append((rule.key, focus.value))
        super().evaluate(rules, focus, where, scope)

    def compare(self, constraint: tuple[str, ...], holds: bool, focus: Node, scope: Scope) -> None:
        rule = Rule(constraint[0], constraint[1], constraint[2], constraint[3], compile_expression(constraint[3]))
        self.checked[rule.key] += 1
        if holds == violated(rule, focus, scope):
            self.disagreements.append((rule.key, focus.value))


def audit(resource: dict[str, Any]) -> AuditingWalker:
    walker = AuditingWalker()
    walker.resource(resource, (None, resource["resourceType"], None), 0)
    return walker


@pytest.mark.skipif(not BUNDLES, reason="Synthea sample not available")
def test_native_checks_and_shortcuts_agree_with_fhirpath_on_synthea() -> None:
    checked: Counter[str] = Counter()
    disagreements = []
    for resource in synthea_resources():
        walker = audit(resource)
        checked.update(walker.checked)
        disagreements += walker.disagreements
    assert disagreements == []
    assert {"ele-1", "ext-1", "dom-2", "dom-3", "dom-6", "ref-1", "per-1", "qty-3", "cpt-2", "org-1"} <= set(checked)


COUNTER_EXAMPLES: list[dict[str, Any]] = [
    # ele-1: ids only, a resource with nothing else, a primitive present only through `_name`.
    patient(maritalStatus={"id": "a"}, name=[{"_family": {"extension": [{"url": "u", "valueCode": "x"}]}}]),
    patient(contained=[{"resourceType": "Organization", "id": "o"}], managingOrganization={"reference": "#o"}),
    # ext-1: neither, both, nested only, `_valueX` only.
    patient(
        extension=[
            {"url": "a"},
            {"url": "b", "valueString": "x", "extension": [{"url": "c", "valueInteger": 1}]},
            {"url": "d", "extension": [{"url": "e", "valueBoolean": True}]},
            {"url": "f", "_valueCode": {"extension": [{"url": "g", "valueString": "y"}]}},
        ]
    ),
    # per-1 in every shape: same shape both ways, different precisions and zones, a missing side.
    patient(
        identifier=[
            {"period": period}
            for period in (
                {"start": "2020-01-01", "end": "2020-01-02"},
                {"start": "2020-01-02", "end": "2020-01-01"},
                {"start": "2020", "end": "2020-01-01"},
                {"start": "2020-01", "end": "2019"},
                {"start": "2020-01-01T10:00:00Z", "end": "2020-01-01T09:00:00Z"},
                {"start": "2020-01-01T10:00:00+02:00", "end": "2020-01-01T09:00:00Z"},
                {"start": "2020-01-01T10:00:00+02:00", "end": "2020-01-01T09:30:00+01:00"},
                {"start": "2020-01-01T10:00:00.5Z", "end": "2020-01-01T10:00:00Z"},
                {"start": "2020-01-01T10:00:00.120Z", "end": "2020-01-01T10:00:00.119Z"},
                {"start": "2020-01-01"},
                {"end": "2020-01-01"},
                {"_start": {"extension": [{"url": "u", "valueString": "x"}]}, "end": "2020-01-01"},
            )
        ]
    ),
    # ref-1: local references found and missing; dom-3: canonical and self references, unreferenced.
    observation(
        contained=[{"resourceType": "Patient", "id": "p"}],
        subject={"reference": "#p"},
        focus=[{"reference": "#q"}, {"display": "no reference"}, {"reference": "Patient/1"}],
    ),
    {
        "resourceType": "Questionnaire",
        "status": "draft",
        "contained": [{"resourceType": "ValueSet", "id": "vs", "status": "draft"}],
        "item": [{"linkId": "1", "type": "choice", "answerValueSet": "#vs"}],
    },
    patient(
        contained=[
            {"resourceType": "Organization", "id": "a", "name": "x"},
            {"resourceType": "Organization", "id": "b", "name": "y", "partOf": {"reference": "#"}},
        ]
    ),
    # dom-4/dom-5 with contained meta; dom-6 without div, with `_div` only.
    patient(
        contained=[
            {
                "resourceType": "Organization",
                "id": "o",
                "name": "x",
                "meta": {"lastUpdated": "2020-01-01T00:00:00Z", "security": [{"code": "R"}]},
            }
        ],
        managingOrganization={"reference": "#o"},
        text={"status": "empty"},
    ),
    {
        "resourceType": "Patient",
        "text": {"status": "generated", "_div": {"extension": [{"url": "u", "valueString": "x"}]}},
    },
    # X.empty() or Y.exists(): qty-3, cpt-2, att-1 both ways.
    observation(
        valueQuantity={"value": 1, "code": "mg"},
        component=[
            {"code": {"text": "a"}, "valueQuantity": {"value": 1, "code": "mg", "system": UCUM}},
            {
                "code": {"text": "b"},
                "valueQuantity": {"value": 1, "_code": {"extension": [{"url": "u", "valueString": "x"}]}},
            },
        ],
    ),
    patient(
        telecom=[{"value": "1"}, {"value": "2", "system": "phone"}, {"system": "email"}],
        photo=[{"data": "AA=="}, {"data": "AA==", "contentType": "image/png"}, {"url": "http://x"}],
    ),
    # org-1 and obs-7 both ways.
    {"resourceType": "Organization", "active": True},
    {"resourceType": "Organization", "identifier": [{"value": "1"}]},
    observation(
        valueString="x",
        component=[{"code": {"coding": [{"system": "s", "code": "c"}]}}],
        code={"coding": [{"system": "s", "code": "c"}]},
    ),
]


@pytest.mark.parametrize("resource", COUNTER_EXAMPLES)
def test_native_checks_and_shortcuts_agree_with_fhirpath_on_counter_examples(resource: dict[str, Any]) -> None:
    walker = audit(copy.deepcopy(resource))
    assert walker.checked
    assert walker.disagreements == []


def test_counter_examples_hit_both_answers_of_each_shortcut() -> None:
    answers: dict[str, set[bool]] = {}
    for resource in COUNTER_EXAMPLES:
        for issue in check_invariants(resource):
            answers.setdefault(issue.details_code or "", set()).add(False)
    for key in (
        "ele-1",
        "ext-1",
        "per-1",
        "ref-1",
        "dom-3",
        "dom-4",
        "dom-5",
        "dom-6",
        "qty-3",
        "cpt-2",
        "att-1",
        "org-1",
        "obs-7",
    ):
        assert False in answers.get(key, set()), key


def test_type_plans_cover_backbones_datatypes_and_element_rules() -> None:
    observation_plan = type_plan("Observation")
    assert observation_plan is not None
    assert {rule.key for rule in observation_plan.rules} >= {"obs-6", "obs-7", "dom-2", "dom-6"}
    assert observation_plan.children["component"].type_key == "Observation.component"
    organization_plan = type_plan("Organization")
    assert organization_plan is not None
    assert [rule.key for rule in organization_plan.children["telecom"].rules] == ["org-3"]
    assert [rule.key for rule in rules_at("Period")] == ["per-1"]
