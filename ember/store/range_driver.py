"""Which of several range conditions on one parameter drives an unsorted page on SQLite.

SQLite walks the driving condition's index rows in id order and probes the resource's rows for
the others (`SearchSql`), so every row the driver accepts costs a probe. For a date range
(`date=ge2011-06-01&date=lt2011-07-01`) either bound may drive; the one fewer rows satisfy is
far cheaper (an early month: 12 ms with the upper bound driving, 135 ms with the lower one, at
1,000,000 resources). SQLite keeps no statistics of values, so the shares are estimated from the
parameter's extent, its smallest `low` and largest `high` (two index lookups), as if values were
spread evenly between them: enough to tell which bound cuts away more. PostgreSQL plans from
its own histograms and does not ask.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ember.store.search_leaves import driver_rank
from ember.store.search_query import Condition, RangeCondition, SearchQuery

#: Tables whose rows have plain `low`/`high` columns for every value.
_PLAIN_RANGES = frozenset({"date", "number"})


def range_candidates(query: SearchQuery) -> list[RangeCondition]:
    """The range conditions that would tie for driving the page of an unsorted one-type search:
    two or more, on one date or number parameter, and no better-ranked condition."""
    if query.sort or len(query.resource_types) != 1 or query.resource_types[0] == "*":
        return []
    ranked = [(rank, c) for c in query.conditions if (rank := driver_rank(c)) is not None]
    if not ranked:
        return []
    best = min(rank for rank, _ in ranked)
    tied = [c for rank, c in ranked if rank == best]
    ranges = [c for c in tied if isinstance(c, RangeCondition) and c.table in _PLAIN_RANGES]
    if len(ranges) < 2 or len(ranges) != len(tied) or len({(c.table, c.param) for c in ranges}) != 1:
        return []
    return ranges


def extent_sql(
    resource_type: str, condition: RangeCondition, placeholder: Callable[[int], str]
) -> tuple[str, list[Any]]:
    """The smallest `low` and the largest `high` of the parameter's rows: each read from the end
    of its value index."""
    scope = f"resource_type = {placeholder(1)} AND param = {placeholder(2)}"
    table = f"{condition.table}_index"
    sql = f"SELECT (SELECT min(low) FROM {table} WHERE {scope}), (SELECT max(high) FROM {table} WHERE {scope})"
    return sql, [resource_type, condition.param]


def narrowest(conditions: Sequence[RangeCondition], low: float | None, high: float | None) -> Condition:
    """The condition the smallest share of the parameter's rows satisfies (the first on a tie,
    or when the parameter has no rows)."""
    if low is None or high is None or high <= low:
        return conditions[0]
    return min(conditions, key=lambda condition: _share(condition, low, high))


def _share(condition: RangeCondition, low: float, high: float) -> float:
    """The share of rows in [low, high] that satisfy `condition`, values spread evenly."""
    span = high - low
    start, end = condition.low, condition.high
    if condition.exact is not None:
        start = end = condition.exact
    prefix = condition.prefix
    if prefix in ("gt", "ge", "sa"):
        share = (high - (end if prefix != "ge" else start)) / span
    elif prefix in ("lt", "le", "eb"):
        share = ((start if prefix != "le" else end) - low) / span
    elif prefix in ("eq", "ap"):
        share = (end - start) / span
    else:  # ne
        share = 1.0
    return min(1.0, max(0.0, share))
