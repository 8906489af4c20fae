"""How a page's conditions read as SQL on each database: SQLite probes the driving row's own
index entries, PostgreSQL keeps semi-joins its planner turns either way."""

from __future__ import annotations

from ember.access import AccessContext
from ember.store.access_rules import AccessRules
from ember.store.search_parse import parse_parameter
from ember.store.search_query import SearchQuery, SortKey
from ember.store.search_sql import VALUED, SearchSql

DATE_RANGE = [("date", "ge2019-09-01"), ("date", "lt2019-10-01")]


def _page(params: list[tuple[str, str]], *, probes: bool, sort: tuple[SortKey, ...] = ()) -> str:
    conditions = tuple(parse_parameter("Observation", name, value) for name, value in params)
    builder = SearchSql(lambda n: f"?{n}", AccessRules(AccessContext.system()), probes=probes)
    query = SearchQuery(("Observation",), conditions, count=50, sort=sort)
    return builder.page(query, VALUED if sort else None)


def test_with_probes_the_other_bound_of_a_date_range_is_checked_on_each_driving_rows_resource() -> None:
    sql = _page(DATE_RANGE, probes=True)
    assert "FROM date_index d WHERE" in sql
    assert "EXISTS (SELECT 1 FROM date_index x WHERE x.resource_type = d.resource_type AND x.id = d.id" in sql
    assert " IN (SELECT x.id" not in sql


def test_without_probes_the_other_conditions_stay_semi_joins() -> None:
    sql = _page([*DATE_RANGE, ("code", "http://loinc.org|8302-2")], probes=False)
    assert "EXISTS (SELECT 1 FROM date_index x" not in sql
    assert "d.id IN (SELECT x.id FROM date_index x WHERE x.resource_type = ?" in sql


def test_alternatives_and_negations_of_index_conditions_are_probed_too() -> None:
    own = "x.resource_type = d.resource_type AND x.id = d.id"
    sql = _page([("code", "http://loinc.org|8302-2"), ("date:missing", "true"), ("category", "a,b")], probes=True)
    assert f"NOT (EXISTS (SELECT 1 FROM date_index x WHERE {own} AND x.param = ?" in sql
    assert f"(EXISTS (SELECT 1 FROM token_index x WHERE {own}" in sql
    assert f") OR EXISTS (SELECT 1 FROM token_index x WHERE {own}" in sql


def test_a_sorted_page_keeps_its_conditions_as_semi_joins() -> None:
    """SQLite groups every row of a walk in sort-key order before it can stop, so collecting the
    condition's matches is cheaper there."""
    sql = _page([("code", "http://loinc.org|8302-2")], probes=True, sort=(SortKey("date", "date", True),))
    assert "s.id IN (SELECT x.id FROM token_index x" in sql
