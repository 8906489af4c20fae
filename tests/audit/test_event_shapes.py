"""Every kind of record becomes AuditEvents that pass Ember's own R4 validation (the audit job
writes them without validating again), with the BALP codes for its kind."""

from __future__ import annotations

from typing import Any

import pytest

from ember.access import AccessContext
from ember.audit.events import audit_events
from ember.audit.records import auth_record, request_record, write_record
from ember.fhir.outcome import error
from ember.fhir.search_index import index_rows
from ember.fhir.validation import check_resource
from ember.interactions.request import FhirRequest, FhirResponse
from ember.interactions.versioning import now
from ember.store.base import NewVersion

USER = AccessContext(subject="dr", client_id="app", fhir_user="Practitioner/1", source_ip="10.0.0.1", purpose="BTG")
SERVICE = AccessContext(subject="svc", client_id="svc", source_ip="10.0.0.2")


def _version(resource: dict[str, Any], version: int = 1, deleted: bool = False) -> NewVersion:
    return NewVersion(
        resource["resourceType"], resource["id"], version, now(), deleted, b"{}", version - 1, index_rows(resource)
    )


def _search_response() -> FhirResponse:
    entries = [{"fullUrl": f"http://x/fhir/Observation/{n}"} for n in range(3)]
    return FhirResponse(200, resource={"resourceType": "Bundle", "type": "searchset", "entry": entries})


OBSERVATION = {
    "resourceType": "Observation",
    "id": "o1",
    "status": "final",
    "code": {"text": "x"},
    "subject": {"reference": "Patient/p1"},
}
RECORDS: dict[str, dict[str, Any]] = {
    "read": request_record(
        USER,
        FhirRequest("read", "Observation", "o1", base_url="http://x/fhir"),
        200,
        None,
        FhirResponse(200, body=b"{}"),
    ),
    "search": request_record(
        SERVICE, FhirRequest("search-type", "Observation", params=[("code", "a|b")]), 200, None, _search_response()
    ),
    "failed-read": request_record(USER, FhirRequest("read", "Observation", "bad id!"), 404, "not found", None),
    "operation": request_record(
        SERVICE, FhirRequest("operation-instance", "ValueSet", "vs", operation="expand"), 200, None, None
    ),
    "transaction": write_record(
        USER, [_version(OBSERVATION), _version({**OBSERVATION, "id": "o2", "subject": {"reference": "Patient/p2"}})]
    ),
    "delete": write_record(SERVICE, [_version({**OBSERVATION, "id": "o3"}, version=2, deleted=True)]),
    "login": auth_record(
        "login",
        "login",
        401,
        server="http://x/fhir",
        ip="10.0.0.3",
        detail="wrong password",
        subject="dr",
        client_id="app",
    ),
    "token": auth_record(
        "token", "authorization_code", 200, server="http://x/fhir", ip=None, client_id="app", patient="p1"
    ),
    "alert": auth_record(
        "alert", "read", 401, server="http://x/fhir", ip="10.0.0.4", detail=str(error(401, "login", "bad token"))
    ),
}


@pytest.mark.parametrize("kind", sorted(RECORDS))
def test_events_of_every_kind_are_valid_r4(kind: str) -> None:
    record = RECORDS[kind]
    for entity in record["entities"]:  # what the audit job works out for unknown patients
        if entity[3] is None:
            entity[3] = ["p1"] if entity[0] != "ValueSet" else []
    for event in audit_events(record):
        event["extension"] = [
            {"url": "http://ember.dev/fhir/StructureDefinition/audit-chain-sequence", "valueString": "1"}
        ]
        issues = [issue for issue in check_resource(event, expected_type="AuditEvent") if issue.severity == "error"]
        assert not issues, (kind, issues, event)


def test_balp_codes_per_kind() -> None:
    def codes(kind: str) -> tuple[str, str, str]:
        event = audit_events(RECORDS[kind])[0]
        return event["type"]["code"], event.get("subtype", [{}])[0].get("code", ""), event["action"]

    assert codes("read") == ("rest", "read", "R")
    assert codes("search") == ("rest", "search-type", "E")
    assert codes("operation") == ("rest", "operation", "E")
    assert codes("delete") == ("rest", "delete", "D")
    assert codes("login") == ("110114", "110122", "E")
    assert codes("token") == ("110114", "token", "E")
    assert codes("alert") == ("110113", "", "E")
    assert [e["outcome"] for e in audit_events(RECORDS["login"])] == ["4"]
    assert len(audit_events(RECORDS["transaction"])) == 2  # one per patient
    user = next(a for a in audit_events(RECORDS["read"])[0]["agent"] if a["requestor"])
    assert user["purposeOfUse"][0]["coding"][0]["code"] == "BTG"
