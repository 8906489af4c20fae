"""The history and token lookup queries, written once for both back ends.

Only the parameter placeholder (`?` or `$1`) and the instant representation differ, so each
store passes its own; the SQL shape stays identical, which keeps the back ends honest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ember.store.base import HistoryQuery

_SELECT = "SELECT v.seq, v.resource_type, v.id, v.version, v.last_updated, v.deleted, v.body"


def history_sql(
    query: HistoryQuery,
    *,
    count_only: bool,
    placeholder: Callable[[int], str],
    instant: Callable[[Any], Any],
    access: Callable[[Callable[[Any], str]], str] | None = None,
) -> tuple[str, list[Any]]:
    """SQL and parameters for a history page (newest first) or for its total count; `access`
    renders the caller's access filter on rows `v` with this statement's binder."""
    params: list[Any] = []

    def bind(value: Any) -> str:
        params.append(value)
        return placeholder(len(params))

    conditions = []
    if query.resource_type is not None:
        conditions.append(f"v.resource_type = {bind(query.resource_type)}")
    if query.id is not None:
        conditions.append(f"v.id = {bind(query.id)}")
    if query.since is not None:
        conditions.append(f"v.last_updated >= {bind(instant(query.since))}")
    if query.at is not None:
        conditions.append(f"v.last_updated <= {bind(instant(query.at))}")
        conditions.append(
            "NOT EXISTS (SELECT 1 FROM resource_version n WHERE n.resource_type = v.resource_type "
            f"AND n.id = v.id AND n.version > v.version AND n.last_updated <= {bind(instant(query.at))})"
        )
    if access is not None:
        conditions.append(access(bind))
    if query.before_seq is not None and not count_only:
        conditions.append(f"v.seq < {bind(query.before_seq)}")
    where = (" WHERE " + " AND ".join(conditions)) if conditions else ""
    if count_only:
        return f"SELECT count(*) FROM resource_version v{where}", params
    return f"{_SELECT} FROM resource_version v{where} ORDER BY v.seq DESC LIMIT {bind(query.count)}", params


def token_lookup_sql(
    resource_type: str, param: str, system: str | None, code: str, *, placeholder: Callable[[int], str]
) -> tuple[str, list[Any]]:
    """Ids of current resources indexed with param = system|code (any system when None)."""
    params: list[Any] = [resource_type, param, code]
    sql = (
        f"SELECT DISTINCT id FROM token_index WHERE resource_type = {placeholder(1)} "
        f"AND param = {placeholder(2)} AND code = {placeholder(3)}"
    )
    if system is not None:
        params.append(system)
        sql += f" AND system = {placeholder(4)}"
    return sql + " LIMIT 3", params
