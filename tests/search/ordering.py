"""Checking a sorted search: every page in the order the oracle's sort keys give."""

from __future__ import annotations

from tests.search.client import SearchClient


async def check_sorted(ember: SearchClient, resource_type: str, params: list[tuple[str, str]], sort: str) -> None:
    """The matches of `params` sorted by `sort` over pages of 50: each once, the same set as the oracle's,
    keys that never go backwards (ties in any order), and resources without a value together
    at one end."""
    params = ember.resolved(params)
    got = await ember.search(resource_type, [*params, ("_sort", sort), ("_count", "50")])
    assert len(got.matches) == len(set(got.matches)), "a resource appears on two pages"
    assert set(got.matches) == ember.oracle.matches(resource_type, params)
    codes = [(code.lstrip("-"), code.startswith("-")) for code in sort.split(",")]
    keys = [tuple(ember.oracle.sort_key(key, code, descending) for code, descending in codes) for key in got.matches]
    present = [key for key in keys if None not in key]
    directed = [
        tuple(_Reversed(part) if descending else part for part, (_, descending) in zip(key, codes)) for key in present
    ]
    assert all(not later < earlier for earlier, later in zip(directed, directed[1:])), f"out of order: {present}"
    without = [index for index, key in enumerate(keys) if None in key]
    assert without == list(range(len(without))) or without == list(range(len(keys) - len(without), len(keys)))


class _Reversed:
    """Compares the other way round, for the descending parts of a key."""

    def __init__(self, value: object) -> None:
        self.value = value

    def __lt__(self, other: _Reversed) -> bool:
        return other.value < self.value  # type: ignore[operator, no-any-return]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and other.value == self.value
