"""Which provisions of a Consent become denials, and to whom a denial applies."""

from __future__ import annotations

import time
from typing import Any

from ember.access import AccessContext
from ember.consent import CLIENT_ID_SYSTEM, denials_of
from ember.store.consent_rules import ConsentDenials

SCOPE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]}


def _consent(provision: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "id": "c1",
        "status": "active",
        "scope": SCOPE,
        "patient": {"reference": "Patient/p1"},
        "provision": provision,
        **changes,
    }


def test_root_and_nested_deny_provisions_become_denials_with_their_own_constraints() -> None:
    provision = {
        "type": "permit",
        "provision": [
            {
                "type": "deny",
                "actor": [{"reference": {"reference": "Practitioner/7"}}],
                "class": [{"system": "http://hl7.org/fhir/resource-types", "code": "Observation"}],
            },
            {"type": "deny", "purpose": [{"code": "HRESCH"}], "securityLabel": [{"system": "s", "code": "R"}]},
            {"type": "permit", "actor": [{"reference": {"reference": "Practitioner/8"}}]},
        ],
    }
    denials = sorted(denials_of(_consent(provision)), key=lambda d: sorted(d.actors))
    assert [(set(d.actors), set(d.purposes), set(d.resource_types), d.labels) for d in denials] == [
        (set(), {"HRESCH"}, set(), (("s", "R"),)),
        ({"Practitioner/7"}, set(), {"Observation"}, ()),
    ]
    assert all(d.patient == "p1" and d.consent == "c1" for d in denials)


def test_only_active_patient_privacy_consents_about_a_patient_count() -> None:
    deny = {"type": "deny"}
    assert denials_of(_consent(deny))
    assert not denials_of(_consent(deny, status="inactive"))
    assert not denials_of(
        _consent(deny, scope={"coding": [{"system": SCOPE["coding"][0]["system"], "code": "research"}]})
    )
    assert not denials_of(_consent(deny, patient={"reference": "Group/1"}))


def test_apps_are_named_by_client_id_identifier_and_unknown_classes_are_ignored() -> None:
    provision = {
        "type": "deny",
        "actor": [
            {"reference": {"identifier": {"system": CLIENT_ID_SYSTEM, "value": "app-1"}}},
            {"reference": {"display": "someone"}},
        ],
        "class": [
            {"system": "http://hl7.org/fhir/resource-types", "code": "NotAType"},
            {"system": "urn:profile", "code": "x"},
        ],
    }
    (denial,) = denials_of(_consent(provision))
    assert denial.actors == {"client:app-1"} and not denial.resource_types  # when in doubt, every type


def test_a_denial_applies_within_its_period_to_the_named_caller_unless_the_glass_is_broken() -> None:
    provision = {
        "type": "deny",
        "actor": [{"reference": {"reference": "Practitioner/7"}}],
        "period": {"start": "2000-01-01", "end": "2999-12-31"},
    }
    expired = {
        "type": "deny",
        "actor": [{"reference": {"reference": "Practitioner/7"}}],
        "period": {"end": "2001-01-01"},
    }
    denials = ConsentDenials(
        [
            *denials_of(_consent(provision)),
            *denials_of(
                _consent(
                    expired,
                )
            ),
        ]
    )
    named = AccessContext(subject="u", fhir_user="Practitioner/7", client_id="app")
    assert len(denials.for_caller(named)) == 1
    assert not denials.for_caller(AccessContext(subject="u", fhir_user="Practitioner/8", client_id="app"))
    assert not denials.for_caller(AccessContext(subject="u", fhir_user="Practitioner/7", purpose="BTG"))
    assert denials.for_caller(named)[0].applies(frozenset({"Practitioner/7"}), None, time.time())
