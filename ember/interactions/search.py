"""search: GET/POST [base]/[type]?..., [base]?_type=..., [base]/Patient/[id]/[type]?...

Parameters become conditions (ember.store.search_parse), the store runs them with the caller's
access filter, and the page becomes a `searchset` Bundle. Pages are keyset cursors (`_cursor`)
over the sort order, so `next` and `previous` stay right when data changes between requests.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import orjson

from ember.access import AccessContext
from ember.fhir.model import is_resource_type
from ember.fhir.outcome import error
from ember.fhir.search_parameters import row_aliases
from ember.interactions.bundles import bundle, link
from ember.interactions.code_sets import resolve_code_sets
from ember.interactions.request import FhirRequest, FhirResponse
from ember.store.access_rules import compartment_params
from ember.store.base import Store
from ember.store.search_parse import INDEX_TABLE_OF_TYPE, parameters_of, parse_parameter, refuse_unknown
from ember.store.search_query import (
    CompartmentCondition,
    Condition,
    IncludeSpec,
    SearchMatch,
    SearchQuery,
    SortKey,
)


@dataclass(slots=True)
class SearchLimits:
    """`_count` when the client gives none, and the most one page may hold (settings)."""

    default_count: int = 50
    max_count: int = 1000


LIMITS = SearchLimits()
MAX_ITERATE = 3
_CONTROL = frozenset({"_count", "_sort", "_total", "_include", "_revinclude", "_cursor", "_summary", "_type"})
_IGNORED = frozenset({"_format", "_pretty", "_elements", "_contained", "_containedType"})


@dataclass(slots=True)
class _Parsed:
    conditions: list[Condition] = field(default_factory=list)
    used: list[tuple[str, str]] = field(default_factory=list)
    sort: list[SortKey] = field(default_factory=list)
    include: list[IncludeSpec] = field(default_factory=list)
    revinclude: list[IncludeSpec] = field(default_factory=list)


async def handle(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    types = _resource_types(request)
    strict = "handling=strict" in request.headers.get("prefer", "").replace(" ", "")
    parsed = _parse(types, request, strict)
    if request.compartment is not None:
        parsed.conditions.append(_compartment(request.compartment, types[0]))
    parsed.conditions = [await resolve_code_sets(ctx, store, condition) for condition in parsed.conditions]
    count = _count(request)
    summary_count = request.param("_summary") == "count" or count == 0
    after, backwards = _cursor(request.param("_cursor"))
    query = SearchQuery(
        resource_types=types,
        conditions=tuple(parsed.conditions),
        sort=tuple(parsed.sort),
        count=max(count, 1),
        after=after,
        backwards=backwards,
        include=tuple(parsed.include),
        revinclude=tuple(parsed.revinclude),
    )
    if summary_count:
        total = await store.search_count(ctx, query)
        return FhirResponse(200, resource=bundle("searchset", [], total=total, link=[_self(request, parsed, query)]))
    matches, more = await store.search(ctx, query)
    entries = [_entry(request.base_url, m.resource_type, m.id, m.body, "match") for m in matches]
    entries += [_entry(request.base_url, *found, "include") for found in await _included(ctx, store, query, matches)]
    extra: dict[str, Any] = {}
    total_mode = request.param("_total")
    if total_mode in ("accurate", "estimate"):
        extra["total"] = await store.search_count(ctx, query)
    elif total_mode != "none" and after is None and not more:
        extra["total"] = len(matches)
    extra["link"] = _links(request, parsed, query, matches, more)
    return FhirResponse(200, resource=bundle("searchset", entries, **extra))


def _resource_types(request: FhirRequest) -> tuple[str, ...]:
    if request.resource_type is not None:
        return (request.resource_type,)
    named = request.param("_type")
    if not named:
        raise error(400, "required", "A system search needs _type (the resource types to search)", "_type")
    types = tuple(dict.fromkeys(part.strip() for part in named.split(",") if part.strip()))
    for resource_type in types:
        if not is_resource_type(resource_type):
            raise error(400, "not-found", f"Unknown resource type '{resource_type[:64]}'", "_type")
    return types


def _parse(types: tuple[str, ...], request: FhirRequest, strict: bool) -> _Parsed:
    parsed = _Parsed()
    for name, value in request.params:
        if name in _IGNORED or name in _CONTROL or name.partition(":")[0] in ("_include", "_revinclude"):
            _control(types, name, value, parsed, strict)
            continue
        condition = _condition(types, name, value, request.base_url)
        if condition is None:
            if strict:
                raise refuse_unknown(name)
            continue
        parsed.conditions.append(condition)
        parsed.used.append((name, value))
    return parsed


def _condition(types: tuple[str, ...], name: str, value: str, base_url: str) -> Condition | None:
    """The parameter's condition; on a system search it must mean the same on every type."""
    conditions = [parse_parameter(resource_type, name, value, base_url) for resource_type in types]
    if any(condition is None for condition in conditions):
        return None
    if any(condition != conditions[0] for condition in conditions[1:]):
        raise error(400, "not-supported", f"'{name[:60]}' differs between the searched types", name)
    return conditions[0]


def _control(types: tuple[str, ...], name: str, value: str, parsed: _Parsed, strict: bool) -> None:
    base, _, modifier = name.partition(":")
    if base == "_sort":
        parsed.sort = [_sort_key(types, key.strip()) for key in value.split(",") if key.strip()]
        parsed.used.append((name, value))
    elif base in ("_include", "_revinclude"):
        spec = _include_spec(types, base, value, modifier == "iterate")
        (parsed.include if base == "_include" else parsed.revinclude).append(spec)
        parsed.used.append((name, value))
    elif base == "_total" and value not in ("none", "estimate", "accurate"):
        raise error(400, "invalid", "_total is one of none, estimate, accurate", "_total")
    elif base in ("_total", "_type"):
        parsed.used.append((name, value))
    elif base in ("_contained", "_containedType") and strict:
        raise error(400, "not-supported", f"{base} is not supported: contained resources are not indexed", base)


def _sort_key(types: tuple[str, ...], key: str) -> SortKey:
    descending = key.startswith("-")
    code = key.removeprefix("-")
    if code == "_id":
        return SortKey("_id", None, descending)
    parameter = parameters_of(types[0]).get(code)
    if parameter is None or parameter.type == "special" or parameter.type not in INDEX_TABLE_OF_TYPE:
        raise error(400, "not-supported", f"Cannot sort by '{code[:60]}'", "_sort")
    return SortKey(code, INDEX_TABLE_OF_TYPE[parameter.type], descending, row_aliases(types[0]).get(code, ()))


def _include_spec(types: tuple[str, ...], kind: str, value: str, iterate: bool) -> IncludeSpec:
    if value == "*":
        return IncludeSpec("*" if kind == "_include" else types[0], "*", None, iterate)
    parts = value.split(":")
    if len(parts) not in (2, 3) or not is_resource_type(parts[0]):
        raise error(400, "invalid", f"{kind} takes SourceType:parameter[:TargetType]", kind)
    source, param = parts[0], parts[1]
    target = parts[2] if len(parts) == 3 else None
    if kind == "_include" and not iterate and source not in types:
        raise error(400, "invalid", f"{kind}={value[:60]} does not start from a searched type", kind)
    definition = parameters_of(source).get(param)
    if param != "*" and (definition is None or definition.type != "reference"):
        raise error(400, "invalid", f"'{param[:60]}' is not a reference parameter of {source}", kind)
    if target is not None and not is_resource_type(target):
        raise error(400, "invalid", f"Unknown resource type '{target[:60]}'", kind)
    return IncludeSpec(source, param, target, iterate)


def _compartment(compartment: tuple[str, str], resource_type: str) -> Condition:
    compartment_type, owner = compartment
    params = compartment_params(compartment_type)
    if resource_type != compartment_type and resource_type not in params:
        message = f"{resource_type} is not in the {compartment_type} compartment"
        raise error(400, "invalid", message, "url")
    return CompartmentCondition(compartment_type, owner, params.get(resource_type, ()))


def _count(request: FhirRequest) -> int:
    text = request.param("_count")
    if text is None:
        return LIMITS.default_count
    if not text.isdigit():
        raise error(400, "invalid", f"_count must be a whole number, not '{text[:20]}'", "_count")
    return min(int(text), LIMITS.max_count)


def _cursor(text: str | None) -> tuple[tuple[object, ...] | None, bool]:
    if text is None:
        return None, False
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(text.encode() + b"=" * (-len(text) % 4)))
        position, backwards = decoded["p"], decoded["b"]
    except (ValueError, binascii.Error, KeyError, TypeError, orjson.JSONDecodeError):
        raise error(400, "invalid", "_cursor is not a cursor this server made", "_cursor") from None
    if not isinstance(position, list) or not isinstance(backwards, bool):
        raise error(400, "invalid", "_cursor is not a cursor this server made", "_cursor")
    return tuple(position), backwards


def _encode_cursor(position: tuple[object, ...], backwards: bool) -> str:
    raw = orjson.dumps({"p": list(position), "b": backwards})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def _included(
    ctx: AccessContext, store: Store, query: SearchQuery, matches: list[SearchMatch]
) -> list[tuple[str, str, bytes]]:
    """`_include` and `_revinclude` results, following `:iterate` specs a few rounds."""
    seen = {(m.resource_type, m.id) for m in matches}
    found: list[tuple[str, str, bytes]] = []
    frontier = list(seen)
    specs = [(spec, False) for spec in query.include] + [(spec, True) for spec in query.revinclude]
    for round_number in range(MAX_ITERATE + 1):
        fresh: list[tuple[str, str]] = []
        for spec, reverse in specs:
            if round_number > 0 and not spec.iterate:
                continue
            for resource_type, resource_id, body in await store.included(ctx, frontier, spec, reverse=reverse):
                if (resource_type, resource_id) not in seen:
                    seen.add((resource_type, resource_id))
                    found.append((resource_type, resource_id, body))
                    fresh.append((resource_type, resource_id))
        frontier = fresh
        if not frontier or not any(spec.iterate for spec, _ in specs):
            break
    return found


def _entry(base_url: str, resource_type: str, resource_id: str, body: bytes, mode: str) -> dict[str, Any]:
    return {
        "fullUrl": f"{base_url}/{resource_type}/{resource_id}",
        "resource": orjson.Fragment(body),
        "search": {"mode": mode},
    }


def _search_url(request: FhirRequest) -> str:
    if request.compartment is not None:
        return f"{request.base_url}/{request.compartment[0]}/{request.compartment[1]}/{request.resource_type}"
    return f"{request.base_url}/{request.resource_type}" if request.resource_type else request.base_url


def _page_params(request: FhirRequest, parsed: _Parsed, query: SearchQuery) -> list[tuple[str, str]]:
    """The parameters every link of this search repeats: those used, the page size, _summary."""
    params = [*parsed.used, ("_count", str(query.count))]
    summary = request.param("_summary")
    return params + [("_summary", summary)] if summary is not None else params


def _self(request: FhirRequest, parsed: _Parsed, query: SearchQuery) -> dict[str, str]:
    params = _page_params(request, parsed, query)
    if query.after is not None:
        params.append(("_cursor", _encode_cursor(query.after, query.backwards)))
    return link("self", _search_url(request), params)


def _links(
    request: FhirRequest, parsed: _Parsed, query: SearchQuery, matches: list[SearchMatch], more: bool
) -> list[dict[str, str]]:
    url, params = _search_url(request), _page_params(request, parsed, query)
    links = [_self(request, parsed, query)]
    if not matches:
        return links
    has_next = more if not query.backwards else True
    has_previous = (query.after is not None) if not query.backwards else more
    if has_next:
        links.append(link("next", url, [*params, ("_cursor", _encode_cursor(matches[-1].position, False))]))
    if has_previous:
        links.append(link("previous", url, [*params, ("_cursor", _encode_cursor(matches[0].position, True))]))
    return links
