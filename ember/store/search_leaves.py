"""How one index condition reads as SQL: the index table it is answered from and the
predicate on one row of it (alias `x`), with the spec's rules for each parameter type.
search_sql.py nests these leaves into whole statements.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ember.store.search_query import (
    AnyOf,
    CodeSetCondition,
    Condition,
    NearCondition,
    RangeCondition,
    ReferenceCondition,
    StringCondition,
    TokenCondition,
    UriCondition,
)

#: Greater than any string the indexes hold (the highest code point), for prefix ranges.
TEXT_MAX = "\U0010ffff"
_KM_PER_DEGREE = 111.32


@dataclass(frozen=True, slots=True)
class Leaf:
    """A condition on one index row (alias `x`) of one table."""

    table: str
    predicate: str

    def on(self, alias: str) -> str:
        """The predicate on the index row `alias` instead."""
        return self.predicate.replace("x.", f"{alias}.")


class IndexLeaves:
    """Renders index conditions; `bind` appends a parameter and returns its placeholder."""

    def __init__(self, bind: Callable[[Any], str]) -> None:
        self.bind = bind

    def leaf(self, condition: Condition) -> Leaf:
        """The index table and row predicate of an index condition (see `driver_rank`)."""
        if isinstance(condition, AnyOf):
            either = [self.leaf(c) for c in condition.conditions]
            return Leaf(either[0].table, "(" + " OR ".join(f"({leaf.predicate})" for leaf in either) + ")")
        param = f"x.param = {self.bind(getattr(condition, 'param', ''))}"
        table = _table(condition)
        if isinstance(condition, TokenCondition):
            terms = [param]
            if condition.code is not None:
                terms.append(f"x.code = {self.bind(condition.code)}")
            if condition.system is not None:
                terms.append(f"x.system = {self.bind(condition.system)}")
            return Leaf(table, " AND ".join(terms))
        if isinstance(condition, CodeSetCondition):
            if not condition.codes:
                return Leaf(table, "1 = 0")
            pairs = ", ".join(f"({self.bind(system)}, {self.bind(code)})" for system, code in condition.codes)
            return Leaf(table, f"{param} AND (x.system, x.code) IN (VALUES {pairs})")
        if isinstance(condition, StringCondition):
            return Leaf(table, f"{param} AND {self._string(condition)}")
        if isinstance(condition, RangeCondition):
            return Leaf(table, f"{param} AND {self._range(condition)}")
        if isinstance(condition, ReferenceCondition):
            return Leaf(table, f"{param}{self._reference(condition)}")
        if isinstance(condition, UriCondition):
            return Leaf(table, f"{param} AND {self._uri(condition)}")
        if isinstance(condition, NearCondition):
            return Leaf(table, f"{param} AND {self._near(condition)}")
        raise TypeError(f"not an index condition: {condition!r}")

    def _string(self, condition: StringCondition) -> str:
        if condition.mode == "exact":
            return f"x.exact = {self.bind(condition.value)}"
        if condition.mode == "contains":
            escaped = condition.value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            return f"x.value LIKE {self.bind(f'%{escaped}%')} ESCAPE '\\'"
        return f"x.value >= {self.bind(condition.value)} AND x.value < {self.bind(condition.value + TEXT_MAX)}"

    def _range(self, condition: RangeCondition) -> str:
        """The spec's prefix semantics (search.html#prefix) between the target range [low, high]
        and the search value's range [sl, sh]."""
        low, high = ("x.canonical_low", "x.canonical_high") if condition.canonical else ("x.low", "x.high")
        terms = []
        if condition.table == "quantity" and condition.code is not None:
            terms.append(f"{'x.canonical_code' if condition.canonical else 'x.code'} = {self.bind(condition.code)}")
        if condition.table == "quantity" and condition.system is not None and not condition.canonical:
            terms.append(f"x.system = {self.bind(condition.system)}")
        prefix = condition.prefix
        if condition.exact is not None and prefix in ("gt", "lt", "ge", "le", "sa", "eb"):
            # Numbers and quantities: "gt100" means greater than exactly 100 (search.html#number).
            value = self.bind(condition.exact)
            comparison = {
                "gt": f"{high} > {value}",
                "lt": f"{low} < {value}",
                "ge": f"{high} >= {value}",
                "le": f"{low} <= {value}",
                "sa": f"{low} > {value}",
                "eb": f"{high} < {value}",
            }[prefix]
            return " AND ".join([*terms, comparison])
        # Bind only the bounds the comparison uses: PostgreSQL cannot type an unused parameter.
        sl = self.bind(condition.low) if prefix in ("eq", "ne", "lt", "ge", "le", "eb", "ap") else ""
        sh = self.bind(condition.high) if prefix in ("eq", "ne", "gt", "ge", "le", "sa", "ap") else ""
        contained = f"({low} >= {sl} AND {high} <= {sh})"
        # ge and le are ORs no index can answer; since low <= high, each implies a plain range
        # on one column, stated first so the high or low index narrows the rows.
        comparison = {
            "eq": lambda: contained,
            "ne": lambda: f"NOT {contained}",
            "gt": lambda: f"{high} > {sh}",
            "lt": lambda: f"{low} < {sl}",
            "ge": lambda: f"{high} >= {sl} AND ({high} > {sh} OR {contained})",
            "le": lambda: f"{low} <= {sh} AND ({low} < {sl} OR {contained})",
            "sa": lambda: f"{low} > {sh}",
            "eb": lambda: f"{high} < {sl}",
            "ap": lambda: f"({low} <= {sh} AND {high} >= {sl})",
        }[prefix]()
        return " AND ".join([*terms, comparison])

    def _reference(self, condition: ReferenceCondition) -> str:
        terms = ""
        if condition.target_id is not None:
            terms += f" AND x.target_id = {self.bind(condition.target_id)}"
        if condition.target_type is not None:
            terms += f" AND x.target_type = {self.bind(condition.target_type)}"
        if condition.url is not None:
            terms += f" AND x.url = {self.bind(condition.url)}"
        if condition.version is not None:
            terms += f" AND x.version = {self.bind(condition.version)}"
        return terms

    def _uri(self, condition: UriCondition) -> str:
        if condition.mode == "below":
            return f"x.uri >= {self.bind(condition.value)} AND x.uri < {self.bind(condition.value + TEXT_MAX)}"
        if condition.mode == "above":
            prefixes = _uri_prefixes(condition.value)
            return f"x.uri IN ({', '.join(self.bind(prefix) for prefix in prefixes)})"
        return f"x.uri = {self.bind(condition.value)}"

    def _near(self, condition: NearCondition) -> str:
        """Within the distance on an equirectangular projection around the point: exact enough
        for the distances `near` is used with, and plain arithmetic on both databases."""
        lat_span = condition.kilometres / _KM_PER_DEGREE
        scale = max(math.cos(math.radians(condition.latitude)), 1e-6)
        lon_span = lat_span / scale
        lat, lon = self.bind(condition.latitude), self.bind(condition.longitude)
        box = (
            f"x.low BETWEEN {self.bind(condition.latitude - lat_span)} AND {self.bind(condition.latitude + lat_span)} "
            f"AND x.high BETWEEN {self.bind(condition.longitude - lon_span)} "
            f"AND {self.bind(condition.longitude + lon_span)}"
        )
        distance = (
            f"((x.low - {lat}) * (x.low - {lat}) + (x.high - {lon}) * (x.high - {lon}) * {self.bind(scale * scale)}) "
            f"<= {self.bind(lat_span * lat_span)}"
        )
        return f"{box} AND {distance}"


def driver_rank(condition: Condition) -> int | None:
    """How well a condition answered by one index table alone (what `_leaf` renders) suits
    finding the matches: lower is better (equality lookups, then code sets, prefixes and ranges,
    then substring scans); None if it is not one. A list of alternatives on one table (`code=a,b`,
    or `combo-code=a` read from the `code` and `component-code` rows) is one lookup per
    alternative: it ranks as its worst."""
    if isinstance(condition, AnyOf):
        ranks = [driver_rank(c) for c in condition.conditions]
        tables = {_table(c) for c in condition.conditions}
        if not ranks or None in ranks or len(tables) != 1:
            return None
        return max(rank for rank in ranks if rank is not None)
    if isinstance(condition, TokenCondition):
        return 0 if condition.code is not None else 3
    if isinstance(condition, ReferenceCondition):
        return 0 if condition.target_id is not None or condition.url is not None else 3
    if isinstance(condition, UriCondition):
        return 0 if condition.mode == "eq" else 2
    if isinstance(condition, CodeSetCondition):
        return 1
    if isinstance(condition, StringCondition):
        return {"exact": 1, "prefix": 2}.get(condition.mode, 4)
    if isinstance(condition, RangeCondition):
        return 2
    return None


def _table(condition: Condition) -> str:
    """The index table of an index condition (what `leaf` renders it on)."""
    if isinstance(condition, TokenCondition | CodeSetCondition):
        return "token"
    if isinstance(condition, StringCondition):
        return "text" if condition.param in ("_text", "_content") else "string"
    if isinstance(condition, RangeCondition):
        return condition.table
    if isinstance(condition, NearCondition):
        return "number"
    if isinstance(condition, ReferenceCondition):
        return "reference"
    return "uri" if isinstance(condition, UriCondition) else ""


def _uri_prefixes(value: str) -> list[str]:
    """`value` and each of its shorter forms cut at a `/` (`:above` matches any of them)."""
    prefixes = [value]
    cut = value.rstrip("/")
    while "/" in cut:
        cut = cut.rsplit("/", 1)[0]
        if cut.endswith(":/") or cut.endswith(":"):
            break
        prefixes.append(cut)
    return prefixes
