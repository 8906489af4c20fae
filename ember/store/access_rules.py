"""The access filter: which rows a caller may see, as search conditions per resource type.

Every query the store runs for a request (search at every nesting level, includes, reads,
history) asks these rules, so no route can forget them (DESIGN.md). Two things restrict a
caller who is not `unrestricted`:

- The patient compartment. A patient-level grant (`patient/Observation.rs`) with a launch
  patient sees that patient's compartment: their Patient resource and every resource that
  refers to it through one of the Patient CompartmentDefinition's parameters. Types outside
  that definition (Medication, Organization, Practitioner, Location...) are not patient data.
  A user- or system-level grant for the type is not confined to one patient.
- SMART v2 query restrictions. A grant such as
  `patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory`
  covers only the resources matching its query. Several grants for a type are alternatives.

A caller holding grants sees no resource of a type none of its grants names, whatever path it
takes to reach it (an `_include` of a type it was not granted yields nothing).

On top of the grants, patients' privacy Consents that deny this caller (ember/store/consent_rules.py)
remove those patients' resources, of the denied types or security labels, from every path.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

from ember.access import AccessContext, ScopeGrant
from ember.fhir.model import raw_model
from ember.store.consent_rules import ConsentDenial, denials_for
from ember.store.search_parse import parse_parameter
from ember.store.search_query import (
    AllOf,
    AnyOf,
    CompartmentCondition,
    Condition,
    IdCondition,
    Not,
    TokenCondition,
)

#: Matches nothing: a type the caller holds no grant for.
NOTHING = IdCondition(())


@cache
@cache
def compartment_params(compartment: str) -> Mapping[str, tuple[str, ...]]:
    """Resource type -> the parameters that put it in a `compartment` (e.g. Patient) compartment
    (read-only: every request with a patient-scoped token and every audited read asks)."""
    definitions: dict[str, dict[str, list[str]]] = raw_model()["compartments"]
    return MappingProxyType(
        {
            resource_type: tuple(param for param in params if param != "{def}")
            for resource_type, params in definitions.get(compartment, {}).items()
        }
    )


class AccessRules:
    """The conditions a caller's rows must meet, by resource type."""

    def __init__(self, ctx: AccessContext) -> None:
        self._ctx = ctx
        self.unrestricted = ctx.unrestricted or (ctx.patient is None and not ctx.grants)
        self._rules: dict[str, Condition | None] = {}
        #: For includes, whose types are known only per row: `restricted_types` have a rule
        #: (possibly NOTHING); of the other types, `open_types` are visible, or every other type
        #: when `others_visible`.
        self.restricted_types: tuple[str, ...] = ()
        self.open_types: tuple[str, ...] = ()
        self.others_visible = True
        self._denials: tuple[ConsentDenial, ...] = ()
        if self.unrestricted:
            return
        self._denials = denials_for(ctx)
        named = {grant.resource_type for grant in ctx.grants} - {"*"}
        self.others_visible = not ctx.grants or any(grant.resource_type == "*" for grant in ctx.grants)
        candidates = named | {*compartment_params("Patient"), "Patient"} if self.others_visible else named
        self.restricted_types = tuple(sorted(t for t in candidates if self.rule(t) is not None))
        self.open_types = tuple(sorted(t for t in named if self.rule(t) is None))

    def rule(self, resource_type: str) -> Condition | None:
        """The condition on rows of `resource_type`, or None when they are all visible."""
        if self.unrestricted:
            return None
        if resource_type not in self._rules:
            self._rules[resource_type] = _both(self._rule(resource_type), self._consent(resource_type))
        return self._rules[resource_type]

    def _rule(self, resource_type: str) -> Condition | None:
        if not self._ctx.grants:  # a context built with a patient only (in-process callers)
            return self._compartment(resource_type)
        readable = [g for g in self._ctx.grants_for(resource_type) if g.interactions & {"r", "s"}]
        if not readable:
            return NOTHING
        alternatives: list[Condition] = []
        for grant in readable:
            condition = self._grant_condition(grant, resource_type)
            if condition is None:
                return None  # one grant covers every resource of the type
            alternatives.append(condition)
        return alternatives[0] if len(alternatives) == 1 else AnyOf(tuple(alternatives))

    def _grant_condition(self, grant: ScopeGrant, resource_type: str) -> Condition | None:
        parts: list[Condition] = []
        if grant.level == "patient":
            compartment = self._compartment(resource_type)
            if compartment is not None:
                parts.append(compartment)
        for name, value in grant.query:
            restriction = parse_parameter(resource_type, name, value)
            parts.append(restriction if restriction is not None else NOTHING)
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def _consent(self, resource_type: str) -> Condition | None:
        """Not the resources of patients whose Consent denies this caller (None: no denial)."""
        exclusions = tuple(
            Not(_denied(denial, resource_type))
            for denial in self._denials
            if _is_patient_data(resource_type) and (not denial.resource_types or resource_type in denial.resource_types)
        )
        if not exclusions:
            return None
        return exclusions[0] if len(exclusions) == 1 else AllOf(exclusions)

    def _compartment(self, resource_type: str) -> Condition | None:
        patient = self._ctx.patient
        params = compartment_params("Patient")
        if resource_type != "Patient" and resource_type not in params:
            return None
        if patient is None:
            return NOTHING  # patient-level access without a patient: no patient's data
        return CompartmentCondition("Patient", patient, params.get(resource_type, ()))


#: Never hidden by a consent: the directives themselves must stay manageable, and the audit
#: trail stays with those who oversee access (scopes still govern both).
CONSENT_EXEMPT = frozenset({"Consent", "AuditEvent"})


def _is_patient_data(resource_type: str) -> bool:
    if resource_type in CONSENT_EXEMPT:
        return False
    return resource_type == "Patient" or resource_type in compartment_params("Patient")


def _denied(denial: ConsentDenial, resource_type: str) -> Condition:
    """The resources of `resource_type` a denial covers: the patient's, with a denied label if it
    names labels."""
    member: Condition = CompartmentCondition(
        "Patient", denial.patient, compartment_params("Patient").get(resource_type, ())
    )
    if not denial.labels:
        return member
    labels = tuple(TokenCondition("_security", system, code) for system, code in denial.labels)
    return AllOf((member, labels[0] if len(labels) == 1 else AnyOf(labels)))


def _both(first: Condition | None, second: Condition | None) -> Condition | None:
    """Both conditions (None is no condition); NOTHING stays NOTHING."""
    if first is None or second is None:
        return second if first is None else first
    return first if first == NOTHING else AllOf((first, second))
