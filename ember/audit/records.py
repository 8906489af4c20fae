"""Audit records: the small JSON values the outbox carries until they become AuditEvents.

A record is taken where the interaction happens (the write transaction, the dispatcher, the
authorization server) and holds only what is known there and cheap to copy: who (the caller's
identity and address), what (the interaction, the resources or the query), the outcome and the
time. Which patients the resources belong to is worked out later by the audit job when the
record does not already say (ember/audit/patients.py), so reads stay cheap.

Shape: {"event": "rest" | "login" | "token" | "alert", "interaction": router code or grant type,
"recorded": FHIR instant, "outcome": HTTP-like status, "detail": text, "server": FHIR base,
"agent": {...}, "query": "Type?a=b", "entities": [[type, id, version, patients or None], ...]}.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ember.access import AccessContext
from ember.fhir.outcome import FhirError
from ember.store.access_rules import compartment_params
from ember.store.base import NewVersion

if TYPE_CHECKING:  # write_versions imports this module while ember.interactions is loading
    from ember.interactions.request import FhirRequest, FhirResponse

Record = dict[str, Any]
#: [type, id, version or None, patient ids or None (not yet known)]
Entity = list[Any]


def recorded_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def agent_of(ctx: AccessContext) -> dict[str, Any]:
    """Who acted, from the caller's context (values that are None are left out)."""
    values = {
        "subject": ctx.subject,
        "client_id": ctx.client_id,
        "fhir_user": ctx.fhir_user,
        "ip": ctx.source_ip,
        "purpose": ctx.purpose,
        "patient": ctx.patient,
    }
    return {name: value for name, value in values.items() if value is not None}


def write_record(ctx: AccessContext, versions: Sequence[NewVersion]) -> Record:
    """The record of one unit of writes, patients taken from the index rows just computed."""
    return {
        "event": "rest",
        "interaction": "transaction" if len(versions) > 1 else _write_interaction(versions[0]),
        "recorded": recorded_now(),
        "outcome": 200,
        "agent": agent_of(ctx),
        "entities": [[v.resource_type, v.id, v.version, None if v.deleted else written_patients(v)] for v in versions],
    }


def _write_interaction(version: NewVersion) -> str:
    if version.deleted:
        return "delete"
    return "create" if version.version == 1 else "update"


def written_patients(version: NewVersion) -> list[str]:
    """The patients whose compartment a new version is in, from its reference index rows."""
    return compartment_patients(version.resource_type, version.id, version.index.get("reference", ()))


def compartment_patients(resource_type: str, resource_id: str, reference_rows: Iterable[Sequence[Any]]) -> list[str]:
    """The patients whose compartment a resource is in, from its reference index rows (param,
    target type, target id, ...) and the Patient CompartmentDefinition's parameters."""
    if resource_type == "Patient":
        return [resource_id]
    params = compartment_params("Patient").get(resource_type)
    if not params:
        return []
    return sorted({str(row[2]) for row in reference_rows if row[0] in params and row[1] == "Patient" and row[2]})


def request_record(
    ctx: AccessContext, request: FhirRequest, outcome: int, detail: str | None, response: FhirResponse | None
) -> Record:
    """The record of one FHIR request as the dispatcher saw it (success or failure)."""
    record: Record = {
        "event": "rest",
        "interaction": request.interaction,
        "recorded": recorded_now(),
        "outcome": outcome,
        "server": request.base_url,
        "agent": agent_of(ctx),
        "entities": _entities(request, response),
    }
    if request.operation:
        record["operation"] = request.operation
    if request.interaction.startswith(("search-", "history-type", "history-system")) or request.operation:
        record["query"] = _query_text(request)
    if detail:
        record["detail"] = detail
    return record


def failure_detail(failure: FhirError) -> str:
    return "; ".join(issue.diagnostics for issue in failure.issues)[:500]


def _entities(request: FhirRequest, response: FhirResponse | None) -> list[Entity]:
    """The resources a request read: the Bundle's entries, or the one it named."""
    resource = response.resource if response is not None else None
    if isinstance(resource, dict) and resource.get("resourceType") == "Bundle":
        keys = dict.fromkeys(_key(entry.get("fullUrl")) for entry in resource.get("entry") or ())
        return [[kind, rid, None, None] for kind, rid in keys if kind]
    if request.resource_type and request.id:
        version = int(request.version_id) if (request.version_id or "").isdigit() else None
        return [[request.resource_type, request.id, version, None]]
    return []


def _key(full_url: Any) -> tuple[str, str] | tuple[None, None]:
    if not isinstance(full_url, str):
        return None, None
    parts = full_url.rsplit("/", 2)
    return (parts[1], parts[2]) if len(parts) == 3 else (None, None)


def _query_text(request: FhirRequest) -> str:
    target = request.resource_type or ""
    if request.compartment is not None:
        target = f"{request.compartment[0]}/{request.compartment[1]}/{target}"
    if request.operation:
        target = f"{target}/{request.id}" if request.id else target
        target = f"{target}/${request.operation}".lstrip("/")
    query = "&".join(f"{name}={value}" for name, value in request.params)
    return f"{target}?{query}"[:4000] if query else target[:4000]


def auth_record(
    event: str,
    interaction: str,
    outcome: int,
    *,
    server: str,
    ip: str | None,
    detail: str | None = None,
    **agent: str | None,
) -> Record:
    """A login, token or security-alert record from the authorization server or the edge; a
    `patient` (the launch patient a token was issued for) becomes its patient entity."""
    patient = agent.pop("patient", None)
    who = {name: value for name, value in agent.items() if value is not None}
    if ip is not None:
        who["ip"] = ip
    record: Record = {
        "event": event,
        "interaction": interaction,
        "recorded": recorded_now(),
        "outcome": outcome,
        "server": server,
        "agent": who,
        "entities": [["Patient", patient, None, [patient]]] if patient else [],
    }
    if detail:
        record["detail"] = detail[:500]
    return record
