"""Which of several range conditions on one parameter drives an unsorted page on SQLite.

SQLite walks the driving condition's index rows in id order and probes the resource's rows for
the others (`SearchSql`), so every row the driver accepts costs a probe. For a date range
(`date=ge2011-06-01&date=lt2011-07-01`) either bound may drive; the one fewer rows satisfy is
far cheaper (an early month: 12 ms with the upper bound driving, 135 ms with the lower one, at
1,000,000 resources). SQLite keeps no statistics of values, so the shares are estimated from the
parameter's extent, its smallest `low` and largest `high` (two index lookups), as if values were
spread evenly between them: enough to tell which bound cuts away more. PostgreSQL plans from
its own histograms and does not ask.

A date parameter with at most one value per resource can do better still: each resource then
has one row, on which every condition of the parameter can be checked at once, and the widest
span (`high - low`) of its rows bounds where in the `low` order a match can lie, `ge2011-06-01`
meaning `low >= 2011-06-01 - span` (`DateWindow`). Both are kept per parameter in `date_shape`,
widened by every write (migration 0331); the window's rows are read from the `date_index_low`
index alone. Collecting them costs one index entry per row in the window; the walk in id
order costs one per resource of the type until the page is full, cheap when matches are dense
and long when they are rare. At 1,000,000 resources (516,655 Observations), distinct pages read:
a month of 774 matches 181 collected against 1,727 walked; 4,650 matches 137 against 284;
9,294 matches 229 against 179; 27,108 matches 564 against 68. So a window of at most
`WINDOW_ROWS` rows (counted, up to that many, from the same index) is collected, a wider one
walked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ember.store.search_leaves import driver_rank
from ember.store.search_query import Condition, RangeCondition, SearchQuery

#: Tables whose rows have plain `low`/`high` columns for every value.
_PLAIN_RANGES = frozenset({"date", "number"})
#: The most rows of a date window collected rather than walked in id order (see above).
WINDOW_ROWS = 8_000


@dataclass(frozen=True)
class DateWindow:
    """Drives a page from the rows of one single-valued date parameter whose `low` lies in
    [start, end), each row checked against every one of `conditions`."""

    param: str
    start: int
    end: int
    conditions: tuple[RangeCondition, ...]


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
    """The smallest `low` and the largest `high` of the parameter's rows, each read from the end
    of its value index; for a date, then its widest span and most values per resource (NULL
    for a number, or a date without rows)."""
    scope = f"resource_type = {placeholder(1)} AND param = {placeholder(2)}"
    table = f"{condition.table}_index"
    extent = f"(SELECT min(low) FROM {table} WHERE {scope}), (SELECT max(high) FROM {table} WHERE {scope})"
    if condition.table != "date":
        return f"SELECT {extent}, NULL, NULL", [resource_type, condition.param]
    shape = f"(SELECT max_span FROM date_shape WHERE {scope}), (SELECT max_values FROM date_shape WHERE {scope})"
    return f"SELECT {extent}, {shape}", [resource_type, condition.param]


def date_window(
    conditions: Sequence[RangeCondition], max_span: int | None, max_values: int | None
) -> DateWindow | None:
    """The window of `low` values that every match of the date `conditions` lies in, if the
    parameter has at most one value per resource and the window is bounded on both sides."""
    if max_span is None or max_values != 1 or conditions[0].table != "date":
        return None
    start: int | None = None
    end: int | None = None
    for condition in conditions:
        first, last = _low_window(condition, max_span)
        start = first if start is None or (first is not None and first > start) else start
        end = last if end is None or (last is not None and last < end) else end
    if start is None or end is None:
        return None
    return DateWindow(conditions[0].param, start, end, tuple(conditions))


def window_rows_sql(resource_type: str, window: DateWindow, placeholder: Callable[[int], str]) -> tuple[str, list[Any]]:
    """How many rows lie in the window, counted up to one past WINDOW_ROWS."""
    sql = (
        f"SELECT count(*) FROM (SELECT 1 FROM date_index INDEXED BY date_index_low WHERE resource_type = "
        f"{placeholder(1)} AND param = {placeholder(2)} AND low >= {placeholder(3)} AND low < {placeholder(4)} "
        f"LIMIT {placeholder(5)})"
    )
    return sql, [resource_type, window.param, window.start, window.end, WINDOW_ROWS + 1]


def _low_window(condition: RangeCondition, span: int) -> tuple[int | None, int | None]:
    """[start, end) holding the `low` of every row that satisfies `condition` (search_leaves'
    prefix semantics between the row's [low, high] and the value's [sl, sh], with
    high - low <= span): a bound on `high` moves to `low` by the span."""
    sl, sh = int(condition.low), int(condition.high)
    return {
        "eq": (sl, sh + 1),
        "gt": (sh + 1 - span, None),
        "lt": (None, sl),
        "ge": (sl - span, None),
        "le": (None, sh + 1),
        "sa": (sh + 1, None),
        "eb": (None, sl),
        "ap": (sl - span, sh + 1),
    }.get(condition.prefix, (None, None))


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
