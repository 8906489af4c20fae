"""What the segment maps of one message share: the Bundle being built and the resources in scope.

A message is read top to bottom; a PID sets the patient every later resource refers to, a PV1
the encounter, an OBR the report its OBX results belong to. Resources with a stable business
identifier (PID-3, PV1-19, order numbers...) get an id derived from it, and their entry is a PUT:
a repeated or updated message rewrites the same resource instead of adding a duplicate.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from ember.hl7v2.codes import coding_system
from ember.hl7v2.datatypes import offset_of
from ember.hl7v2.message import Message, Segment


class MappingError(Exception):
    """The message parsed but cannot be mapped: answered with AE and an ERR segment."""

    def __init__(self, text: str, segment: str = "", sequence: int = 0, field_number: int = 0, code: str = "207"):
        super().__init__(text)
        self.text = text
        self.segment = segment
        self.sequence = sequence
        self.field_number = field_number
        #: HL7 table 0357 message error condition code (207: application internal error).
        self.code = code


def identifier_criteria(identifier: dict[str, Any]) -> str:
    """`system|value` token search criteria, escaped (search.html#escaping); `|value` when the
    identifier has no system, so it never matches the same value of another system."""
    return "|".join(_escape(identifier.get(part, "")) for part in ("system", "value"))


def _escape(text: str) -> str:
    for special in ("\\", "|", ",", "$"):
        text = text.replace(special, "\\" + special)
    return text


def stable_id(resource_type: str, key: str) -> str:
    """A FHIR id derived from a business key, the same on every server and every resend."""
    return hashlib.sha256(f"{resource_type}|{key}".encode()).hexdigest()[:40]


@dataclass(slots=True)
class Translatable:
    """A CodeableConcept whose first coding the site's terminology may translate (OBX-3, OBR-4);
    `system` is that coding's FHIR system as mapped (a URI, or the v2 name of a local system)."""

    concept: dict[str, Any]
    system: str
    code: str


@dataclass(slots=True)
class MappingContext:
    """The state of mapping one message."""

    message: Message
    default_offset: str = "+0000"
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    patient: dict[str, Any] | None = None
    patient_key: str | None = None
    patient_resource: dict[str, Any] | None = None
    encounter: dict[str, Any] | None = None
    order_key: str | None = None
    order_match: dict[str, Any] | None = None
    order_status: str | None = None
    report: dict[str, Any] | None = None
    report_key: str | None = None
    last_observation: dict[str, Any] | None = None
    order_authored: str | None = None
    order_request: dict[str, Any] | None = None
    #: The key of the ORC's ServiceRequest in `entries`, so an RXO can take its place.
    order_entry: str | None = None
    appointment: dict[str, Any] | None = None
    #: The MedicationRequest or Immunization an RXR (route, site) belongs to.
    administration: dict[str, Any] | None = None
    translatable: list[Translatable] = field(default_factory=list)
    #: Work left for the end of the message (an SIU's patient follows its SCH).
    finishers: list[Callable[[MappingContext], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        offset = offset_of(self.message.header.value(7))
        if offset:
            self.default_offset = offset

    @property
    def event(self) -> str:
        return self.message.trigger_event

    def add(self, resource: dict[str, Any], key: str | None, match: dict[str, Any] | None = None) -> dict[str, Any]:
        """Add `resource` to the bundle and return a Reference to it. With `match` (a business
        Identifier) the entry is a conditional update on that identifier, so the resource is found
        however it was created (by this bridge, the REST API, a load); with only `key`, a PUT to
        the id derived from it; with neither, a create. A second resource with the same key in
        one message replaces the first: a transaction may not write one resource twice."""
        resource_type = resource["resourceType"]
        if key is not None and match is not None:
            full_url = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{resource_type}|{key}')}"
            url = f"{resource_type}?{urlencode({'identifier': identifier_criteria(match)})}"
            self.entries[key] = {"fullUrl": full_url, "resource": resource, "request": {"method": "PUT", "url": url}}
            return {"reference": full_url}
        if key is not None:
            resource_id = stable_id(resource_type, key)
            resource["id"] = resource_id
            url = f"{resource_type}/{resource_id}"
            self.entries[url] = {"fullUrl": url, "resource": resource, "request": {"method": "PUT", "url": url}}
            return {"reference": url}
        full_url = f"urn:uuid:{uuid.uuid4()}"
        self.entries[full_url] = {
            "fullUrl": full_url,
            "resource": resource,
            "request": {"method": "POST", "url": resource_type},
        }
        return {"reference": full_url}

    def require_patient(self, segment: Segment) -> dict[str, Any]:
        """The patient reference, or AE when the segment comes before any PID."""
        if self.patient is None:
            raise MappingError(
                f"{segment.name} needs a patient, but no PID segment precedes it", segment.name, code="100"
            )
        return self.patient

    def scoped_key(self, *parts: str) -> str | None:
        """A key for a resource that belongs to the patient (NK1, AL1...): only when the patient
        itself has a stable key, and every part is present."""
        if self.patient_key is None or not all(parts):
            return None
        return "|".join((self.patient_key, *parts))

    def translate_later(self, concept: dict[str, Any] | None, system_name: str, code: str) -> None:
        """Queue a coded field (v2 coding system name, code) for the site's code translation."""
        if concept is not None and code:
            self.translatable.append(Translatable(concept, coding_system(system_name) or "", code))

    def bundle(self) -> dict[str, Any]:
        for finish in self.finishers:
            finish(self)
        return {"resourceType": "Bundle", "type": "transaction", "entry": list(self.entries.values())}
