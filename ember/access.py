"""Who is asking: the one value every entry point builds and every read path receives.

It lives at the root of the package because every layer speaks it: the edge builds it from the
request (and from the SMART token), services pass it on, and the store turns it into the
filter it adds to each query, so no route can forget to apply it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ScopeLevel = Literal["patient", "user", "system"]

#: The SMART v2 permission letter each FHIR interaction needs (scopes-and-launch-context.html:
#: r = read, vread, instance history; s = search, type and system history; u = update and patch,
#: including an update that creates). Conditional writes search first, so they need `s` too.
#: Interactions missing here (capabilities, transaction, batch) need no scope of their own:
#: metadata is public and every Bundle entry is checked on its own.
INTERACTION_PERMISSIONS: dict[str, str] = {
    "read": "r",
    "vread": "r",
    "history-instance": "r",
    "search-type": "s",
    "search-system": "s",
    "search-compartment": "s",
    "history-type": "s",
    "history-system": "s",
    "create": "c",
    "update": "u",
    "patch": "u",
    "delete": "d",
    "conditional-update": "us",
    "conditional-patch": "us",
    "conditional-delete": "ds",
    "operation-system": "r",
    "operation-type": "r",
    "operation-instance": "r",
}


@dataclass(frozen=True, slots=True)
class ScopeGrant:
    """One granted SMART resource scope, v1 or v2 (`patient/Observation.read` and
    `patient/Observation.rs` give the same grant).

    `query` is the v2 search-parameter restriction (`?category=...|laboratory`) as (name, value)
    pairs: the grant covers only resources that match it, which the search layer must apply.
    """

    level: ScopeLevel
    resource_type: str  # "*" for every type
    interactions: frozenset[str]  # of "c", "r", "u", "d", "s"
    query: tuple[tuple[str, str], ...] = ()

    def covers(self, letter: str, resource_type: str | None) -> bool:
        """True when this grant allows permission `letter` on `resource_type` (None: the whole
        system, which only a wildcard grant covers)."""
        if letter not in self.interactions:
            return False
        return self.resource_type == "*" or (resource_type is not None and self.resource_type == resource_type)


@dataclass(frozen=True, slots=True)
class AccessContext:
    """The caller of one request.

    `unrestricted` marks a trusted caller (local development without auth, the CLI loader,
    background jobs). Otherwise the caller holds `grants`, parsed from the token's `scopes`;
    `patient` is the launch patient of a patient-level token (the caller may only see that
    patient's compartment), `fhir_user` the logged-in user's resource ("Practitioner/12") and
    `client_id` the app that holds the token.
    """

    subject: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    patient: str | None = None
    purpose: str | None = None
    source_ip: str | None = None
    unrestricted: bool = False
    grants: tuple[ScopeGrant, ...] = ()
    client_id: str | None = None
    fhir_user: str | None = None

    @classmethod
    def system(cls, subject: str = "ember") -> AccessContext:
        """A trusted in-process caller such as `ember load` or a background job."""
        return cls(subject=subject, unrestricted=True)

    def permits(self, interaction: str, resource_type: str | None) -> bool:
        """Whether the caller's scopes allow `interaction` (a router interaction code such as
        "read", "search-type", "operation-instance") on `resource_type`.

        This answers "may this kind of request be made at all"; which resources it may then
        see (the patient compartment, a v2 query restriction) is the store's filter.
        """
        if self.unrestricted:
            return True
        letters = INTERACTION_PERMISSIONS.get(interaction)
        if letters is None:
            return interaction in ("capabilities", "transaction", "batch")
        return all(any(grant.covers(letter, resource_type) for grant in self.grants) for letter in letters)

    def grants_for(self, resource_type: str) -> tuple[ScopeGrant, ...]:
        """The grants that say anything about `resource_type` (wildcards included), for the
        search layer to turn their `level` and `query` into filters."""
        return tuple(grant for grant in self.grants if grant.resource_type in ("*", resource_type))
