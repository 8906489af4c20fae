"""The one router table: (method, path under the FHIR base) -> which interaction, on what.

The HTTP edge and batch/transaction entries both go through `route`, so a URL means the same
thing whether it arrives on the wire or inside a Bundle.
"""

from __future__ import annotations

from ember.fhir.model import is_resource_type
from ember.fhir.outcome import error
from ember.interactions.request import FhirRequest
from ember.interactions.versioning import check_id

# Which interaction each method means at each kind of path.
_BASE = {"POST": "transaction", "GET": "search-system"}
_SYSTEM = {
    "metadata": {"GET": "capabilities"},
    "_history": {"GET": "history-system"},
    "_search": {"POST": "search-system"},
}
_TYPE = {
    "GET": "search-type",
    "POST": "create",
    "PUT": "conditional-update",
    "DELETE": "conditional-delete",
    "PATCH": "conditional-patch",
}
_TYPE_HISTORY = {"GET": "history-type"}
_TYPE_SEARCH = {"POST": "search-type"}
_INSTANCE = {"GET": "read", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_INSTANCE_HISTORY = {"GET": "history-instance"}
_VERSION = {"GET": "vread"}
_COMPARTMENT = {"GET": "search-compartment"}


def route(method: str, path: str, params: list[tuple[str, str]] | None = None) -> FhirRequest:
    """A FhirRequest naming the interaction for `method` on `path` ("Patient/1/_history").

    Unknown types are 404, wrong methods 405, malformed ids 400, all as OperationOutcomes.
    """
    method = "GET" if method == "HEAD" else method
    parts = [part for part in path.split("/") if part]
    request = FhirRequest(interaction="", params=params or [], method=method)
    if not parts:
        request.interaction = _pick(method, path, _BASE)
    elif parts[0].startswith("$"):
        _operation(request, parts[0], "system")
    elif parts[0] in ("metadata", "_history", "_search"):
        _system_path(request, parts, path)
    else:
        _type_path(request, parts, path)
    return request


def _system_path(request: FhirRequest, parts: list[str], path: str) -> None:
    if len(parts) > 1:
        raise _unknown(path)
    request.interaction = _pick(request.method, path, _SYSTEM[parts[0]])


def _type_path(request: FhirRequest, parts: list[str], path: str) -> None:
    resource_type = parts[0]
    if not is_resource_type(resource_type):
        raise error(404, "not-found", f"Unknown resource type '{resource_type[:64]}'")
    request.resource_type = resource_type
    rest = parts[1:]
    if not rest:
        request.interaction = _pick(request.method, path, _TYPE)
    elif rest[0].startswith("$") and len(rest) == 1:
        _operation(request, rest[0], "type")
    elif rest == ["_history"]:
        request.interaction = _pick(request.method, path, _TYPE_HISTORY)
    elif rest == ["_search"]:
        request.interaction = _pick(request.method, path, _TYPE_SEARCH)
    else:
        _instance_path(request, rest, path)


def _instance_path(request: FhirRequest, rest: list[str], path: str) -> None:
    check_id(rest[0], f"{request.resource_type}.id")
    request.id = rest[0]
    tail = rest[1:]
    if not tail:
        request.interaction = _pick(request.method, path, _INSTANCE)
    elif tail[0].startswith("$") and len(tail) == 1:
        _operation(request, tail[0], "instance")
    elif tail == ["_history"]:
        request.interaction = _pick(request.method, path, _INSTANCE_HISTORY)
    elif len(tail) == 2 and tail[0] == "_history":
        request.version_id = tail[1]
        request.interaction = _pick(request.method, path, _VERSION)
    elif len(tail) == 1 and is_resource_type(tail[0]):
        request.interaction = _pick(request.method, path, _COMPARTMENT)
        request.compartment = (request.resource_type or "", request.id)
        request.resource_type, request.id = tail[0], None
    else:
        raise _unknown(path)


def _operation(request: FhirRequest, segment: str, level: str) -> None:
    if request.method not in ("GET", "POST"):
        raise error(405, "not-supported", f"Operations are invoked with GET or POST, not {request.method}")
    request.interaction = f"operation-{level}"
    request.operation = segment[1:]


def _pick(method: str, path: str, by_method: dict[str, str]) -> str:
    if method not in by_method:
        allowed = ", ".join(sorted(by_method))
        raise error(405, "not-supported", f"{method} is not allowed on '{path[:100]}' (allowed: {allowed})")
    return by_method[method]


def _unknown(path: str) -> Exception:
    return error(404, "not-found", f"No FHIR endpoint at '{path[:100]}'")
