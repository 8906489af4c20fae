"""On SQLite, of two bounds of one range parameter, the one fewer rows satisfy drives the page."""

from __future__ import annotations

from ember.access import AccessContext
from ember.store.access_rules import AccessRules
from ember.store.range_driver import date_window, narrowest, range_candidates
from ember.store.search_parse import parse_parameter
from ember.store.search_query import Condition, SearchQuery, SortKey
from ember.store.search_sql import SearchSql

#: The extent of the data: 2011-05-14 to 2021-02-19 (epoch microseconds).
EXTENT = (1_305_361_988_000_000, 1_613_749_470_999_999)


def _query(
    *params: tuple[str, str], types: tuple[str, ...] = ("Observation",), sort: tuple[SortKey, ...] = ()
) -> SearchQuery:
    conditions: tuple[Condition, ...] = tuple(
        condition for name, value in params if (condition := parse_parameter(types[0], name, value)) is not None
    )
    return SearchQuery(types, conditions, count=50, sort=sort)


def test_an_early_month_is_found_from_its_upper_bound_and_a_late_one_from_its_lower() -> None:
    early = _query(("date", "ge2011-06-01"), ("date", "lt2011-07-01"))
    late = _query(("date", "ge2020-12-01"), ("date", "lt2021-01-01"))

    assert narrowest(range_candidates(early), *EXTENT).prefix == "lt"
    assert narrowest(range_candidates(late), *EXTENT).prefix == "ge"


def test_numbers_compare_their_exact_value() -> None:
    query = _query(("value-quantity", "gt5"), ("value-quantity", "lt1000"))
    assert range_candidates(query) == []  # quantities are left to the planner's rank
    probability = _query(("probability", "gt0.9"), ("probability", "lt0.95"), types=("RiskAssessment",))
    assert narrowest(range_candidates(probability), 0.0, 1.0).prefix == "gt"


def test_only_tied_range_conditions_of_one_parameter_are_candidates() -> None:
    assert range_candidates(_query(("date", "ge2011-06-01"))) == []
    assert range_candidates(_query(("date", "ge2011-06-01"), ("_lastUpdated", "lt2011-07-01"))) == []
    assert range_candidates(_query(("date", "ge2011-06-01"), ("date", "lt2011-07-01"), ("code", "x|y"))) == []
    sorted_query = _query(("date", "ge2011-06-01"), ("date", "lt2011-07-01"), sort=(SortKey("date", "date"),))
    assert range_candidates(sorted_query) == []


def test_a_parameter_without_rows_keeps_the_first_condition() -> None:
    candidates = range_candidates(_query(("date", "ge2011-06-01"), ("date", "lt2011-07-01")))
    assert narrowest(candidates, None, None) is candidates[0]


def test_the_chosen_condition_drives_the_page_and_the_other_is_probed() -> None:
    query = _query(("date", "ge2011-06-01"), ("date", "lt2011-07-01"))
    upper = range_candidates(query)[1]
    builder = SearchSql(lambda n: f"?{n}", AccessRules(AccessContext.system()), probes=True)
    sql = builder.page(query, driver=upper)
    driving, probed = sql.split("EXISTS", 1)
    assert "d.low < ?" in driving and "d.high >=" not in driving
    assert "x.high >= ?" in probed


def test_a_single_valued_date_parameter_gives_a_window_widened_by_its_longest_span() -> None:
    candidates = range_candidates(_query(("date", "ge2011-06-01"), ("date", "lt2011-07-01")))
    day = 86_400_000_000
    window = date_window(candidates, day, 1)
    assert window is not None and window.conditions == tuple(candidates)
    assert (window.start, window.end) == (1_306_886_400_000_000 - day, 1_309_478_400_000_000)


def test_no_window_for_several_values_per_resource_or_an_open_side() -> None:
    """With several values, a resource may meet each bound on another value, outside any window."""
    month = range_candidates(_query(("date", "ge2011-06-01"), ("date", "lt2011-07-01")))
    assert date_window(month, 0, 2) is None
    assert date_window(month, None, None) is None  # no rows of the parameter yet
    not_equal = range_candidates(_query(("date", "ge2011-06-01"), ("date", "ne2011-06-15")))
    assert date_window(not_equal, 0, 1) is None
