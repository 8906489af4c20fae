"""SMART v1 and v2 scopes as grants, and what each interaction needs (scopes-and-launch-context)."""

from __future__ import annotations

import json

import pytest

from ember.access import AccessContext, ScopeGrant
from ember.auth.scopes import CONTEXT_SCOPES, grantable, parse_grant, parse_grants
from tests.conformance import CONFORMANCE

SCOPE_EXAMPLES = CONFORMANCE / "smart" / "scopes" / "scope-examples.json"


def test_every_scope_the_spec_page_mentions_is_understood() -> None:
    mentioned = [item["scope"] for item in json.loads(SCOPE_EXAMPLES.read_text())["distinct_scopes_mentioned"]]
    not_understood = [
        scope
        for scope in mentioned
        if scope not in CONTEXT_SCOPES and parse_grant(scope) is None and not scope.startswith("launch/")
    ]
    assert not_understood == []
    assert len(mentioned) > 20


@pytest.mark.parametrize(
    ("scope", "level", "resource_type", "letters"),
    [
        ("patient/Observation.read", "patient", "Observation", "rs"),
        ("patient/Observation.rs", "patient", "Observation", "rs"),
        ("user/*.*", "user", "*", "cruds"),
        ("user/Encounter.cruds", "user", "Encounter", "cruds"),
        ("user/Appointment.write", "user", "Appointment", "cud"),
        ("system/Encounter.cud", "system", "Encounter", "cud"),
        ("patient/Patient.r", "patient", "Patient", "r"),
    ],
)
def test_v1_and_v2_scopes_parse_to_the_same_grants(scope: str, level: str, resource_type: str, letters: str) -> None:
    assert parse_grant(scope) == ScopeGrant(level, resource_type, frozenset(letters))  # type: ignore[arg-type]


def test_v2_search_restriction_is_kept_as_pairs() -> None:
    grant = parse_grant(
        "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
    )
    assert grant is not None
    assert grant.query == (("category", "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"),)


@pytest.mark.parametrize(
    "scope",
    [
        "patient/Observation.sr",
        "patient/Observation.x",
        "doctor/*.rs",
        "patient/observation.rs",
        "patient/*.",
        "patient/*.read?a=b",
    ],
)
def test_malformed_scopes_grant_nothing(scope: str) -> None:
    assert parse_grant(scope) is None


@pytest.mark.parametrize(
    ("scopes", "interaction", "resource_type", "allowed"),
    [
        ("patient/Observation.rs", "read", "Observation", True),
        ("patient/Observation.rs", "search-type", "Observation", True),
        ("patient/Observation.rs", "read", "Condition", False),
        ("patient/Observation.rs", "create", "Observation", False),
        ("patient/Observation.s", "read", "Observation", False),
        ("patient/Observation.r", "history-instance", "Observation", True),
        ("patient/Observation.r", "history-type", "Observation", False),
        ("user/*.cruds", "delete", "Encounter", True),
        ("user/*.u", "patch", "Encounter", True),
        ("user/*.u", "conditional-update", "Encounter", False),
        ("user/*.us", "conditional-update", "Encounter", True),
        ("user/Patient.rs", "history-system", None, False),
        ("user/*.rs", "history-system", None, True),
        ("system/*.read", "operation-instance", "Patient", True),
        ("patient/Observation.rs", "capabilities", None, True),
        ("", "transaction", None, True),
        ("", "read", "Patient", False),
    ],
)
def test_permits_maps_interactions_to_permissions(
    scopes: str, interaction: str, resource_type: str | None, allowed: bool
) -> None:
    ctx = AccessContext(grants=parse_grants(scopes.split()))
    assert ctx.permits(interaction, resource_type) is allowed


def test_an_unrestricted_context_may_do_anything() -> None:
    assert AccessContext.system().permits("delete", "Patient")


def test_grantable_keeps_what_the_registration_covers() -> None:
    allowed = ["patient/*.rs", "launch/patient", "openid"]
    requested = [
        "patient/Observation.rs?category=laboratory",
        "patient/Observation.read",
        "patient/Observation.cruds",
        "user/*.rs",
        "launch/patient",
        "fhirUser",
    ]
    assert grantable(requested, allowed) == [
        "patient/Observation.rs?category=laboratory",
        "patient/Observation.read",
        "launch/patient",
    ]


def test_a_restricted_registration_does_not_cover_the_unrestricted_scope() -> None:
    assert grantable(["patient/Observation.rs"], ["patient/Observation.rs?category=laboratory"]) == []
