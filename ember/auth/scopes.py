"""SMART scopes: parsing v1 and v2 resource scopes into grants, and narrowing requests.

A scope string mixes resource scopes (`patient/Observation.rs`), launch scopes (`launch`,
`launch/patient`), OpenID scopes (`openid fhirUser`) and refresh scopes (`offline_access`).
Only resource scopes become `ScopeGrant`s; the others are kept as words.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from ember.access import ScopeGrant, ScopeLevel

#: Scopes that are not about resources but that Ember understands.
CONTEXT_SCOPES = frozenset(
    {"openid", "fhirUser", "profile", "launch", "launch/patient", "offline_access", "online_access"}
)
_LEVELS: frozenset[ScopeLevel] = frozenset({"patient", "user", "system"})
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
_V2 = re.compile(r"c?r?u?d?s?")
_TYPE = re.compile(r"\*|[A-Z][A-Za-z]{1,63}")


def parse_grant(scope: str) -> ScopeGrant | None:
    """The grant a resource scope gives, or None when `scope` is not a valid resource scope."""
    head, _, query = scope.partition("?")
    level, slash, rest = head.partition("/")
    resource_type, dot, permissions = rest.partition(".")
    if not slash or not dot or level not in _LEVELS or not _TYPE.fullmatch(resource_type):
        return None
    letters = _V1.get(permissions)
    if letters is None:
        if not permissions or not _V2.fullmatch(permissions):
            return None
        letters = permissions
    if query and letters != permissions:
        return None  # search-parameter restrictions exist only in v2 syntax
    pairs = tuple(parse_qsl(query, keep_blank_values=False)) if query else ()
    return ScopeGrant(level, resource_type, frozenset(letters), pairs)  # type: ignore[arg-type]


def parse_grants(scopes: frozenset[str] | list[str]) -> tuple[ScopeGrant, ...]:
    """Every resource grant in `scopes`, in a stable order; other words are ignored."""
    grants = (parse_grant(scope) for scope in sorted(scopes))
    return tuple(grant for grant in grants if grant is not None)


def is_known(scope: str) -> bool:
    """Whether Ember can grant `scope` at all."""
    return scope in CONTEXT_SCOPES or parse_grant(scope) is not None


def split(scope: str | None) -> list[str]:
    """A space-separated scope parameter as a list without repeats, in the order given."""
    return list(dict.fromkeys((scope or "").split()))


def grantable(requested: list[str], allowed: list[str]) -> list[str]:
    """The requested scopes a client registered for `allowed` may receive.

    A requested resource scope passes when one allowed scope covers it: same level, the same
    type or a wildcard, a superset of permissions and no restriction it lacks (so a client
    registered for `patient/*.rs` may ask for `patient/Observation.rs?category=...`).
    """
    allowed_grants = [grant for grant in (parse_grant(s) for s in allowed) if grant is not None]
    allowed_words = set(allowed)
    granted = []
    for scope in requested:
        grant = parse_grant(scope)
        if grant is None:
            if scope in CONTEXT_SCOPES and scope in allowed_words:
                granted.append(scope)
        elif any(_within(grant, wider) for wider in allowed_grants):
            granted.append(scope)
    return granted


def _within(grant: ScopeGrant, wider: ScopeGrant) -> bool:
    return (
        grant.level == wider.level
        and wider.resource_type in ("*", grant.resource_type)
        and grant.interactions <= wider.interactions
        and set(wider.query) <= set(grant.query)
    )
