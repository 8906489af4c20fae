"""Environment variables: ``%resource``, ``%context``, the spec's constants, caller variables."""

from __future__ import annotations

from typing import Any

from .context import Context
from .errors import FhirPathEvaluationError

CONSTANTS = {
    "ucum": "http://unitsofmeasure.org",
    "sct": "http://snomed.info/sct",
    "loinc": "http://loinc.org",
}
_PREFIXES = {
    "vs-": "http://hl7.org/fhir/ValueSet/",
    "ext-": "http://hl7.org/fhir/StructureDefinition/",
}


def lookup_variable(name: str, ctx: Context) -> list[Any]:
    """The value of ``%name``; an unknown name is an evaluation error."""
    if name in ("resource", "rootResource"):
        return [ctx.resource] if ctx.resource is not None else []
    if name == "context":
        return [ctx.root] if ctx.root is not None else []
    if name in ctx.variables:
        return ctx.variables[name]
    if name in CONSTANTS:
        return [CONSTANTS[name]]
    for prefix, base in _PREFIXES.items():
        if name.startswith(prefix):
            return [base + name[len(prefix) :]]
    raise FhirPathEvaluationError(f"unknown variable %{name}")
