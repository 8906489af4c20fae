"""The invariants (FHIRPath `constraint`s) of the R4 StructureDefinitions, checked on a resource.

`check_invariants(resource)` evaluates, at every node they apply to, the constraints of the
resource type, of its backbone elements and of every datatype inside it (`Period` per-1 on every
Period, `Reference` ref-1 on every Reference...), in contained resources and in the resources
of Bundle entries too. Each violation is one `Issue` with code "invariant", the constraint's
severity ("error" or "warning"), diagnostics "<key>: <human text>", details_code the key and
the FHIRPath location of the node (`Observation.component[1]`).

Call it on a resource the structural validator (`ember.fhir.validation.validate_resource`)
accepted: it expects FHIR JSON shapes, and it skips what it does not recognise instead of
reporting it. docs/invariants.md lists what is checked, the skipped keys (`SKIPPED`) and the cost.
"""

from __future__ import annotations

from typing import Any

from ember.fhir.invariants.rules import SKIPPED
from ember.fhir.invariants.walk import Walker
from ember.fhir.outcome import Issue

__all__ = ["SKIPPED", "check_invariants"]


def check_invariants(resource: Any) -> list[Issue]:
    """Every violated invariant of `resource` (a parsed FHIR JSON resource), errors and warnings;
    an empty list when it satisfies them all. Never raises on a dict of any shape."""
    if type(resource) is not dict:
        return []
    resource_type = resource.get("resourceType")
    if type(resource_type) is not str:
        return []
    walker = Walker()
    walker.resource(resource, (None, resource_type, None), 0)
    return walker.issues
