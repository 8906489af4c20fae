"""From an R4 Consent resource to the denials the access filter enforces.

Only active Consents of scope `patient-privacy` about a Patient count. Every provision whose
`type` is `deny` (the root one or a nested one) becomes one ConsentDenial, constrained by that
provision's own elements:

- `actor.reference`: a Practitioner, PractitionerRole, Organization, Patient, RelatedPerson or
  Device reference, or an app named by an identifier with system CLIENT_ID_SYSTEM and the OAuth
  client id as value;
- `purpose`: purpose-of-use codes (v3-ActReason: HRESCH, HMARKT, TREAT...);
- `class`: resource types (system http://hl7.org/fhir/resource-types);
- `securityLabel`: security labels the denied resources carry in `meta.security`;
- `period`: when the provision holds.

Nested `permit` provisions inside a deny are not evaluated as exceptions: the deny holds in full,
which errs on the side of privacy. Class codings of other systems (profiles) are ignored.
"""

from __future__ import annotations

from typing import Any

from ember.fhir.dates import date_range
from ember.fhir.model import is_resource_type
from ember.store.consent_rules import ConsentDenial, client_actor

CONSENT_SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
CLIENT_ID_SYSTEM = "http://ember.dev/fhir/sid/client-id"
RESOURCE_TYPES_SYSTEM = "http://hl7.org/fhir/resource-types"
_ACTOR_TYPES = frozenset({"Practitioner", "PractitionerRole", "Organization", "Patient", "RelatedPerson", "Device"})


def is_privacy_consent(consent: dict[str, Any]) -> bool:
    codings = (consent.get("scope") or {}).get("coding") or []
    return consent.get("status") == "active" and any(
        c.get("system") == CONSENT_SCOPE_SYSTEM and c.get("code") == "patient-privacy" for c in codings
    )


def denials_of(consent: dict[str, Any]) -> list[ConsentDenial]:
    """The deny provisions of an active patient-privacy Consent (empty for any other)."""
    patient = _patient_id(consent)
    if patient is None or not is_privacy_consent(consent):
        return []
    denials: list[ConsentDenial] = []
    pending = [consent.get("provision")]
    while pending:
        provision = pending.pop()
        if not isinstance(provision, dict):
            continue
        if provision.get("type") == "deny":
            denials.append(_denial(str(consent.get("id", "")), patient, provision))
        pending += provision.get("provision") or []
    return denials


def _patient_id(consent: dict[str, Any]) -> str | None:
    reference = (consent.get("patient") or {}).get("reference")
    if not isinstance(reference, str) or not reference.startswith("Patient/"):
        return None
    return reference.removeprefix("Patient/").split("/")[0] or None


def _denial(consent_id: str, patient: str, provision: dict[str, Any]) -> ConsentDenial:
    start, end = _period(provision.get("period"))
    return ConsentDenial(
        consent=consent_id,
        patient=patient,
        actors=frozenset(key for actor in provision.get("actor") or [] if (key := _actor_key(actor))),
        purposes=frozenset(str(c["code"]) for c in provision.get("purpose") or [] if c.get("code")),
        resource_types=frozenset(
            str(c["code"])
            for c in provision.get("class") or []
            if c.get("system") in (None, RESOURCE_TYPES_SYSTEM) and is_resource_type(str(c.get("code")))
        ),
        labels=tuple((c.get("system"), str(c["code"])) for c in provision.get("securityLabel") or [] if c.get("code")),
        start=start,
        end=end,
    )


def _actor_key(actor: dict[str, Any]) -> str | None:
    reference = actor.get("reference") or {}
    identifier = reference.get("identifier") or {}
    if identifier.get("system") == CLIENT_ID_SYSTEM and identifier.get("value"):
        return client_actor(str(identifier["value"]))
    target = reference.get("reference")
    if isinstance(target, str) and target.split("/")[0] in _ACTOR_TYPES and target.count("/") == 1:
        return target
    return None


def _period(period: Any) -> tuple[float | None, float | None]:
    if not isinstance(period, dict):
        return None, None
    start = date_range(period["start"]) if isinstance(period.get("start"), str) else None
    end = date_range(period["end"]) if isinstance(period.get("end"), str) else None
    return (start[0] / 1e6 if start else None), (end[1] / 1e6 if end else None)
