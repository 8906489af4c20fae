"""Reference resolution for ``resolve()``.

Order: contained resources (``#id``), the caller's resolver hook, the entries of the Bundle being
evaluated (by ``fullUrl`` or ``Type/id``). A literal reference that cannot be resolved yields a
stub ``{"resourceType": Type, "id": id}``, so ``reference.resolve() is Patient`` (as search
parameters use it) works on a lone resource without loading the target.
"""

from __future__ import annotations

import re
from typing import Any

from ..context import Context
from ..model import Node, fhir_model

LITERAL_REFERENCE = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?$")


def resolve_reference(reference: str, ctx: Context) -> dict[str, Any] | None:
    """The resource ``reference`` points at, a type stub, or None."""
    if reference.startswith("#"):
        return _contained(reference[1:], ctx)
    if ctx.resolver is not None:
        found = ctx.resolver(reference)
        if found is not None:
            return found
    index = _bundle_index(ctx)
    if reference in index:
        return index[reference]
    match = LITERAL_REFERENCE.search(reference)
    if match is None:
        return None
    type_name, identifier = match.groups()
    if f"{type_name}/{identifier}" in index:
        return index[f"{type_name}/{identifier}"]
    if not fhir_model().is_resource(type_name):
        return None
    return {"resourceType": type_name, "id": identifier}


def _contained(identifier: str, ctx: Context) -> dict[str, Any] | None:
    for holder in (ctx.resource, ctx.root):
        value = holder.value if isinstance(holder, Node) else holder
        if not isinstance(value, dict):
            continue
        if not identifier:
            return value
        for resource in value.get("contained") or ():
            if resource.get("id") == identifier:
                return resource
    return None


def _bundle_index(ctx: Context) -> dict[str, dict[str, Any]]:
    """fullUrl and Type/id of every entry of the root Bundle, built once per evaluation."""
    index = ctx.cache.get("bundle")
    if index is None:
        index = {}
        root = ctx.root_value
        if isinstance(root, dict) and root.get("resourceType") == "Bundle":
            for entry in root.get("entry") or ():
                resource = entry.get("resource")
                if not isinstance(resource, dict):
                    continue
                if entry.get("fullUrl"):
                    index[entry["fullUrl"]] = resource
                if resource.get("id"):
                    index[f"{resource.get('resourceType')}/{resource['id']}"] = resource
        ctx.cache["bundle"] = index
    return index
