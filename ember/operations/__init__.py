"""The operation registry: one module per $operation plus one line here.

The CapabilityStatement lists exactly these, so adding an operation is a new module and a new
line, and removing one can never leave the server advertising it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ember.interactions.request import Handler
from ember.operations import everything, expand, lookup, reindex, subsumes, translate, validate, validate_code


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
            "everything",
            everything.handle,
            frozenset({"instance"}),
            frozenset({"Patient"}),
            False,
            "http://hl7.org/fhir/OperationDefinition/Patient-everything",
            "The patient and every resource in their compartment (_type, _since, _count per type)",
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
        Operation(
            "lookup",
            lookup.handle,
            frozenset({"type", "instance"}),
            frozenset({"CodeSystem"}),
            False,
            "http://hl7.org/fhir/OperationDefinition/CodeSystem-lookup",
            "Details of a code: display, designations, properties, parents and children",
        ),
        Operation(
            "validate-code",
            validate_code.handle,
            frozenset({"type", "instance"}),
            frozenset({"CodeSystem", "ValueSet"}),
            False,
            "http://hl7.org/fhir/OperationDefinition/ValueSet-validate-code",
            "Is a code, Coding or CodeableConcept valid in a code system or a value set",
        ),
        Operation(
            "subsumes",
            subsumes.handle,
            frozenset({"type", "instance"}),
            frozenset({"CodeSystem"}),
            False,
            "http://hl7.org/fhir/OperationDefinition/CodeSystem-subsumes",
            "The is-a relation between two codes of one code system",
        ),
        Operation(
            "expand",
            expand.handle,
            frozenset({"type", "instance"}),
            frozenset({"ValueSet"}),
            False,
            "http://hl7.org/fhir/OperationDefinition/ValueSet-expand",
            "The codes of a value set, filtered and paged",
        ),
        Operation(
            "translate",
            translate.handle,
            frozenset({"type", "instance"}),
            frozenset({"ConceptMap"}),
            False,
            "http://hl7.org/fhir/OperationDefinition/ConceptMap-translate",
            "Translate a code through a ConceptMap (source to target, or reverse)",
        ),
    )
}
