"""FHIRPath Patch: the R4 specification's examples (fhirpatch.html) and invalid patches."""

from __future__ import annotations

from typing import Any

import pytest

from ember.fhir.fhirpath.patch import FhirPathPatchError, apply_fhirpath_patch


def operation(**parts: Any) -> dict[str, Any]:
    """One ``operation`` parameter; ``value_x=...`` becomes a ``valueX`` part."""
    encoded = []
    for name, value in parts.items():
        if name == "value_parts":
            encoded.append({"name": "value", "part": value})
        elif name.startswith("value_"):
            encoded.append({"name": "value", "value" + name[6:]: value})
        elif name in ("index", "source", "destination"):
            encoded.append({"name": name, "valueInteger": value})
        elif name == "type":
            encoded.append({"name": "type", "valueCode": value})
        else:
            encoded.append({"name": name, "valueString": value})
    return {"name": "operation", "part": encoded}


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(operations)}


@pytest.fixture
def patient() -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": "example",
        "birthDate": "1974-12-25",
        "identifier": [{"system": "http://a.org", "value": "1"}, {"system": "http://b.org", "value": "2"}],
        "name": [{"family": "Chalmers", "given": ["Peter", "James"]}],
        "contact": [{"gender": "female"}],
    }


def test_spec_add_sets_a_single_element(patient: dict[str, Any]) -> None:
    del patient["birthDate"]
    body = patch(operation(type="add", path="Patient", name="birthDate", value_Date="1930-01-01"))
    assert apply_fhirpath_patch(patient, body)["birthDate"] == "1930-01-01"


def test_spec_add_appends_to_a_repeating_element(patient: dict[str, Any]) -> None:
    body = patch(operation(type="add", path="Patient.name[0]", name="given", value_String="Jim"))
    assert apply_fhirpath_patch(patient, body)["name"][0]["given"] == ["Peter", "James", "Jim"]


def test_add_names_choice_elements_by_value_type(patient: dict[str, Any]) -> None:
    body = patch(operation(type="add", path="Patient", name="deceased", value_Boolean=False))
    assert apply_fhirpath_patch(patient, body)["deceasedBoolean"] is False


def test_add_builds_complex_values_from_parts(patient: dict[str, Any]) -> None:
    parts = [{"name": "system", "valueUri": "http://c.org"}, {"name": "value", "valueString": "3"}]
    body = patch(operation(type="add", path="Patient", name="identifier", value_parts=parts))
    patched = apply_fhirpath_patch(patient, body)
    assert patched["identifier"][-1] == {"system": "http://c.org", "value": "3"}


def test_spec_insert_at_index(patient: dict[str, Any]) -> None:
    body = patch(
        operation(
            type="insert", path="Patient.identifier", index=0, value_Identifier={"system": "http://c.org", "value": "3"}
        )
    )
    patched = apply_fhirpath_patch(patient, body)
    assert [i["value"] for i in patched["identifier"]] == ["3", "1", "2"]


def test_spec_delete_an_element(patient: dict[str, Any]) -> None:
    body = patch(operation(type="delete", path="Patient.birthDate"))
    assert "birthDate" not in apply_fhirpath_patch(patient, body)


def test_delete_with_a_filter_removes_only_the_match(patient: dict[str, Any]) -> None:
    body = patch(operation(type="delete", path="Patient.identifier.where(system='http://b.org')"))
    assert apply_fhirpath_patch(patient, body)["identifier"] == [{"system": "http://a.org", "value": "1"}]


def test_delete_of_nothing_is_ignored(patient: dict[str, Any]) -> None:
    body = patch(operation(type="delete", path="Patient.deceased"))
    assert apply_fhirpath_patch(patient, body) == patient


def test_spec_replace_a_primitive(patient: dict[str, Any]) -> None:
    body = patch(operation(type="replace", path="Patient.birthDate", value_Date="1930-01-01"))
    assert apply_fhirpath_patch(patient, body)["birthDate"] == "1930-01-01"


def test_replace_an_item_selected_by_index(patient: dict[str, Any]) -> None:
    body = patch(operation(type="replace", path="Patient.name[0].given[1]", value_String="J."))
    assert apply_fhirpath_patch(patient, body)["name"][0]["given"] == ["Peter", "J."]


def test_spec_move_within_a_list(patient: dict[str, Any]) -> None:
    body = patch(operation(type="move", path="Patient.identifier", source=1, destination=0))
    patched = apply_fhirpath_patch(patient, body)
    assert [i["value"] for i in patched["identifier"]] == ["2", "1"]


def test_patch_does_not_modify_the_input(patient: dict[str, Any]) -> None:
    apply_fhirpath_patch(patient, patch(operation(type="delete", path="Patient.birthDate")))
    assert patient["birthDate"] == "1974-12-25"


def test_operations_apply_in_order(patient: dict[str, Any]) -> None:
    body = patch(
        operation(type="delete", path="Patient.birthDate"),
        operation(type="add", path="Patient", name="birthDate", value_Date="2000"),
    )
    assert apply_fhirpath_patch(patient, body)["birthDate"] == "2000"


@pytest.mark.parametrize(
    ("body", "expression"),
    [
        (patch(operation(type="explode", path="Patient")), "Parameters.parameter[0].part[0]"),
        (patch(operation(type="delete")), "Parameters.parameter[0]"),
        (
            patch(operation(type="replace", path="Patient.identifier", value_String="x")),
            "Parameters.parameter[0].part[1]",
        ),
        (
            patch(
                operation(type="delete", path="Patient.birthDate"),
                operation(type="insert", path="Patient.identifier", index=9, value_String="x"),
            ),
            "Parameters.parameter[1].part[2]",
        ),
        (
            patch(operation(type="move", path="Patient.identifier", source=0, destination=5)),
            "Parameters.parameter[0].part[3]",
        ),
        (patch(operation(type="add", path="Patient", name="birthDate", value_Date="2000")), "Parameters.parameter[0]"),
        (patch(operation(type="delete", path="Patient.name.given given")), "Parameters.parameter[0].part[1]"),
    ],
)
def test_invalid_patches_name_the_offending_part(
    patient: dict[str, Any], body: dict[str, Any], expression: str
) -> None:
    with pytest.raises(FhirPathPatchError) as raised:
        apply_fhirpath_patch(patient, body)
    assert raised.value.expression == expression


def test_a_patch_must_be_parameters(patient: dict[str, Any]) -> None:
    with pytest.raises(FhirPathPatchError):
        apply_fhirpath_patch(patient, {"resourceType": "Bundle"})
