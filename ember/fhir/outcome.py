"""Errors as FHIR OperationOutcomes.

Code anywhere below the edge raises `FhirError`; the edge turns it into an OperationOutcome
response exactly once. Every issue carries a FHIRPath `expression` when it concerns a location
in a resource, because integration engineers need to know *where* their payload is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Issue:
    """One OperationOutcome.issue."""

    code: str
    diagnostics: str
    severity: str = "error"
    expression: tuple[str, ...] = ()
    details_code: str | None = None

    def to_fhir(self) -> dict[str, Any]:
        issue: dict[str, Any] = {"severity": self.severity, "code": self.code}
        if self.details_code:
            issue["details"] = {"coding": [{"code": self.details_code}], "text": self.diagnostics}
        issue["diagnostics"] = self.diagnostics
        if self.expression:
            issue["expression"] = list(self.expression)
        return issue


@dataclass(slots=True)
class FhirError(Exception):
    """A client-visible failure: an HTTP status and the issues explaining it."""

    status: int
    issues: list[Issue] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status}: " + "; ".join(i.diagnostics for i in self.issues)

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.issues)

    def relocated(self, prefix: str, replacing: str | None = None) -> FhirError:
        """The same error located inside a larger document: expressions starting with
        `replacing` (`Patient.name`) move under `prefix` (`Bundle.entry[3].resource.name`), and
        issues without a location get `prefix` itself."""
        located = []
        for issue in self.issues:
            expressions = tuple(
                prefix + expression[len(replacing) :] if replacing and expression.startswith(replacing) else expression
                for expression in issue.expression
            ) or (prefix,)
            located.append(Issue(issue.code, issue.diagnostics, issue.severity, expressions, issue.details_code))
        return FhirError(self.status, located, self.headers)


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    """An OperationOutcome resource for `issues` (an informational one when there are none)."""
    if not issues:
        issues = [Issue(code="informational", diagnostics="All OK", severity="information")]
    return {"resourceType": "OperationOutcome", "issue": [i.to_fhir() for i in issues]}


def error(status: int, code: str, diagnostics: str, *expression: str) -> FhirError:
    """Shorthand for the common single-issue error."""
    return FhirError(status, [Issue(code=code, diagnostics=diagnostics, expression=expression)])


def not_found(resource_type: str, resource_id: str) -> FhirError:
    return error(404, "not-found", f"Resource {resource_type}/{resource_id} is not known")


def gone(resource_type: str, resource_id: str, version: int) -> FhirError:
    return error(410, "deleted", f"Resource {resource_type}/{resource_id} was deleted (version {version})")
