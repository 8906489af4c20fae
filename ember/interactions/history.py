"""history: [base]/_history, [base]/[type]/_history, [base]/[type]/[id]/_history.

Pages are cut by a keyset cursor on the global version sequence (`_page`), so a page never
shifts when new versions are written between two requests.
"""

from __future__ import annotations

from datetime import datetime

from ember.access import AccessContext
from ember.fhir.dates import parse_lower_bound
from ember.fhir.outcome import error
from ember.interactions.bundles import bundle, history_entry, link
from ember.interactions.request import FhirRequest, FhirResponse
from ember.store.base import HistoryQuery, Store

DEFAULT_COUNT = 50
MAX_COUNT = 1000


async def handle(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    query = _query(request)
    entries = await store.history(ctx, query)
    total = await store.history_count(ctx, query)
    url = request.base_url + "".join(f"/{part}" for part in (request.resource_type, request.id) if part)
    url += "/_history"
    used = _used_params(request, query)
    links = [link("self", url, used + ([("_page", str(query.before_seq))] if query.before_seq else []))]
    if len(entries) == query.count:
        links.append(link("next", url, used + [("_page", str(entries[-1].seq))]))
    body = bundle(
        "history",
        [history_entry(entry.version, request.base_url) for entry in entries],
        total=total,
        link=links,
    )
    return FhirResponse(200, resource=body)


def _query(request: FhirRequest) -> HistoryQuery:
    return HistoryQuery(
        resource_type=request.resource_type,
        id=request.id,
        since=_instant(request, "_since"),
        at=_instant(request, "_at"),
        before_seq=_integer(request, "_page", 1, 2**62),
        count=_integer(request, "_count", 1, MAX_COUNT) or DEFAULT_COUNT,
    )


def _used_params(request: FhirRequest, query: HistoryQuery) -> list[tuple[str, str]]:
    used = [(name, value) for name, value in request.params if name in ("_since", "_at")]
    return used + [("_count", str(query.count))]


def _instant(request: FhirRequest, name: str) -> datetime | None:
    text = request.param(name)
    if text is None:
        return None
    moment = parse_lower_bound(text)
    if moment is None:
        raise error(400, "value", f"Invalid {name} value '{text[:40]}': expected a FHIR instant")
    return moment


def _integer(request: FhirRequest, name: str, low: int, high: int) -> int | None:
    text = request.param(name)
    if text is None:
        return None
    if not text.isdigit() or not low <= int(text) <= high:
        raise error(400, "value", f"Invalid {name} value '{text[:40]}': expected an integer {low}..{high}")
    return int(text)
