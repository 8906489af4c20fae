"""Custom SearchParameters: resources POSTed by users become searchable parameters.

Every worker process keeps the registry in ember.fhir.search_parameters in step with the
stored SearchParameter resources: the dispatcher calls `keep_current` before each request,
which reloads them when this worker wrote one, or at most every few seconds otherwise (so a
parameter written through another worker is known everywhere within that time). New writes
are indexed with it at once; existing resources after `POST [base]/$reindex`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ember.access import AccessContext
from ember.fhir import jsonio
from ember.fhir.fhirpath import compile as compile_fhirpath
from ember.fhir.fhirpath.errors import FhirPathError
from ember.fhir.model import is_resource_type
from ember.fhir.outcome import error
from ember.fhir.search_parameters import SearchParameter, set_custom_parameters
from ember.interactions.observers import WRITE_OBSERVERS
from ember.store.base import NewVersion, Store, Transaction
from ember.store.search_query import SearchQuery, SortKey, TokenCondition

REFRESH_SECONDS = 2.0
_INDEXABLE_TYPES = frozenset({"number", "date", "string", "token", "reference", "quantity", "uri"})


class _Freshness:
    loaded_at = float("-inf")
    stale = True


_FRESHNESS = _Freshness()


async def keep_current(store: Store) -> None:
    """Reload the custom parameters if this worker changed them or the last load is old."""
    if not _FRESHNESS.stale and time.monotonic() - _FRESHNESS.loaded_at < REFRESH_SECONDS:
        return
    _FRESHNESS.stale = False
    _FRESHNESS.loaded_at = time.monotonic()
    set_custom_parameters(await _load(store))


async def reload(store: Store) -> None:
    """Load the custom parameters now (the reindex job must not work from a stale registry)."""
    _FRESHNESS.stale = True
    await keep_current(store)


async def _load(store: Store) -> tuple[SearchParameter, ...]:
    ctx = AccessContext.system("search-parameters")
    query = SearchQuery(("SearchParameter",), (TokenCondition("status", None, "active"),), (SortKey("_id", None),))
    found: list[SearchParameter] = []
    while True:
        matches, more = await store.search(ctx, query)
        found += [parameter for m in matches if (parameter := from_resource(jsonio.loads(m.body))) is not None]
        if not more:
            return tuple(found)
        query = SearchQuery(query.resource_types, query.conditions, query.sort, after=matches[-1].position)


def from_resource(resource: dict[str, Any]) -> SearchParameter | None:
    """The indexable definition of a SearchParameter resource, or None if it has none (no
    expression, an unsupported type, or no known base type)."""
    code, kind, expression = resource.get("code"), resource.get("type"), resource.get("expression")
    base = tuple(t for t in resource.get("base") or () if isinstance(t, str) and is_resource_type(t))
    if not isinstance(code, str) or kind not in _INDEXABLE_TYPES or not isinstance(expression, str) or not base:
        return None
    target = tuple(t for t in resource.get("target") or () if isinstance(t, str))
    description = resource.get("description") if isinstance(resource.get("description"), str) else ""
    return SearchParameter(
        code, kind, base, expression, target, url=str(resource.get("url", "")), description=description
    )


async def _notice_search_parameter_writes(transaction: Transaction, versions: Sequence[NewVersion]) -> None:
    """A SearchParameter whose expression does not compile would break indexing of every write
    to its base types: refuse it (the write rolls back). Any accepted change reloads the registry."""
    for version in versions:
        if version.resource_type != "SearchParameter":
            continue
        _FRESHNESS.stale = True
        if version.deleted:
            continue
        expression = jsonio.loads(version.body).get("expression")
        if isinstance(expression, str):
            try:
                compile_fhirpath(expression)
            except FhirPathError as exc:
                message = f"The expression does not compile: {exc}"
                raise error(422, "invalid", message, "SearchParameter.expression") from None


WRITE_OBSERVERS.append(_notice_search_parameter_writes)
