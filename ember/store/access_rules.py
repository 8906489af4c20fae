"""The access filter: which rows a caller may see, as search conditions per resource type.

Every query the store runs for a request (search at every nesting level, includes, reads,
history) asks these rules, so no route can forget them (DESIGN.md). A patient-scoped caller
sees the Patient compartment of their patient (the official CompartmentDefinition): their
Patient resource and every resource that refers to it through one of the compartment's
parameters. Types outside the compartment definition (Medication, Organization, Practitioner,
Location...) are not patient data and stay visible.
"""

from __future__ import annotations

from functools import cache

from ember.access import AccessContext
from ember.fhir.model import raw_model
from ember.store.search_query import CompartmentCondition, Condition


@cache
def compartment_params(compartment: str) -> dict[str, tuple[str, ...]]:
    """Resource type -> the parameters that put it in a `compartment` (e.g. Patient) compartment."""
    definitions: dict[str, dict[str, list[str]]] = raw_model()["compartments"]
    return {
        resource_type: tuple(param for param in params if param != "{def}")
        for resource_type, params in definitions.get(compartment, {}).items()
    }


class AccessRules:
    """The conditions a caller's rows must meet, by resource type."""

    def __init__(self, ctx: AccessContext) -> None:
        self._patient = None if ctx.unrestricted else ctx.patient
        self.restricted_types: tuple[str, ...] = ()
        if self._patient is not None:
            self.restricted_types = tuple(sorted({*compartment_params("Patient"), "Patient"}))

    @property
    def unrestricted(self) -> bool:
        return self._patient is None

    def rule(self, resource_type: str) -> Condition | None:
        """The condition on rows of `resource_type`, or None when they are all visible."""
        if self._patient is None:
            return None
        params = compartment_params("Patient")
        if resource_type != "Patient" and resource_type not in params:
            return None
        return CompartmentCondition("Patient", self._patient, params.get(resource_type, ()))
