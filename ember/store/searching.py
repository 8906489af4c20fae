"""Running searches on either store: the planner's SQL through the store's own fetch.

Both stores hand this their way of running a read-only statement (SQLite: the scanner thread;
PostgreSQL: the pool); everything else, SQL included, is shared, with the caller's access rules
applied to every statement.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ember.access import AccessContext
from ember.store.access_rules import AccessRules
from ember.store.search_query import IdCondition, IncludeSpec, SearchMatch, SearchQuery
from ember.store.search_sql import SearchSql

Fetch = Callable[[str, list[Any]], Awaitable[Sequence[Sequence[Any]]]]

#: Includes per page are capped so one `_revinclude` cannot pull a whole table into a response.
MAX_INCLUDED = 1000


class Searcher:
    def __init__(self, fetch: Fetch, placeholder: Callable[[int], str]) -> None:
        self._fetch = fetch
        self._placeholder = placeholder

    def _sql(self, ctx: AccessContext) -> SearchSql:
        return SearchSql(self._placeholder, AccessRules(ctx))

    async def search(self, ctx: AccessContext, query: SearchQuery) -> tuple[list[SearchMatch], bool]:
        """One page of matches in order, and whether more follow in the paging direction."""
        builder = self._sql(ctx)
        rows = await self._fetch(builder.page(query), builder.params)
        more = len(rows) > query.count
        rows = list(rows[: query.count])
        if query.backwards:
            rows.reverse()
        matches = [SearchMatch(row[0], row[1], bytes(row[2]), (*row[3:], row[0], row[1])) for row in rows]
        return matches, more

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

    async def visible(self, ctx: AccessContext, resource_type: str, resource_id: str) -> bool:
        """Whether a restricted caller may know `resource_type/resource_id` (current version)."""
        rules = AccessRules(ctx)
        rule = rules.rule(resource_type)
        if rule is None:
            return True
        builder = SearchSql(self._placeholder, rules)
        query = SearchQuery((resource_type,), (IdCondition((resource_id,)),), count=1)
        return bool(await self._fetch(builder.page(query), builder.params))
