"""Search-parameter expressions specialised per resource type must mean exactly the same."""

from __future__ import annotations

import json

import pytest

from ember.fhir.fhirpath import compile as compile_fhirpath
from ember.fhir.search_parameters import compiled_for, search_parameters, split_union
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
