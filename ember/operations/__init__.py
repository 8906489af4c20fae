"""The operation registry: one module per $operation plus one line here.

The CapabilityStatement lists exactly these, so adding an operation is a new module and a new
line, and removing one can never leave the server advertising it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ember.interactions.request import Handler
from ember.operations import reindex, validate


@dataclass(frozen=True, slots=True)
class Operation:
    """`levels` says where it may be invoked: "system", "type" and/or "instance";
    `resource_types` None means every type."""

    name: str
    handler: Handler
    levels: frozenset[str]
    resource_types: frozenset[str] | None
    affects_state: bool
    definition: str
    documentation: str


OPERATIONS: dict[str, Operation] = {
    entry.name: entry
    for entry in (
        Operation(
            "validate",
            validate.handle,
            frozenset({"type", "instance"}),
            None,
            False,
            "http://hl7.org/fhir/OperationDefinition/Resource-validate",
            "Validate a resource against the FHIR R4 base definitions without storing it",
        ),
        Operation(
            "reindex",
            reindex.handle,
            frozenset({"system", "type"}),
            None,
            True,
            "http://ember.dev/fhir/OperationDefinition/reindex",
            "Rebuild the search index (after adding a SearchParameter) as a durable background job",
        ),
        Operation(
            "reindex-status",
            reindex.status,
            frozenset({"system"}),
            None,
            False,
            "http://ember.dev/fhir/OperationDefinition/reindex-status",
            "State and progress of a $reindex job (?job=ID, the Content-Location $reindex answered)",
        ),
    )
}
