"""read: GET [base]/[type]/[id], with If-None-Match / If-Modified-Since (304)."""

from __future__ import annotations

from ember.access import AccessContext
from ember.fhir.outcome import FhirError, gone, not_found
from ember.interactions.request import FhirRequest, FhirResponse
from ember.interactions.versioning import etag, parse_etag, parse_http_date, version_headers
from ember.store.base import Store, StoredVersion


async def handle(ctx: AccessContext, request: FhirRequest, store: Store) -> FhirResponse:
    assert request.resource_type and request.id
    stored = await store.read(ctx, request.resource_type, request.id)
    if stored is None:
        raise not_found(request.resource_type, request.id)
    if stored.deleted:
        raise deleted_error(stored)
    headers = version_headers(stored, request.base_url)
    if _not_modified(request, stored):
        return FhirResponse(304, headers=headers)
    return FhirResponse(200, body=stored.body, headers=headers)


def deleted_error(stored: StoredVersion) -> FhirError:
    """410 Gone, with the ETag of the deletion so clients can tell which version deleted it."""
    failure = gone(stored.resource_type, stored.id, stored.version)
    failure.headers["etag"] = etag(stored.version)
    return failure


def _not_modified(request: FhirRequest, stored: StoredVersion) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        return parse_etag(if_none_match) == stored.version
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since is not None:
        since = parse_http_date(if_modified_since)
        return since is not None and stored.last_updated.replace(microsecond=0) <= since
    return False
