"""The terminology service as the model layer sees it: installed by the application, never imported.

On every write the validator checks required bindings and the invariant checker evaluates
FHIRPath (`memberOf()`, `subsumes()`), both synchronously. The terminology service sits above the
model (layers point down), so it installs itself here (`ember.terminology.install()`), the way
custom search parameters are installed into `ember.fhir.search_parameters`. Until then (the model
used on its own: tests, benchmarks) required bindings are checked against the value sets the
generator expanded into the model, and the FHIRPath terminology functions cannot tell (empty).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from ember.fhir import model
from ember.fhir.fhirpath.context import Terminology


@dataclass(frozen=True, slots=True)
class AllowedCodes:
    """The codes a required binding's value set allows.

    `contains(system, code)` tests one code (`system` None for a `code` element, which carries
    none); codings whose system is not in `systems` are translations and are not tested."""

    systems: frozenset[str]
    contains: Callable[[str | None, str], bool]


class ModelTerminology(Terminology, Protocol):
    """What the validator and the invariant checker ask."""

    def allowed_codes(self, value_set: str) -> AllowedCodes | None:
        """The codes of the value set a required binding names; None when they cannot be
        known (a code system that is not loaded), in which case the binding is not checked."""
        ...


class GeneratedValueSets:
    """The model's own answers: required value sets as expanded by the generator."""

    def member_of(self, coded: Any, value_set: str) -> bool | None:
        return None

    def subsumes(self, coded_a: Any, coded_b: Any) -> bool | None:
        return None

    def allowed_codes(self, value_set: str) -> AllowedCodes | None:
        return _generated(value_set)


@cache
def _generated(url: str) -> AllowedCodes | None:
    by_system = model.required_value_set(url)
    if by_system is None:
        return None
    codes = frozenset().union(*by_system.values())
    return AllowedCodes(
        frozenset(by_system),
        lambda system, code: code in codes if system is None else code in by_system.get(system, ()),
    )


_installed: list[ModelTerminology] = [GeneratedValueSets()]


def install(service: ModelTerminology) -> None:
    """Make `service` answer every later validation and invariant evaluation."""
    _installed[0] = service


def installed() -> ModelTerminology:
    return _installed[0]
