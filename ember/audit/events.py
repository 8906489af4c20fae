"""From audit records to FHIR R4 AuditEvents shaped after the IHE Basic Audit Log Patterns.

As BALP asks, an event names one patient at most: a record that touched several patients
becomes one AuditEvent per patient (plus one for what belongs to none). Each event has:

- `type` `rest` (audit-event-type) with the FHIR restful-interaction `subtype` for FHIR
  requests; DICOM 110114 User Authentication (subtype 110122 Login) for logins and token
  requests; DICOM 110113 Security Alert for refused bearer tokens and break-the-glass attempts;
- `action` C/R/U/D/E, `outcome` 0 (success), 4 (the client's request failed), 8 (server error);
- agents: the app as DICOM 110153 Source Role ID (its client id as identifier, the source IP
  as network address), the server as 110152 Destination Role ID, and the user (fhirUser
  reference, username identifier) as the requestor with the purpose of use;
- entities: the Patient (audit-entity-type 1, role 1 Patient), each resource read or written
  (type 2, role 4 Domain Resource, versioned reference), or the query (type 2, role 24, base64).
"""

from __future__ import annotations

import base64
import re
from typing import Any

from ember.audit.records import Entity, Record
from ember.consent.provisions import CLIENT_ID_SYSTEM

DCM = "http://dicom.nema.org/resources/ontology/DCM"
EVENT_TYPES = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL = "http://hl7.org/fhir/restful-interaction"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
USERNAME_SYSTEM = "http://ember.dev/fhir/sid/username"
EMBER_SUBTYPES = "http://ember.dev/fhir/CodeSystem/audit-event-subtype"

_REFERENCE = re.compile(r"[A-Z][A-Za-z]{1,63}/[A-Za-z0-9\-.]{1,64}")
#: Router interaction -> (restful-interaction code, action).
_REST = {
    "read": ("read", "R"),
    "vread": ("vread", "R"),
    "history-instance": ("history-instance", "R"),
    "history-type": ("history-type", "R"),
    "history-system": ("history-system", "R"),
    "search-type": ("search-type", "E"),
    "search-compartment": ("search-type", "E"),
    "search-system": ("search-system", "E"),
    "create": ("create", "C"),
    "update": ("update", "U"),
    "conditional-update": ("update", "U"),
    "patch": ("patch", "U"),
    "conditional-patch": ("patch", "U"),
    "delete": ("delete", "D"),
    "conditional-delete": ("delete", "D"),
    "transaction": ("transaction", "E"),
}


def audit_events(record: Record) -> list[dict[str, Any]]:
    """The AuditEvents of one record whose entities' patients are all known."""
    groups: dict[str | None, list[Entity]] = {}
    for entity in record["entities"]:
        for patient in entity[3] or [None]:
            groups.setdefault(patient, []).append(entity)
    if record.get("query"):
        # A query names no resources: one event per patient whose data it returned.
        return [_event(record, p, []) for p in groups if p is not None] or [_event(record, None, [])]
    return [_event(record, p, entities) for p, entities in groups.items()] or [_event(record, None, [])]


def _event(record: Record, patient: str | None, entities: list[Entity]) -> dict[str, Any]:
    event_type, subtypes, action = _classify(record)
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": event_type,
        "subtype": subtypes,
        "action": action,
        "recorded": record["recorded"],
        "outcome": _outcome(record["outcome"]),
        "agent": _agents(record),
        "source": {
            "site": record.get("server") or "ember",
            "observer": {"display": "Ember FHIR server"},
            "type": [{"system": SOURCE_TYPE, "code": "4", "display": "Application Server"}],
        },
    }
    if record.get("detail"):
        event["outcomeDesc"] = record["detail"]
    described = _entities(record, patient, entities)
    if described:
        event["entity"] = described
    if not event["subtype"]:
        del event["subtype"]
    return event


def _classify(record: Record) -> tuple[dict[str, str], list[dict[str, str]], str]:
    interaction = record["interaction"]
    if record["event"] == "login":
        return _dcm("110114", "User Authentication"), [_dcm("110122", "Login")], "E"
    if record["event"] == "token":
        subtype = {"system": EMBER_SUBTYPES, "code": "token", "display": f"Token request ({interaction})"}
        return _dcm("110114", "User Authentication"), [subtype], "E"
    if record["event"] == "alert":
        return _dcm("110113", "Security Alert"), [], "E"
    rest = {"system": EVENT_TYPES, "code": "rest", "display": "Restful Operation"}
    if interaction.startswith("operation-"):
        return rest, [{"system": RESTFUL, "code": "operation"}], "E"
    code, action = _REST.get(interaction, (interaction, "E"))
    return rest, [{"system": RESTFUL, "code": code}], action


def _dcm(code: str, display: str) -> dict[str, str]:
    return {"system": DCM, "code": code, "display": display}


def _outcome(status: int) -> str:
    return "0" if status < 400 else "4" if status < 500 else "8"


def _agents(record: Record) -> list[dict[str, Any]]:
    who = record["agent"]
    client: dict[str, Any] = {
        "type": {"coding": [_dcm("110153", "Source Role ID")]},
        "requestor": "subject" not in who or who.get("subject") == who.get("client_id"),
    }
    if who.get("client_id"):
        client["who"] = {"identifier": {"system": CLIENT_ID_SYSTEM, "value": who["client_id"]}}
    if who.get("ip"):
        client["network"] = {"address": who["ip"], "type": "2"}
    server = {
        "type": {"coding": [_dcm("110152", "Destination Role ID")]},
        "who": {"display": record.get("server") or "Ember FHIR server"},
        "requestor": False,
    }
    agents = [client, server]
    if who.get("subject") and who.get("subject") != who.get("client_id"):
        agents.append(_user(who))
    elif who.get("purpose"):
        client["purposeOfUse"] = [_purpose(who["purpose"])]
    return agents


def _user(who: dict[str, Any]) -> dict[str, Any]:
    reference: dict[str, Any] = {"identifier": {"system": USERNAME_SYSTEM, "value": who["subject"]}}
    if who.get("fhir_user") and _REFERENCE.fullmatch(who["fhir_user"]):
        reference["reference"] = who["fhir_user"]
    user: dict[str, Any] = {
        "type": {"coding": [{"system": PARTICIPATION, "code": "IRCP", "display": "information recipient"}]},
        "who": reference,
        "requestor": True,
    }
    if who.get("purpose"):
        user["purposeOfUse"] = [_purpose(who["purpose"])]
    return user


def _purpose(code: str) -> dict[str, Any]:
    return {"coding": [{"system": ACT_REASON, "code": code}]}


def _entities(record: Record, patient: str | None, entities: list[Entity]) -> list[dict[str, Any]]:
    described: list[dict[str, Any]] = []
    if patient is not None:
        described.append(
            {
                "what": {"reference": f"Patient/{patient}"},
                "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
                "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
            }
        )
    if record.get("query"):
        described.append(
            {
                "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
                "role": {"system": OBJECT_ROLE, "code": "24", "display": "Query"},
                "query": base64.b64encode(record["query"].encode()).decode(),
            }
        )
        return described
    for resource_type, resource_id, version, _ in entities:
        if resource_type == "Patient" and resource_id == patient:
            continue
        described.append(
            {
                "what": _what(resource_type, resource_id, version),
                "type": {"system": ENTITY_TYPE, "code": "2", "display": "System Object"},
                "role": {"system": OBJECT_ROLE, "code": "4", "display": "Domain Resource"},
            }
        )
    return described


def _what(resource_type: str, resource_id: str, version: int | None) -> dict[str, str]:
    reference = f"{resource_type}/{resource_id}"
    if not _REFERENCE.fullmatch(reference):
        return {"display": reference[:200]}
    return {"reference": f"{reference}/_history/{version}" if version else reference}
