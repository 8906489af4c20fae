"""Every parameter type, prefix and modifier on the loaded data: the ids Ember finds (all pages)
are exactly the ids the brute-force oracle finds, on both back ends.

The cases come from the data itself (tests/search/cases.py), so a new parameter with values in
the loaded bundles is tested without anyone writing a case for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.search import cases
from tests.search.cases import Case
from tests.search.client import SearchClient
from tests.search.ordering import check_sorted

pytestmark = pytest.mark.anyio

#: A page size below the larger result sizes, so those cases also follow `next` links.
PAGE = ("_count", "250")


def _all(*generators: Callable[[], Iterator[Case]]) -> list[Case]:
    """The cases of the generators, each once (two forms can coincide, e.g. a digits-only string
    upper-cased)."""
    return list(dict.fromkeys(case for generate in generators for case in generate()))


def _has_unit(ember: SearchClient, key: str, code: str, unit: str) -> bool:
    """Whether a value of parameter `code` of resource `key` is in `unit` (by code or unit)."""
    return any(
        isinstance(value, dict) and unit in (value.get("code"), value.get("unit"))
        for value in ember.oracle.values(key, code)
    )


#: The generated cases by the part of the spec they exercise (the first word of each test id).
GROUPS: dict[str, tuple[Callable[[], Iterator[Case]], ...]] = {
    "token": (cases.token_cases, cases.identifier_cases),
    "string": (cases.string_cases,),
    "date": (cases.date_cases,),
    "number": (cases.number_cases, cases.quantity_cases),
    "reference": (cases.reference_cases, cases.chain_cases),
    "composite": (cases.composite_cases,),
    "uri-missing": (cases.uri_cases, cases.missing_cases),
}


def _params() -> list[object]:
    return [pytest.param(case, id=f"{group} {case.id}") for group, made in GROUPS.items() for case in _all(*made)]


@pytest.mark.parametrize("case", _params())
async def test_matches_oracle(ember: SearchClient, case: Case) -> None:
    params = ember.resolved(list(case.params))
    got = await ember.search(case.resource_type, [*params, PAGE])
    expected = ember.oracle.matches(case.resource_type, params)
    assert len(got.matches) == len(set(got.matches)), "a resource appears twice in the pages"
    found = set(got.matches)
    if case.unit is not None:
        found = {key for key in found if _has_unit(ember, key, case.params[0][0], case.unit)}
    missing, extra = expected - found, found - expected
    assert not missing and not extra, (
        f"{len(missing)} missing (e.g. {sorted(missing)[:3]}), {len(extra)} extra (e.g. {sorted(extra)[:3]})"
    )


@pytest.mark.parametrize("case", _all(cases.sort_cases), ids=lambda case: case.id)
async def test_sort(ember: SearchClient, case: Case) -> None:
    await check_sorted(ember, case.resource_type, [], case.params[0][1])


@pytest.mark.parametrize("case", _all(cases.include_cases), ids=lambda case: case.id)
async def test_include_and_revinclude(ember: SearchClient, case: Case) -> None:
    params = ember.resolved(list(case.params))
    got = await ember.search(case.resource_type, [*params, PAGE])
    matched = ember.oracle.matches(case.resource_type, params)
    assert set(got.matches) == matched
    assert got.includes == ember.oracle.includes(matched, params)
