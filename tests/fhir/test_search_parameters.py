"""Search-parameter expressions specialised per resource type must mean exactly the same."""

from __future__ import annotations

import json

import pytest

from ember.fhir.fhirpath import compile as compile_fhirpath
from ember.fhir.search_index import index_rows
from ember.fhir.search_parameters import (
    SearchParameter,
    compiled_for,
    row_aliases,
    search_parameters,
    set_custom_parameters,
    split_union,
)
from tests.conformance import CONFORMANCE

SYNTHEA = CONFORMANCE / "synthea"


def _resources() -> list[dict]:
    return [
        entry["resource"]
        for path in sorted(SYNTHEA.glob("*/*.json"))
        for entry in json.loads(path.read_bytes())["entry"]
    ]


def test_every_r4_parameter_is_known() -> None:
    codes = {parameter.code for parameter in search_parameters("Observation")}
    assert {"code", "subject", "patient", "value-quantity", "_id", "_lastUpdated", "_tag"} <= codes
    assert "gender" not in codes


def test_split_union_respects_parentheses_and_strings() -> None:
    expression = "(Observation.value as Quantity) | Observation.code.where(text = 'a | b') | Patient.name"
    assert split_union(expression) == [
        "(Observation.value as Quantity)",
        "Observation.code.where(text = 'a | b')",
        "Patient.name",
    ]


@pytest.mark.slow
def test_specialised_expressions_agree_with_the_full_ones_on_synthea() -> None:
    checked = 0
    full_cache: dict[str, object] = {}
    for resource in _resources()[::3]:
        resource_type = resource["resourceType"]
        for parameter in search_parameters(resource_type):
            if parameter.expression is None:
                continue
            full = full_cache.setdefault(parameter.expression, compile_fhirpath(parameter.expression))
            specialised = compiled_for(parameter, resource_type)
            expected = full(resource)  # type: ignore[operator]
            actual = specialised(resource) if specialised is not None else []
            assert actual == expected, (parameter.code, resource_type)
            checked += 1
    assert checked > 50_000 // 3


def test_parameters_that_repeat_others_stand_for_them() -> None:
    assert row_aliases("Observation") == {
        "combo-code": ("code", "component-code"),
        "combo-code-value-concept": ("code-value-concept", "component-code-value-concept"),
        "combo-code-value-quantity": ("code-value-quantity", "component-code-value-quantity"),
        "combo-data-absent-reason": ("component-data-absent-reason", "data-absent-reason"),
        "combo-value-concept": ("component-value-concept", "value-concept"),
        "combo-value-quantity": ("component-value-quantity", "value-quantity"),
    }
    assert row_aliases("Patient") == {"phonetic": ("name",)}
    assert row_aliases("Encounter") == {}


def test_a_parameter_that_stands_for_others_has_no_rows_and_theirs_hold_its_values() -> None:
    """Every value `combo-code` would index is a row of `code` or `component-code`, on every
    Synthea Observation (the rows the search reads in its place)."""
    full = compile_fhirpath("Observation.code | Observation.component.code")
    checked = 0
    for resource in _resources():
        if resource["resourceType"] != "Observation":
            continue
        rows = index_rows(resource)
        assert not any(row[0].startswith("combo-") for table in rows.values() for row in table)
        held = {(row[1], row[2]) for row in rows["token"] if row[0] in ("code", "component-code")}
        for concept in full(resource):
            for coding in concept.get("coding", ()):
                assert (coding.get("system", ""), coding["code"]) in held
                checked += 1
    assert checked > 500


def test_custom_parameters_never_take_part() -> None:
    """A custom parameter repeating a core one keeps its own rows, and the core one its own."""
    custom = SearchParameter("given-again", "string", ("Patient",), "Patient.name", url="http://example.org/sp")
    try:
        set_custom_parameters((custom,))
        assert row_aliases("Patient") == {"phonetic": ("name",)}
        rows = index_rows({"resourceType": "Patient", "name": [{"family": "Doe"}]})["string"]
        assert {"name", "given-again"} <= {row[0] for row in rows}
        # A custom `code` replaces the core one: `combo-code` no longer has it to stand on.
        replacing = SearchParameter("code", "token", ("Observation",), "Observation.code", url="http://example.org/c")
        set_custom_parameters((replacing,))
        assert "combo-code" not in row_aliases("Observation")
        assert "combo-value-quantity" in row_aliases("Observation")
    finally:
        set_custom_parameters(())
