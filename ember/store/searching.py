"""Running searches on either store: the planner's SQL through the store's own fetch.

Both stores hand this their way of running a read-only statement (SQLite: the scanner thread;
PostgreSQL: the pool); everything else, SQL included, is shared, with the caller's access rules
applied to every statement.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ember.access import AccessContext
from ember.fhir.outcome import FhirError, error
from ember.store.access_rules import AccessRules
from ember.store.range_driver import (
    WINDOW_ROWS,
    DateWindow,
    date_window,
    extent_sql,
    narrowest,
    range_candidates,
    window_rows_sql,
)
from ember.store.search_query import (
    AllOf,
    AnyOf,
    Condition,
    HasCondition,
    IdCondition,
    IncludeSpec,
    Not,
    SearchMatch,
    SearchQuery,
)
from ember.store.search_sql import VALUED, SearchSql, page_parts

Fetch = Callable[[str, list[Any]], Awaitable[Sequence[Sequence[Any]]]]
#: A fetch under a time budget of the store's: the rows, or None when the budget ran out first.
Attempt = Callable[[str, list[Any]], Awaitable[Sequence[Sequence[Any]] | None]]

#: Includes per page are capped so one `_revinclude` cannot pull a whole table into a response.
MAX_INCLUDED = 1000


def too_costly(seconds: float) -> FhirError:
    """The answer to a search statement the store stopped after `seconds` (the search timeout).
    The spec leaves the status to the server (4xx or 5xx); a 4xx, because the same search
    would only be stopped again, and clients and proxies retry 5xx answers."""
    return error(
        400,
        "too-costly",
        f"The search ran longer than {seconds:g} s and was stopped: add parameters that narrow it down",
    )


class Searcher:
    """`probes`: the store's database wants correlated probes on a page's driving rows
    (`SearchSql`). `attempt`: it cannot tell whether many or few resources match, so a page
    with `_has` or a sort first runs in `SearchSql`'s `optimistic` forms under a time budget,
    then, if that ran out, in the others."""

    def __init__(
        self,
        fetch: Fetch,
        placeholder: Callable[[int], str],
        *,
        probes: bool = False,
        attempt: Attempt | None = None,
    ) -> None:
        self._fetch = fetch
        self._placeholder = placeholder
        self._probes = probes
        self._attempt = attempt

    def _sql(self, ctx: AccessContext) -> SearchSql:
        return SearchSql(self._placeholder, AccessRules(ctx), probes=self._probes)

    async def search(self, ctx: AccessContext, query: SearchQuery) -> tuple[list[SearchMatch], bool]:
        """One page of matches in order, and whether more follow in the paging direction."""
        rows: list[Sequence[Any]] = []
        driver = await self._range_driver(query)
        for part in page_parts(query):
            rows += await self._page(ctx, query, part, driver)
            if len(rows) > query.count:
                break
        more = len(rows) > query.count
        rows = rows[: query.count]
        if query.backwards:
            rows.reverse()
        matches = [SearchMatch(row[0], row[1], bytes(row[2]), (*row[3:], row[0], row[1])) for row in rows]
        return matches, more

    async def _page(
        self, ctx: AccessContext, query: SearchQuery, part: str | None, driver: Condition | DateWindow | None
    ) -> list[Sequence[Any]]:
        walked = part == VALUED or (not query.sort and any(map(_has_inside, query.conditions)))
        if self._attempt is not None and walked:
            probed = SearchSql(self._placeholder, AccessRules(ctx), probes=self._probes, optimistic=True)
            rows = await self._attempt(probed.page(query, part, driver=driver), probed.params)
            if rows is not None:
                return list(rows)
        builder = self._sql(ctx)
        return list(await self._fetch(builder.page(query, part, driver=driver), builder.params))

    async def _range_driver(self, query: SearchQuery) -> Condition | DateWindow | None:
        """With probes, for several range conditions on one parameter: the window of a
        single-valued date parameter's rows if it is narrow, else the condition fewest rows
        satisfy (range_driver.py); None to leave the choice to `SearchSql`."""
        candidates = range_candidates(query) if self._probes else []
        if not candidates:
            return None
        resource_type = query.resource_types[0]
        sql, params = extent_sql(resource_type, candidates[0], self._placeholder)
        low, high, max_span, max_values = (await self._fetch(sql, params))[0]
        window = date_window(candidates, max_span, max_values)
        if window is not None:
            sql, params = window_rows_sql(resource_type, window, self._placeholder)
            if (await self._fetch(sql, params))[0][0] <= WINDOW_ROWS:
                return window
        return narrowest(candidates, low, high)

    async def count(self, ctx: AccessContext, query: SearchQuery) -> int:
        builder = self._sql(ctx)
        rows = await self._fetch(builder.count(query), builder.params)
        return int(rows[0][0])

    async def included(
        self, ctx: AccessContext, keys: Sequence[tuple[str, str]], spec: IncludeSpec, *, reverse: bool
    ) -> list[tuple[str, str, bytes]]:
        """Resources that `keys` refer to through `spec` (or, `reverse`, that refer to them)."""
        relevant = [key for key in keys if reverse or spec.source_type in ("*", key[0])]
        if not relevant:
            return []
        builder = self._sql(ctx)
        if reverse:
            sql = builder.revincludes(relevant, spec.source_type, spec.param)
        else:
            sql = builder.includes(relevant, spec.source_type, spec.param, spec.target_type)
        rows = await self._fetch(f"{sql} LIMIT {MAX_INCLUDED}", builder.params)
        return [(row[0], row[1], bytes(row[2])) for row in rows]

    async def visible(self, ctx: AccessContext, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of the (type, id) keys a caller may know: all of them for an unrestricted caller,
        else those whose current version passes the caller's access rules."""
        rules = AccessRules(ctx)
        if rules.unrestricted:
            return set(keys)
        allowed = set()
        by_type: dict[str, list[str]] = {}
        for resource_type, resource_id in keys:
            if rules.rule(resource_type) is None:
                allowed.add((resource_type, resource_id))
            else:
                by_type.setdefault(resource_type, []).append(resource_id)
        for resource_type, ids in by_type.items():
            builder = SearchSql(self._placeholder, rules, probes=self._probes)
            query = SearchQuery((resource_type,), (IdCondition(tuple(dict.fromkeys(ids))),), count=len(ids))
            rows = await self._fetch(builder.page(query), builder.params)
            allowed.update((resource_type, str(row[1])) for row in rows)
        return allowed

    def history_access(self, ctx: AccessContext) -> Callable[[Callable[[Any], str]], str] | None:
        """The access filter for history rows `v`, rendered with the history statement's binder;
        None for an unrestricted caller."""
        rules = AccessRules(ctx)
        if rules.unrestricted:
            return None
        return lambda bind: SearchSql(self._placeholder, rules, bind).visible_rows("v")


def _has_inside(condition: Condition) -> bool:
    if isinstance(condition, HasCondition):
        return True
    if isinstance(condition, AnyOf | AllOf):
        return any(map(_has_inside, condition.conditions))
    return isinstance(condition, Not) and _has_inside(condition.condition)


class SearchingStore:
    """The search methods of `Store`, the same on both back ends: each store gives its Searcher."""

    _searcher: Searcher

    async def search(self, ctx: AccessContext, query: SearchQuery) -> tuple[list[SearchMatch], bool]:
        return await self._searcher.search(ctx, query)

    async def search_count(self, ctx: AccessContext, query: SearchQuery) -> int:
        return await self._searcher.count(ctx, query)

    async def included(
        self, ctx: AccessContext, keys: Sequence[tuple[str, str]], spec: IncludeSpec, *, reverse: bool
    ) -> list[tuple[str, str, bytes]]:
        return await self._searcher.included(ctx, keys, spec, reverse=reverse)

    async def _may_know(self, ctx: AccessContext, resource_type: str, resource_id: str) -> bool:
        """Whether a restricted caller may see this resource (reads answer 404 otherwise)."""
        return bool(await self._searcher.visible(ctx, [(resource_type, resource_id)]))


class TransactionSearch:
    """Searching inside a unit of work (conditional create/update/delete and conditional
    references), so the match and the write see one state. Mixed into both stores'
    transactions, which provide `_rows`, `_placeholder` and `_serialise`, and say whether their
    database wants correlated probes (`SearchSql`)."""

    _probes = False

    async def _rows(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        raise NotImplementedError

    def _placeholder(self, position: int) -> str:
        raise NotImplementedError

    async def _serialise(self, key: str) -> None:
        """Make transactions asking the same question take turns (a no-op where the store
        already serialises writers)."""

    async def search_ids(
        self, ctx: AccessContext, resource_type: str, conditions: Sequence[Condition], *, limit: int = 3
    ) -> list[str]:
        """Ids of up to `limit` current resources of `resource_type` matching every condition."""
        await self._serialise(f"{resource_type}?{conditions!r}")
        builder = SearchSql(self._placeholder, AccessRules(ctx), probes=self._probes)
        query = SearchQuery((resource_type,), tuple(conditions), count=limit)
        rows = await self._rows(builder.page(query), builder.params)
        return [str(row[1]) for row in rows[:limit]]
