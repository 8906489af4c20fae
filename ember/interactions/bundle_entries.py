"""Reading a batch/transaction Bundle into routed entries, in the spec's processing order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ember.fhir.outcome import FhirError, error
from ember.interactions.request import FhirRequest
from ember.interactions.router import route

#: Transaction processing order (http.html#trules): deletes, creates, updates/patches, reads.
_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}
_HEADER_FIELDS = {
    "ifMatch": "if-match",
    "ifNoneMatch": "if-none-match",
    "ifModifiedSince": "if-modified-since",
    "ifNoneExist": "if-none-exist",
}


@dataclass(slots=True)
class BundleEntry:
    """One request of a batch/transaction and where it stood in the submitted Bundle."""

    index: int
    full_url: str | None
    request: FhirRequest

    @property
    def location(self) -> str:
        return f"Bundle.entry[{self.index}]"


def read_bundle(body: Any, base_url: str) -> tuple[str, list[BundleEntry | FhirError]]:
    """The Bundle type and its entries; an entry that cannot be read is its FhirError, so a
    batch can answer it alone while a transaction refuses the whole Bundle."""
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        raise error(400, "structure", "The body must be a Bundle of type batch or transaction", "Bundle")
    bundle_type = body.get("type")
    if bundle_type not in ("batch", "transaction"):
        raise error(400, "value", f"Bundle.type must be batch or transaction, got '{bundle_type}'", "Bundle.type")
    raw_entries = body.get("entry", [])
    if not isinstance(raw_entries, list):
        raise error(400, "structure", "Bundle.entry must be an array", "Bundle.entry")
    entries: list[BundleEntry | FhirError] = []
    for index, raw in enumerate(raw_entries):
        try:
            entries.append(_read_entry(index, raw, base_url))
        except FhirError as failure:
            entries.append(failure)
    return bundle_type, entries


def processing_order(entries: list[BundleEntry]) -> list[BundleEntry]:
    return sorted(entries, key=lambda entry: (_ORDER[entry.request.method], entry.index))


def _read_entry(index: int, raw: Any, base_url: str) -> BundleEntry:
    where = f"Bundle.entry[{index}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("request"), dict):
        raise error(400, "required", "Each entry needs a request with method and url", f"{where}.request")
    method, url = raw["request"].get("method"), raw["request"].get("url")
    if method not in _ORDER or not isinstance(url, str) or not url:
        raise error(400, "value", f"Invalid request method '{method}' or url", f"{where}.request")
    full_url = raw.get("fullUrl")
    if full_url is not None and not isinstance(full_url, str):
        raise error(400, "structure", "fullUrl must be a string", f"{where}.fullUrl")
    split = urlsplit(url.removeprefix(base_url + "/") if base_url else url)
    if split.scheme or split.netloc:
        raise error(400, "not-supported", f"Entry url '{url[:100]}' is not on this server", f"{where}.request.url")
    try:
        request = route(method, split.path, parse_qsl(split.query, keep_blank_values=True))
    except FhirError as failure:
        raise failure.relocated(f"{where}.request.url") from None
    request.base_url = base_url
    request.headers = {
        header: str(raw["request"][key]) for key, header in _HEADER_FIELDS.items() if key in raw["request"]
    }
    request.body = raw.get("resource")
    if method in ("POST", "PUT") and not isinstance(request.body, dict):
        raise error(400, "required", f"A {method} entry needs a resource", f"{where}.resource")
    return BundleEntry(index, full_url, request)
