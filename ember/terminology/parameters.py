"""Operation inputs and outputs: GET query parameters or a POST Parameters body in, Parameters out.

The terminology operations take the same inputs either way (`?code=x&system=y` or a Parameters
resource with valueCode/valueUri/valueCoding/... and `resource` parts), so they read them through
one `OperationInput` and never look at how the request arrived.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ember.fhir.outcome import error
from ember.interactions.request import FhirRequest

# Query parameters that belong to the FHIR REST layer, not to the operation.
_REST_PARAMETERS = frozenset({"_format", "_pretty", "_summary", "_elements"})
_MAX_COUNT = 10_000


@dataclass(slots=True)
class OperationInput:
    """The named inputs of one invocation: primitives as strings, complex values as dicts."""

    values: dict[str, list[Any]]

    def text(self, name: str) -> str | None:
        found = self.values.get(name)
        if not found:
            return None
        if not isinstance(found[-1], str):
            raise error(400, "invalid", f"Parameter '{name}' must be a primitive value")
        return found[-1]

    def complex(self, name: str) -> dict[str, Any] | None:
        """A Coding, CodeableConcept or resource input (only in a POST Parameters body)."""
        found = self.values.get(name)
        if not found:
            return None
        if not isinstance(found[-1], dict):
            raise error(400, "invalid", f"Parameter '{name}' must be a complex value (use POST with Parameters)")
        return found[-1]

    def boolean(self, name: str, default: bool) -> bool:
        value = self.text(name)
        if value is None:
            return default
        if value not in ("true", "false"):
            raise error(400, "invalid", f"Parameter '{name}' must be true or false")
        return value == "true"

    def count(self, name: str, default: int) -> int:
        """A non-negative integer input, capped so no request asks for an unbounded page."""
        value = self.text(name)
        if value is None:
            return default
        if not value.isdigit():
            raise error(400, "invalid", f"Parameter '{name}' must be a non-negative integer")
        return min(int(value), _MAX_COUNT)

    def required(self, name: str) -> str:
        value = self.text(name)
        if not value:
            raise error(400, "required", f"Parameter '{name}' is required")
        return value


def read_inputs(request: FhirRequest) -> OperationInput:
    """The inputs of an operation request, from its query string and, for POST, its body."""
    values: dict[str, list[Any]] = defaultdict(list)
    for name, value in request.params:
        if name not in _REST_PARAMETERS:
            values[name].append(value)
    body = request.body
    if request.method == "POST" and body is not None:
        if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
            raise error(400, "invalid", "The body of a terminology operation must be a Parameters resource")
        for parameter in body.get("parameter") or []:
            if isinstance(parameter, dict) and isinstance(parameter.get("name"), str):
                values[parameter["name"]].append(_parameter_value(parameter))
    return OperationInput(dict(values))


def _parameter_value(parameter: dict[str, Any]) -> Any:
    if "resource" in parameter:
        return parameter["resource"]
    for key, value in parameter.items():
        if key.startswith("value"):
            if isinstance(value, bool):
                return "true" if value else "false"
            return str(value) if isinstance(value, int | float) else value
    raise error(400, "invalid", f"Parameter '{parameter['name'][:64]}' has no value")


def output(*parts: tuple[str, str, Any] | dict[str, Any]) -> dict[str, Any]:
    """A Parameters resource from (name, value[x] key, value) triples or ready parameter dicts;
    None values are left out."""
    parameters = []
    for part in parts:
        if isinstance(part, dict):
            parameters.append(part)
        elif part[2] is not None:
            parameters.append({"name": part[0], part[1]: part[2]})
    return {"resourceType": "Parameters", "parameter": parameters}


def coded_inputs(inputs: OperationInput, suffix: str = "") -> list[tuple[str | None, str, str | None]]:
    """(system, code, display) triples given as code+system, a Coding or a CodeableConcept."""
    code = inputs.text("code" + suffix)
    found = [(inputs.text("system" + suffix), code, inputs.text("display"))] if code else []
    coding = inputs.complex("coding" + suffix)
    codings = [coding] if coding else []
    concept = inputs.complex("codeableConcept")
    if concept and not suffix:
        codings += [c for c in concept.get("coding") or [] if isinstance(c, dict)]
    for item in codings:
        if isinstance(item.get("code"), str):
            found.append((item.get("system"), item["code"], item.get("display")))
    return found


def required_codes(inputs: OperationInput, operation: str) -> list[tuple[str | None, str, str | None]]:
    """`coded_inputs`, or a 400 saying what `$operation` needs when none was given."""
    coded = coded_inputs(inputs)
    if not coded:
        raise error(400, "required", f"${operation} needs a 'code' (with 'system'), a 'coding' or a 'codeableConcept'")
    return coded
