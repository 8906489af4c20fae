"""Read the official FHIRPath test suite (tests-fhir-r4.xml) and judge results.

Shared by ``test_official_suite.py`` (our engine) and ``compare_engines.py`` (ours vs
fhirpathpy), so both are scored by the same rules:

* ``invalid="syntax"`` must raise a syntax error; ``semantic``/``execution`` any engine error
  (at compile or evaluation time: engines differ in when they detect these).
* ``predicate="true"``: the result is converted to a boolean (``exists()``) before comparing.
* Outputs are compared in order unless ``ordered="false"``; typed outputs check the value
  family (boolean, integer, decimal, string-like, date/time, Quantity); untyped outputs
  (boundary functions) compare the canonical text, including a decimal's precision.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

from fhirpath_xml_input import load_xml_resource
from lxml import etree

from tests.conformance import CONFORMANCE

SUITE_DIR = CONFORMANCE / "fhirpath"
SUITE_FILE = SUITE_DIR / "tests-fhir-r4.xml"


@dataclass(frozen=True)
class Output:
    """One expected output item: its declared type (may be None) and literal text."""

    type: str | None
    text: str


@dataclass(frozen=True)
class SuiteCase:
    """One <test> of the suite."""

    id: str
    name: str
    expression: str
    input_file: str | None
    invalid: str | None
    predicate: bool
    ordered: bool
    strict: bool
    outputs: tuple[Output, ...] = field(default=())


def load_cases() -> list[SuiteCase]:
    """Every live <test> of the suite, with a unique id (``group/name``)."""
    tree = etree.parse(str(SUITE_FILE))
    cases: list[SuiteCase] = []
    seen: dict[str, int] = {}
    for group in tree.getroot().iter("group"):
        for test in group.iter("test"):
            expression = test.find("expression")
            name = test.get("name", "unnamed")
            case_id = f"{group.get('name')}/{name}"
            seen[case_id] = seen.get(case_id, 0) + 1
            if seen[case_id] > 1:
                case_id += f"#{seen[case_id]}"
            cases.append(
                SuiteCase(
                    id=case_id,
                    name=name,
                    expression=expression.text or "",
                    input_file=test.get("inputfile"),
                    invalid=expression.get("invalid"),
                    predicate=test.get("predicate") == "true",
                    ordered=test.get("ordered") != "false",
                    strict="strict" in (test.get("mode"), expression.get("mode")),
                    outputs=tuple(Output(o.get("type"), o.text or "") for o in test.iter("output")),
                )
            )
    return cases


@cache
def load_input(file_name: str) -> dict[str, Any]:
    """The suite's input resource as a JSON dict (XML inputs converted). Do not mutate."""
    path = SUITE_DIR / "input" / file_name
    if file_name.endswith(".json"):
        return json.loads(path.read_text(), parse_float=Decimal)
    return load_xml_resource(path)


def predicate_value(result: list[Any]) -> list[Any]:
    """``predicate="true"``: the result as a boolean."""
    if len(result) == 1 and isinstance(result[0], bool):
        return result
    return [bool(result)]


def _decimal_text_equal(actual: Any, text: str) -> bool:
    try:
        expected = Decimal(text)
        value = Decimal(str(actual))
    except ArithmeticError:
        return False
    return value == expected and value.as_tuple().exponent == expected.as_tuple().exponent


def output_matches(actual: Any, expected: Output) -> bool:
    """Does one result item match one expected output?"""
    text = expected.text.strip()
    kind = expected.type
    if kind == "boolean":
        return isinstance(actual, bool) and str(actual).lower() == text
    if kind == "integer":
        return isinstance(actual, int) and not isinstance(actual, bool) and actual == int(text)
    if kind == "decimal":
        return (
            isinstance(actual, (Decimal, float, int))
            and not isinstance(actual, bool)
            and Decimal(str(actual)) == Decimal(text)
        )
    if kind in ("date", "dateTime", "time"):
        return str(actual).lstrip("@").lstrip("T") == text.lstrip("@").lstrip("T")
    if kind == "Quantity":
        return _quantity_text(actual) == text
    if kind is None:
        return _untyped_matches(actual, text)
    return isinstance(actual, str) and actual == text


def _quantity_text(actual: Any) -> str:
    return str(actual).replace('"', "'")


def _untyped_matches(actual: Any, text: str) -> bool:
    if text in ("true", "false"):
        return isinstance(actual, bool) and str(actual).lower() == text
    if text.startswith("@"):
        return str(actual).lstrip("@").lstrip("T") == text[1:].lstrip("T")
    if "'" in text:
        number, _, unit = text.partition(" ")
        actual_text = _quantity_text(actual)
        return actual_text.endswith(unit) and _decimal_text_equal(actual_text.partition(" ")[0], number)
    return _decimal_text_equal(actual, text)


def results_match(actual: list[Any], case: SuiteCase) -> bool:
    """Compare a whole result collection with the case's expected outputs."""
    if case.predicate:
        actual = predicate_value(actual)
    expected = list(case.outputs)
    if len(actual) != len(expected):
        return False
    if case.ordered:
        return all(output_matches(a, e) for a, e in zip(actual, expected))
    remaining = list(expected)
    for item in actual:
        match = next((e for e in remaining if output_matches(item, e)), None)
        if match is None:
            return False
        remaining.remove(match)
    return True
