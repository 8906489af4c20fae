"""$validate-code answers: is a code (or Coding, or any coding of a CodeableConcept) valid in a
code system or a value set, and is its display right.

A wrong display makes the result false with a message naming the expected display, as the R4
operation describes ("the display is not valid for the code"); a CodeableConcept is valid when
one of its codings is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ember.terminology.concepts import CodeSystemIndex
from ember.terminology.expansion import find_member
from ember.terminology.parameters import output
from ember.terminology.resolve import Terminology

Coded = tuple[str | None, str, str | None]  # (system, code, display)


@dataclass(slots=True)
class Verdict:
    result: bool
    message: str | None = None
    display: str | None = None

    def to_parameters(self) -> dict[str, Any]:
        return output(
            ("result", "valueBoolean", self.result),
            ("message", "valueString", self.message),
            ("display", "valueString", self.display),
        )


def check_display(code: str, expected: str | None, given: str | None, alternatives: list[str]) -> Verdict:
    """The verdict for a code that exists, given the display the caller sent (if any)."""
    if given is None or given == expected or given in alternatives:
        return Verdict(True, None, expected)
    return Verdict(False, f"The display '{given}' is not valid for code '{code}' (expected '{expected}')", expected)


async def validate_in_code_system(index: CodeSystemIndex, coded: list[Coded]) -> Verdict:
    """Valid when one of `coded` is a concept of `index` (its system, when given, must match)."""

    async def judge(system: str | None, code: str, display: str | None) -> Verdict:
        if system not in (None, index.url):
            return Verdict(False, f"The system '{system}' is not the code system '{index.url}'")
        concept = index.find(code)
        if concept is None:
            return Verdict(False, f"Unknown code '{code}' in the code system '{index.url}'")
        return check_display(code, concept.display, display, [d.get("value") for d in concept.designations])

    return await _first_valid(coded, judge)


async def validate_in_value_set(
    term: Terminology, value_set: dict[str, Any], coded: list[Coded], *, abstract_ok: bool = True
) -> Verdict:
    """Valid when one of `coded` is a member of `value_set` (abstract codes only if allowed)."""
    name = value_set.get("url") or value_set.get("id") or "the value set"

    async def judge(system: str | None, code: str, display: str | None) -> Verdict:
        member = await find_member(term, value_set, system, code)
        if member is None or (member.abstract and not abstract_ok):
            where = f"{system}#{code}" if system else code
            return Verdict(False, f"The code '{where}' is not in the value set '{name}'")
        return check_display(code, member.display, display, [d.get("value") for d in member.designations])

    return await _first_valid(coded, judge)


async def _first_valid(
    coded: list[Coded], judge: Callable[[str | None, str, str | None], Awaitable[Verdict]]
) -> Verdict:
    """The first valid verdict among the codings (a CodeableConcept needs one), else the last."""
    verdict = Verdict(False, "No code was given")
    for system, code, display in coded:
        verdict = await judge(system, code, display)
        if verdict.result:
            return verdict
    return verdict
