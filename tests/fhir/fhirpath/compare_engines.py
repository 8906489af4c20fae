"""Score Ember's FHIRPath engine and fhirpathpy on the official suite, by the same rules.

Run: ``python tests/fhir/fhirpath/compare_engines.py`` (prints pass counts; ``-v`` lists
fhirpathpy's failures). The numbers are recorded in docs/fhirpath.md.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import fhirpathpy
from fhirpath_suite import SuiteCase, load_cases, load_input, results_match
from fhirpathpy.models import models

from ember.fhir import fhirpath

Engine = Callable[[str, Any], list[Any]]


def ember_engine(expression: str, resource: Any) -> list[Any]:
    return fhirpath.compile(expression)(resource)


def fhirpathpy_engine(expression: str, resource: Any) -> list[Any]:
    resource = resource if resource is not None else {}
    return fhirpathpy.evaluate(resource, expression, {}, models["r4"])


def _normalise_fhirpathpy(value: Any) -> Any:
    """fhirpathpy returns its own date/quantity objects; compare them by their text."""
    if type(value).__name__.startswith("FP_"):
        return str(value)
    return value


def case_passes(engine: Engine, case: SuiteCase) -> bool:
    resource = load_input(case.input_file) if case.input_file else None
    try:
        result = [_normalise_fhirpathpy(v) for v in engine(case.expression, resource)]
    # A foreign engine may raise anything; for scoring, any exception means "it raised".
    except Exception:  # noqa: BLE001
        return case.invalid is not None
    return case.invalid is None and results_match(result, case)


def score(engine: Engine, cases: list[SuiteCase]) -> list[SuiteCase]:
    """The cases the engine fails."""
    return [case for case in cases if not case_passes(engine, case)]


def main(argv: list[str]) -> None:
    cases = load_cases()
    for label, engine in (("ember", ember_engine), ("fhirpathpy", fhirpathpy_engine)):
        failures = score(engine, cases)
        passed = len(cases) - len(failures)
        print(f"{label:>11}: {passed}/{len(cases)} passed ({passed / len(cases):.1%})")
        if "-v" in argv:
            for case in failures:
                print(f"    {case.id}: {case.expression[:80]!r}")


if __name__ == "__main__":
    main(sys.argv)
