"""create, read, vread, update, patch, delete and their HTTP headers (R4 http.html)."""

from __future__ import annotations

import json

import httpx
import pytest

pytestmark = pytest.mark.anyio

PATIENT = {"resourceType": "Patient", "name": [{"family": "Chalmers", "given": ["Peter"]}], "gender": "male"}


async def create_patient(client: httpx.AsyncClient, **changes: object) -> dict:
    response = await client.post("/Patient", json={**PATIENT, **changes})
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_assigns_id_version_and_returns_location_etag(client: httpx.AsyncClient) -> None:
    response = await client.post("/Patient", json={**PATIENT, "id": "client-chosen"})
    assert response.status_code == 201
    body = response.json()
    assert body["id"] != "client-chosen"
    assert body["meta"]["versionId"] == "1"
    assert response.headers["etag"] == 'W/"1"'
    assert response.headers["location"].endswith(f"/Patient/{body['id']}/_history/1")
    assert "last-modified" in response.headers
    assert response.headers["content-type"].startswith("application/fhir+json")


async def test_read_returns_what_was_created(client: httpx.AsyncClient) -> None:
    created = await create_patient(client)
    response = await client.get(f"/Patient/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created
    assert response.headers["etag"] == 'W/"1"'


async def test_update_creates_new_version_and_vread_returns_old_ones(client: httpx.AsyncClient) -> None:
    created = await create_patient(client)
    updated = {**created, "gender": "female"}
    response = await client.put(f"/Patient/{created['id']}", json=updated)
    assert response.status_code == 200
    assert response.json()["meta"]["versionId"] == "2"
    old = await client.get(f"/Patient/{created['id']}/_history/1")
    assert old.json()["gender"] == "male"
    assert (await client.get(f"/Patient/{created['id']}/_history/2")).json()["gender"] == "female"
    assert (await client.get(f"/Patient/{created['id']}/_history/3")).status_code == 404


async def test_update_as_create_with_client_id(client: httpx.AsyncClient) -> None:
    response = await client.put("/Patient/my-id-1", json={**PATIENT, "id": "my-id-1"})
    assert response.status_code == 201
    assert response.headers["location"].endswith("/Patient/my-id-1/_history/1")


async def test_update_without_id_or_with_other_id_is_400(client: httpx.AsyncClient) -> None:
    missing = await client.put("/Patient/abc", json=PATIENT)
    assert missing.status_code == 400
    assert missing.json()["issue"][0]["expression"] == ["Patient.id"]
    mismatched = await client.put("/Patient/abc", json={**PATIENT, "id": "xyz"})
    assert mismatched.status_code == 400
    assert (await client.get("/Patient/abc")).status_code == 404


async def test_if_match_stale_version_is_412(client: httpx.AsyncClient) -> None:
    created = await create_patient(client)
    url = f"/Patient/{created['id']}"
    ok = await client.put(url, json=created, headers={"If-Match": 'W/"1"'})
    assert ok.status_code == 200
    stale = await client.put(url, json=created, headers={"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert stale.json()["resourceType"] == "OperationOutcome"


async def test_conditional_read_not_modified(client: httpx.AsyncClient) -> None:
    created = await create_patient(client)
    url = f"/Patient/{created['id']}"
    assert (await client.get(url, headers={"If-None-Match": 'W/"1"'})).status_code == 304
    assert (await client.get(url, headers={"If-None-Match": 'W/"0"'})).status_code == 200
    last_modified = (await client.get(url)).headers["last-modified"]
    assert (await client.get(url, headers={"If-Modified-Since": last_modified})).status_code == 304
    assert (await client.get(url, headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})).status_code == 200


@pytest.mark.parametrize(
    ("prefer", "expect_body"),
    [("return=minimal", None), ("return=representation", "Patient"), ("return=OperationOutcome", "OperationOutcome")],
)
async def test_prefer_return(client: httpx.AsyncClient, prefer: str, expect_body: str | None) -> None:
    response = await client.post("/Patient", json=PATIENT, headers={"Prefer": prefer})
    assert response.status_code == 201
    if expect_body is None:
        assert response.content == b""
    else:
        assert response.json()["resourceType"] == expect_body


async def test_delete_then_read_is_410_and_history_keeps_marker(client: httpx.AsyncClient) -> None:
    created = await create_patient(client)
    url = f"/Patient/{created['id']}"
    assert (await client.delete(url)).status_code == 204
    gone = await client.get(url)
    assert gone.status_code == 410
    assert gone.json()["issue"][0]["code"] == "deleted"
    history = (await client.get(f"{url}/_history")).json()
    assert [entry["request"]["method"] for entry in history["entry"]] == ["DELETE", "POST"]
    assert (await client.delete(url)).status_code == 204  # deleting again is harmless
    recreated = await client.put(url, json=created)
    assert recreated.json()["meta"]["versionId"] == "3"


async def test_json_patch(client: httpx.AsyncClient) -> None:
    created = await create_patient(client)
    patch = [{"op": "replace", "path": "/gender", "value": "other"}, {"op": "add", "path": "/active", "value": True}]
    response = await client.patch(
        f"/Patient/{created['id']}", content=json.dumps(patch), headers={"Content-Type": "application/json-patch+json"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["gender"] == "other" and response.json()["active"] is True
    assert response.json()["meta"]["versionId"] == "2"


async def test_json_patch_producing_invalid_resource_is_refused(client: httpx.AsyncClient) -> None:
    created = await create_patient(client)
    patch = [{"op": "add", "path": "/bogus", "value": 1}]
    response = await client.patch(
        f"/Patient/{created['id']}", content=json.dumps(patch), headers={"Content-Type": "application/json-patch+json"}
    )
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["Patient.bogus"]
    failed_test = [{"op": "test", "path": "/gender", "value": "female"}]
    response = await client.patch(
        f"/Patient/{created['id']}",
        content=json.dumps(failed_test),
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert response.status_code == 422


async def test_summary_and_elements(client: httpx.AsyncClient) -> None:
    created = await create_patient(
        client, text={"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">P</div>'}
    )
    url = f"/Patient/{created['id']}"
    summary = (await client.get(url, params={"_summary": "true"})).json()
    assert "name" in summary and "text" not in summary
    assert {"code": "SUBSETTED"}.items() <= summary["meta"]["tag"][0].items()
    text = (await client.get(url, params={"_summary": "text"})).json()
    assert set(text) == {"resourceType", "id", "meta", "text"}
    data = (await client.get(url, params={"_summary": "data"})).json()
    assert "text" not in data and "name" in data
    elements = (await client.get(url, params={"_elements": "gender"})).json()
    assert set(elements) == {"resourceType", "id", "meta", "gender"}
    assert (await client.get(url, params={"_summary": "nonsense"})).status_code == 400


async def test_xml_both_ways_and_pretty(client: httpx.AsyncClient) -> None:
    xml = (
        '<Patient xmlns="http://hl7.org/fhir"><name><family value="Xml"/></name>'
        '<birthDate value="1970-01-01"/></Patient>'
    )
    created = await client.post("/Patient", content=xml, headers={"Content-Type": "application/fhir+xml"})
    assert created.status_code == 201, created.text
    patient_id = created.json()["id"]
    as_xml = await client.get(f"/Patient/{patient_id}", params={"_format": "xml"})
    assert as_xml.headers["content-type"].startswith("application/fhir+xml")
    assert b'<family value="Xml"/>' in as_xml.content
    accept_xml = await client.get(f"/Patient/{patient_id}", headers={"Accept": "application/fhir+xml"})
    assert accept_xml.content.startswith(b"<")
    pretty = await client.get(f"/Patient/{patient_id}", params={"_pretty": "true"})
    assert b"\n  " in pretty.content


async def test_head_returns_headers_only(client: httpx.AsyncClient) -> None:
    created = await create_patient(client)
    response = await client.head(f"/Patient/{created['id']}")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["etag"] == 'W/"1"'


async def test_validate_operation_reports_without_storing(client: httpx.AsyncClient) -> None:
    bad = {"resourceType": "Observation", "code": {"text": "x"}, "valueString": "a", "valueBoolean": True}
    response = await client.post("/Observation/$validate", json=bad)
    assert response.status_code == 200
    expressions = {e for issue in response.json()["issue"] for e in issue.get("expression", [])}
    assert "Observation.status" in expressions
    good = await client.post("/Patient/$validate", json=PATIENT)
    assert all(issue["severity"] in ("information", "warning") for issue in good.json()["issue"])
    history = (await client.get("/_history")).json()
    assert history["total"] == 0


async def test_capability_statement_lists_registered_interactions(client: httpx.AsyncClient) -> None:
    statement = (await client.get("/metadata")).json()
    assert statement["fhirVersion"] == "4.0.1"
    rest = statement["rest"][0]
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    codes = {i["code"] for i in patient["interaction"]}
    assert {"read", "vread", "update", "patch", "delete", "create", "history-instance", "search-type"} <= codes
    assert {i["code"] for i in rest["interaction"]} >= {"transaction", "batch", "history-system", "search-system"}
    name = next(p for p in patient["searchParam"] if p["name"] == "name")
    assert name["type"] == "string" and name["definition"].endswith("/Patient-name") and name["documentation"]
    assert "Patient:general-practitioner" in patient["searchInclude"]
    assert any(op["name"] == "validate" for op in patient["operation"])


async def test_health_endpoints(client: httpx.AsyncClient) -> None:
    root = str(client.base_url).rstrip("/").removesuffix("/fhir")
    assert (await client.get(f"{root}/healthz")).json() == {"status": "ok"}
    assert (await client.get(f"{root}/readyz")).status_code == 200


FHIRPATH_PATCH = {
    "resourceType": "Parameters",
    "parameter": [
        {
            "name": "operation",
            "part": [
                {"name": "type", "valueCode": "replace"},
                {"name": "path", "valueString": "Patient.gender"},
                {"name": "value", "valueCode": "female"},
            ],
        },
        {
            "name": "operation",
            "part": [
                {"name": "type", "valueCode": "add"},
                {"name": "path", "valueString": "Patient"},
                {"name": "name", "valueString": "birthDate"},
                {"name": "value", "valueDate": "1970-01-01"},
            ],
        },
    ],
}


async def test_fhirpath_patch(client: httpx.AsyncClient) -> None:
    created = await create_patient(client)
    response = await client.patch(f"/Patient/{created['id']}", json=FHIRPATH_PATCH)
    assert response.status_code == 200, response.text
    assert response.json()["gender"] == "female" and response.json()["birthDate"] == "1970-01-01"


async def test_invalid_fhirpath_patch_is_400_with_location(client: httpx.AsyncClient) -> None:
    created = await create_patient(client)
    broken = {
        "resourceType": "Parameters",
        "parameter": [{"name": "operation", "part": [{"name": "type", "valueCode": "explode"}]}],
    }
    response = await client.patch(f"/Patient/{created['id']}", json=broken)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"][0].startswith("Parameters.parameter[0]")


async def test_conditional_create_update_and_delete_by_identifier(client: httpx.AsyncClient) -> None:
    identifier = {"system": "http://hospital.example/mrn", "value": "12345"}
    patient = {**PATIENT, "identifier": [identifier]}
    criteria = "identifier=http://hospital.example/mrn|12345"
    first = await client.post("/Patient", json=patient, headers={"If-None-Exist": criteria})
    again = await client.post("/Patient", json=patient, headers={"If-None-Exist": criteria})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    updated = await client.put(f"/Patient?{criteria}", json={**patient, "gender": "female"})
    assert updated.status_code == 200 and updated.json()["id"] == first.json()["id"]
    assert updated.json()["meta"]["versionId"] == "2"
    created = await client.put("/Patient?identifier=http://hospital.example/mrn|999", json=patient)
    assert created.status_code == 201
    duplicate = await client.post("/Patient", json=patient)  # same identifier, unconditionally
    assert duplicate.status_code == 201
    assert (await client.put(f"/Patient?{criteria}", json=patient)).status_code == 412
    assert (await client.delete(f"/Patient?{criteria}")).status_code == 412
    assert (await client.delete(f"/Patient?_id={duplicate.json()['id']}")).status_code == 204
    assert (await client.get(f"/Patient/{duplicate.json()['id']}")).status_code == 410
    by_name = await client.put("/Patient?name=Chalmers&gender=female", json={**patient, "gender": "female"})
    assert by_name.status_code == 200 and by_name.json()["id"] == first.json()["id"]  # any search criteria
    unknown = await client.put("/Patient?nonsense=1", json=patient)
    assert unknown.status_code == 400


async def test_invariant_violation_is_422_with_key_and_location(client: httpx.AsyncClient) -> None:
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "glucose"},
        "valueString": "high",
        "dataAbsentReason": {"text": "not done"},
    }
    response = await client.post("/Observation", json=observation)
    assert response.status_code == 422, response.text
    issue = response.json()["issue"][0]
    assert issue["code"] == "invariant" and issue["diagnostics"].startswith("obs-6")
    assert issue["expression"] == ["Observation"]
    report = (await client.post("/Observation/$validate", json=observation)).json()
    assert any(i.get("details", {}).get("coding", [{}])[0].get("code") == "obs-6" for i in report["issue"])


async def test_validate_reports_invariant_warnings(client: httpx.AsyncClient) -> None:
    report = (await client.post("/Patient/$validate", json=PATIENT)).json()
    assert any(i["severity"] == "warning" and "dom-6" in i["diagnostics"] for i in report["issue"])
