"""Search planning: a SearchQuery (plus the caller's access filter) to SQL.

The same SQL runs on SQLite and PostgreSQL; only the placeholder differs. Every condition is a
semi-join against one index table (`d.id IN (SELECT x.id FROM token_index x WHERE
x.resource_type = ? AND x.param = ? AND x.code = ?)`), answered from that table's lookup
index, so the planner can start from the most selective one. A page's keys come from the rows
of one index condition (`d`) when there is one, else from `resource`; only the page's bodies
are read from `resource`. Chains and `_has` nest the same shape over the referenced or referring
resources, with the access filter applied again at every level. Pages are keyset cursors over
(sort keys, type, id); a page sorted on an indexed parameter is read in two parts (`page_parts`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ember.store.access_rules import NOTHING, AccessRules
from ember.store.range_driver import DateWindow
from ember.store.search_leaves import TEXT_MAX, IndexLeaves, Leaf, driver_rank
from ember.store.search_query import (
    AllOf,
    AnyOf,
    ChainCondition,
    CompartmentCondition,
    CompositeCondition,
    Condition,
    HasCondition,
    IdCondition,
    ListCondition,
    MissingCondition,
    Not,
    SearchQuery,
    SortKey,
)

_SORT_COLUMNS = {
    "token": "code",
    "string": "value",
    "number": "low",
    "date": "low",
    "quantity": "canonical_low",
    "reference": "target_id",
    "uri": "uri",
}
_NO_LIMIT = 2**62
#: The parts of a page sorted on an indexed parameter (see `page_parts`).
VALUED = "valued"
MISSING = "missing"
_NUMERIC_SORT = frozenset({"number", "date", "quantity"})


@dataclass(frozen=True, slots=True)
class _Source:
    """The rows (alias `alias` of `table`) a search's matches are taken from: `where` holds
    for exactly one row per match in `resource`, or at least one in an index table."""

    table: str
    alias: str
    where: str
    #: SQLite's `INDEXED BY ...` after the alias, when the index to read is chosen here.
    hint: str = ""


class SearchSql:
    """Builds one statement; `bind` appends a parameter and returns its placeholder.

    `probes` renders the conditions checked on the driving index condition's rows of an
    unsorted page as correlated probes of each row's own index entries (`EXISTS (... x.id =
    d.id ...)`, through the table's `_resource` index) rather than as semi-joins. SQLite
    materialises an uncorrelated `IN (SELECT ...)` whole, then drove the page from it: the other
    side of a date range read half the date index. A probe costs one index seek per row walked,
    and the walk in id order stops when the page is full. A sorted page keeps the semi-join
    (SQLite groups every row of a walk in sort-key order before it can stop, so collecting the
    condition's matches is cheaper) unless `optimistic`. PostgreSQL plans either form as a
    semi-join from its statistics, so it keeps the uncorrelated one.

    `optimistic` renders the forms that are fast when many resources match and slow when few
    do, which SQLite cannot tell apart beforehand (it keeps no statistics of values), so it
    tries them under a time budget first (`Searcher`):
      - `_has` on a plain index condition probes each candidate's referrers (`EXISTS` over the
        reference index by target, then over the referrer's own index rows) instead of
        collecting every referrer's target. At 1M resources a common code's page took 0.3-4 ms
        probed against 166 ms - 2.3 s collected; a code nothing has 1.6 s probed, 0.1 ms
        collected.
      - a sorted page's walk of its first key's index rows (`_valued_page`) probes each row for
        the conditions and stops when the page is full: each resource is taken at one row (its
        extreme value, ties to the smallest rowid) instead of grouping every row first, which
        kept SQLite from stopping early. `Observation?code=<common>&_sort=-date`: 14-23 ms
        walked against 109-254 ms collected; a code nothing has 1.1 s walked, 0.5 ms collected.
    """

    def __init__(
        self,
        placeholder: Callable[[int], str],
        rules: AccessRules,
        bind: Callable[[Any], str] | None = None,
        *,
        probes: bool = False,
        optimistic: bool = False,
    ) -> None:
        self.params: list[Any] = []
        self._placeholder = placeholder
        self._rules = rules
        self._probes = probes
        self._optimistic = optimistic
        self._aliases = 0
        self._outer_bind = bind
        self._leaves = IndexLeaves(self.bind)

    def bind(self, value: Any) -> str:
        """Bind a parameter (into an enclosing statement's list when built for one)."""
        if self._outer_bind is not None:
            return self._outer_bind(value)
        self.params.append(value)
        return self._placeholder(len(self.params))

    def visible_rows(self, alias: str) -> str:
        """A condition on `alias` (with resource_type and id columns, such as a history row):
        its resource's current version is one the caller may see."""
        access = self._per_type_access("r")
        return (
            f"({alias}.resource_type, {alias}.id) IN "
            f"(SELECT r.resource_type, r.id FROM resource r WHERE NOT r.deleted AND {access})"
        )

    def page(self, query: SearchQuery, part: str | None = None, *, driver: Condition | DateWindow | None = None) -> str:
        """The rows of one page, or of one `part` of it (see `page_parts`), one more than
        `count` to tell whether another follows: resource_type, id, body, then the sort keys.
        `driver`: the index condition (or date window) an unsorted page's keys come from, when
        the caller knows better than `driver_rank` (see range_driver.py)."""
        if part == VALUED:
            return self._valued_page(query)
        if query.sort:
            return self._sorted_page(query, part)
        source = self._matches(query.resource_types, query.conditions, driver)
        row = source.alias
        where = [source.where]
        if query.after is not None:
            where.append(self._keyset(query, [], f"{row}.resource_type", f"{row}.id"))
        tie = "ASC" if not query.backwards else "DESC"
        order = f"ORDER BY {row}.resource_type {tie}, {row}.id {tie}"
        limit = f"LIMIT {self.bind(query.count + 1)}"
        if source.table == "resource":
            return (
                f"SELECT {row}.resource_type, {row}.id, {row}.body FROM resource {row} "
                f"WHERE {' AND '.join(where)} {order} {limit}"
            )
        # The page's keys come from the index rows alone, in (type, id) order; only its
        # resources are read.
        keys = (
            f"SELECT DISTINCT {row}.resource_type, {row}.id FROM {source.table} {row}{source.hint} "
            f"WHERE {' AND '.join(where)}"
        )
        return (
            f"SELECT r.resource_type, r.id, r.body FROM ({keys} {order} {limit}) p JOIN resource r "
            f"ON r.resource_type = p.resource_type AND r.id = p.id ORDER BY r.resource_type {tie}, r.id {tie}"
        )

    def _valued_page(self, query: SearchQuery) -> str:
        """Matches with a value for the first sort key, in its order: a walk of that parameter's
        index rows, each resource taken at the row holding its smallest value (largest when
        descending), until the page is full. Further sort keys are looked up for those rows.
        GROUP BY, not DISTINCT, folds a resource's equal rows: PostgreSQL 15 groups rows as
        they come in key order, but sorts every match first for DISTINCT."""
        first, *others = query.sort
        assert first.table is not None
        types = query.resource_types
        column = _SORT_COLUMNS[first.table]
        beyond = ">" if first.descending else "<"
        # The row holding the resource's extreme value: with `optimistic`, the first of its
        # equal ones by rowid (SQLite's), so that no GROUP BY needs to fold them.
        extreme = (
            f"o.{column} {beyond}= s.{column} AND (o.{column} {beyond} s.{column} OR o.rowid < s.rowid)"
            if self._optimistic
            else f"o.{column} {beyond} s.{column}"
        )
        where = [
            self._type_filter("s", types),
            self._sort_rows("s", first),
            f"s.{column} IS NOT NULL",
            # A parameter that stands for others (see row_aliases): one probe per parameter.
            # SQLite 3.40 answered `o.param IN (?, ?) AND o.code < s.code` from the `_resource`
            # index as if a smaller value existed where none did, and lost every blood pressure
            # Observation from `_sort=combo-code`.
            *(
                f"NOT EXISTS (SELECT 1 FROM {first.table}_index o WHERE o.resource_type = s.resource_type "
                f"AND o.id = s.id AND o.param = {param} AND {extreme})"
                for param in ([self.bind(p) for p in first.rows_of] if first.rows_of else ["s.param"])
            ),
            *(self._condition("s", types, condition, probe=self._optimistic) for condition in query.conditions),
            *self._access_filter("s", types),
        ]
        keys = [f"s.{column}", *(self._sort_expression(key, "s", resource_row=False) for key in others)]
        if _cursor_in(query, VALUED):
            where.append(self._keyset(query, keys, "s.resource_type", "s.id"))
        names = [f"k{position}" for position in range(len(keys))]
        selected = ", ".join(["s.resource_type AS t", "s.id AS i", *(f"{k} AS {n}" for k, n in zip(keys, names))])
        order = self._order(query, names)
        fold = "" if self._optimistic else f"GROUP BY s.{column}, s.resource_type, s.id "
        page = (
            f"SELECT {selected} FROM {first.table}_index s WHERE {' AND '.join(where)} "
            f"{fold}ORDER BY {', '.join(order)} LIMIT {self.bind(query.count + 1)}"
        )
        return self._with_bodies(page, names, order)

    def _sorted_page(self, query: SearchQuery, part: str | None) -> str:
        """Sort keys are computed once per match in an inner query; the page is cut from those
        narrow rows, and only its resources' bodies are read. As the MISSING part, only the
        matches without a value for the first key (whose key is then the sentinel)."""
        keys = [self._sort_expression(key, "r") for key in query.sort]
        names = [f"k{position}" for position in range(len(keys))]
        where = self._filter("r", query.resource_types, query.conditions)
        if part == MISSING:
            first = query.sort[0]
            valued = (
                f"SELECT o.id FROM {first.table}_index o WHERE {self._scope('o', 'r', query.resource_types)} "
                f"AND {self._sort_rows('o', first)} AND o.{_SORT_COLUMNS[str(first.table)]} IS NOT NULL"
            )
            where.append(f"NOT (r.id IN ({valued}))")
        matches = ", ".join(["r.resource_type AS t", "r.id AS i", *(f"{k} AS {n}" for k, n in zip(keys, names))])
        order = self._order(query, names)
        keyset = ""
        if _cursor_in(query, part):
            keyset = f" WHERE {self._keyset(query, [f'p.{n}' for n in names], 'p.t', 'p.i')}"
        # The inner LIMIT keeps both databases from merging the subquery into the outer one,
        # which would compute each sort key again in the keyset and ORDER BY.
        page = (
            f"SELECT * FROM (SELECT {matches} FROM resource r WHERE {' AND '.join(where)} LIMIT {_NO_LIMIT}) p{keyset} "
            f"ORDER BY {', '.join(f'p.{term}' for term in order)} LIMIT {self.bind(query.count + 1)}"
        )
        return self._with_bodies(page, names, order)

    @staticmethod
    def _order(query: SearchQuery, names: list[str]) -> list[str]:
        """ORDER BY terms over the key columns `names`, then `t` and `i` (type, id)."""
        forward = not query.backwards
        tie = "ASC" if forward else "DESC"
        order = [f"{n} {'DESC' if key.descending == forward else 'ASC'}" for key, n in zip(query.sort, names)]
        return [*order, f"t {tie}", f"i {tie}"]

    @staticmethod
    def _with_bodies(page: str, names: list[str], order: list[str]) -> str:
        """The page's rows (t, i and the keys `names`) with their resources' bodies."""
        selected = ", ".join(["r.resource_type", "r.id", "r.body", *(f"p.{n}" for n in names)])
        return (
            f"SELECT {selected} FROM ({page}) p JOIN resource r ON r.resource_type = p.t AND r.id = p.i "
            f"ORDER BY {', '.join(f'p.{term}' for term in order)}"
        )

    def count(self, query: SearchQuery) -> str:
        source = self._matches(query.resource_types, query.conditions)
        row = source.alias
        if source.table == "resource":
            return f"SELECT count(*) FROM resource {row} WHERE {source.where}"
        keys = f"SELECT DISTINCT {row}.resource_type, {row}.id FROM {source.table} {row} WHERE {source.where}"
        return f"SELECT count(*) FROM ({keys}) c"

    def includes(self, source_keys: Sequence[tuple[str, str]], source_type: str, param: str, target: str | None) -> str:
        """Resources referred to by `param` of the given source resources (`_include`)."""
        source_ids = ", ".join(self.bind(resource_id) for _, resource_id in source_keys)
        params = "" if param == "*" else f" AND x.param = {self.bind(param)}"
        target_filter = "" if target is None else f" AND x.target_type = {self.bind(target)}"
        # The sources' own reference rows, then one lookup by key per referenced resource.
        # References by url alone have no target id and match nothing.
        refs = (
            f"SELECT x.target_type, x.target_id FROM reference_index x WHERE x.resource_type = "
            f"{self.bind(source_type)}{params}{target_filter} AND x.id IN ({source_ids})"
        )
        return self._included(f"(r.resource_type, r.id) IN ({refs})")

    def revincludes(self, target_keys: Sequence[tuple[str, str]], source_type: str, param: str) -> str:
        """Resources of `source_type` referring to the given resources through `param` (`_revinclude`)."""
        targets = " OR ".join(
            f"(x.target_type = {self.bind(kind)} AND x.target_id = {self.bind(resource_id)})"
            for kind, resource_id in target_keys
        )
        params = "" if param == "*" else f" AND x.param = {self.bind(param)}"
        source = self.bind(source_type)
        refs = f"SELECT x.id FROM reference_index x WHERE x.resource_type = {source}{params} AND ({targets})"
        return self._included(f"r.resource_type = {self.bind(source_type)} AND r.id IN ({refs})")

    def _included(self, membership: str) -> str:
        where = [membership, "NOT r.deleted"]
        where += self._access_filter("r", None)
        return f"SELECT r.resource_type, r.id, r.body FROM resource r WHERE {' AND '.join(where)}"

    # --- conditions ----------------------------------------------------------------------------

    def _matches(
        self, types: Sequence[str], conditions: Sequence[Condition], driver: Condition | DateWindow | None = None
    ) -> _Source:
        """Where the matches are found. With an index condition, its index rows (alias `d`):
        they exist only for current, not deleted versions, so `resource` need not be read, and
        the table's `_resource` index can give them in id order. Otherwise `resource` rows
        (alias `k`)."""
        if isinstance(driver, DateWindow):
            return self._window(types, conditions, driver)
        if driver is None:
            driver = min((c for c in conditions if driver_rank(c) is not None), key=driver_rank, default=None)
        if driver is None:
            return _Source("resource", "k", " AND ".join(self._filter("k", types, conditions)))
        leaf = self._leaves.leaf(driver)
        where = [self._type_filter("d", types), leaf.on("d")]
        where += [
            self._condition("d", types, condition, probe=True) for condition in conditions if condition is not driver
        ]
        where += self._access_filter("d", types)
        return _Source(f"{leaf.table}_index", "d", " AND ".join(where))

    def _window(self, types: Sequence[str], conditions: Sequence[Condition], window: DateWindow) -> _Source:
        """The rows of the window, read from the value index alone; the parameter has one row
        per resource, so its conditions hold on that row, and the others are probed."""
        where = [
            self._type_filter("d", types),
            f"d.param = {self.bind(window.param)}",
            f"d.low >= {self.bind(window.start)}",
            f"d.low < {self.bind(window.end)}",
            *(self._leaves.leaf(condition).on("d") for condition in window.conditions),
        ]
        others = [c for c in conditions if not any(c is own for own in window.conditions)]
        where += [self._condition("d", types, condition, probe=True) for condition in others]
        where += self._access_filter("d", types)
        return _Source("date_index", "d", " AND ".join(where), " INDEXED BY date_index_low")

    def _type_filter(self, alias: str, types: Sequence[str]) -> str:
        if len(types) == 1:
            return f"{alias}.resource_type = {self.bind(types[0])}"
        return f"{alias}.resource_type IN ({', '.join(self.bind(t) for t in types)})"

    def _filter(self, alias: str, types: Sequence[str], conditions: Sequence[Condition]) -> list[str]:
        """The WHERE terms for rows of `alias` of one of `types` matching every condition."""
        terms = [self._type_filter(alias, types), f"NOT {alias}.deleted"]
        terms += [self._condition(alias, types, condition) for condition in conditions]
        terms += self._access_filter(alias, types)
        return terms

    def _access_filter(self, alias: str, types: Sequence[str] | None) -> list[str]:
        """The caller's access filter for rows of `types` (None: whatever type each row has)."""
        if types is None:
            return [self._per_type_access(alias)]
        rules = [(kind, self._rules.rule(kind)) for kind in types]
        if all(rule is None for _, rule in rules):
            return []
        if len(types) == 1:
            rule = rules[0][1]
            return [self._condition(alias, types, rule)] if rule is not None else []
        alternatives = [
            f"({alias}.resource_type = {self.bind(kind)}"
            + (f" AND {self._condition(alias, (kind,), rule)})" if rule is not None else ")")
            for kind, rule in rules
        ]
        return [f"({' OR '.join(alternatives)})"]

    def _per_type_access(self, alias: str) -> str:
        """Access for included resources, whose types are only known per row: each restricted
        type's rule, and the types visible as a whole."""
        rules = self._rules
        if rules.unrestricted:
            return "1 = 1"
        alternatives = []
        if rules.others_visible:
            listed = ", ".join(self.bind(kind) for kind in rules.restricted_types)
            alternatives.append(f"{alias}.resource_type NOT IN ({listed})" if listed else "1 = 1")
        elif rules.open_types:
            alternatives.append(f"{alias}.resource_type IN ({', '.join(self.bind(k) for k in rules.open_types)})")
        for kind in rules.restricted_types:
            rule = rules.rule(kind)
            if rule is not None and rule != NOTHING:
                condition = self._condition(alias, (kind,), rule)
                alternatives.append(f"({alias}.resource_type = {self.bind(kind)} AND {condition})")
        return f"({' OR '.join(alternatives)})" if alternatives else "1 = 0"

    def _condition(self, alias: str, types: Sequence[str], condition: Condition, *, probe: bool = False) -> str:
        """`condition` on the rows `alias`; `probe`: those rows drive a page (see `probes`)."""
        if isinstance(condition, AnyOf):
            either = (self._condition(alias, types, c, probe=probe) for c in condition.conditions)
            return "(" + " OR ".join(either) + ")"
        if isinstance(condition, AllOf):
            return "(" + " AND ".join(self._condition(alias, types, c, probe=probe) for c in condition.conditions) + ")"
        if isinstance(condition, Not):
            return f"NOT ({self._condition(alias, types, condition.condition, probe=probe)})"
        if isinstance(condition, IdCondition):
            if not condition.ids:
                return "1 = 0"
            return f"{alias}.id IN ({', '.join(self.bind(i) for i in condition.ids)})"
        if isinstance(condition, MissingCondition):
            leaf = Leaf(condition.table, f"x.param = {self.bind(condition.param)}")
            member = self._member(alias, types, leaf, probe=probe)
            return f"NOT ({member})" if condition.missing else member
        if isinstance(condition, ChainCondition):
            return self._chain(alias, types, condition)
        if isinstance(condition, HasCondition):
            return self._has(alias, types, condition)
        if isinstance(condition, CompositeCondition):
            return self._composite(alias, types, condition, probe=probe)
        if isinstance(condition, CompartmentCondition):
            return self._compartment(alias, types, condition)
        if isinstance(condition, ListCondition):
            items = (
                "SELECT x.target_id FROM reference_index x WHERE x.resource_type = 'List' AND x.param = 'item' "
                f"AND x.id = {self.bind(condition.list_id)} AND x.target_type = {alias}.resource_type"
            )
            return f"{alias}.id IN ({items})"
        return self._member(alias, types, self._leaves.leaf(condition), probe=probe)

    def _member(self, alias: str, types: Sequence[str], leaf: Leaf, *, probe: bool = False) -> str:
        """`alias` has an index row satisfying `leaf`."""
        return self._has_rows(alias, types, f"{leaf.table}_index x", leaf.predicate, probe=probe)

    def _has_rows(self, alias: str, types: Sequence[str], tables: str, predicate: str, *, probe: bool) -> str:
        """`alias` has rows `x` (of `tables`, which may join others to `x`) where `predicate`
        holds: a probe of its own rows when `probe` and the dialect asks for one (see `probes`),
        else a semi-join on the ids of every such row of the type."""
        if probe and self._probes:
            own = f"x.resource_type = {alias}.resource_type AND x.id = {alias}.id"
            return f"EXISTS (SELECT 1 FROM {tables} WHERE {own} AND {predicate})"
        return f"{alias}.id IN (SELECT x.id FROM {tables} WHERE {self._scope('x', alias, types)} AND {predicate})"

    def _chain(self, alias: str, types: Sequence[str], condition: ChainCondition) -> str:
        """One branch per target type, united: each branch finds the few target ids first and
        then their referrers through the reference index (an OR of branches defeated it)."""
        scope = self._scope("x", alias, types)
        branches = [
            f"SELECT x.id FROM reference_index x WHERE {scope} AND x.param = {self.bind(condition.param)} "
            f"AND x.target_type = {self.bind(target_type)} AND x.target_id IN ({self._ids_of(target_type, inner)})"
            for target_type, inner in condition.targets
        ]
        return f"{alias}.id IN ({' UNION ALL '.join(branches)})"

    def _has(self, alias: str, types: Sequence[str], condition: HasCondition) -> str:
        target_type = f"{alias}.resource_type" if len(types) != 1 or types[0] == "*" else self.bind(types[0])
        if self._optimistic and self._rules.rule(condition.source_type) is None:
            if driver_rank(condition.condition) is not None:
                return self._probed_has(alias, target_type, condition)
        refs = (
            f"SELECT h.target_id FROM reference_index h WHERE h.resource_type = {self.bind(condition.source_type)} "
            f"AND h.param = {self.bind(condition.source_param)} AND h.target_type = {target_type} "
            f"AND h.id IN ({self._ids_of(condition.source_type, condition.condition)})"
        )
        return f"{alias}.id IN ({refs})"

    def _probed_has(self, alias: str, target_type: str, condition: HasCondition) -> str:
        """`alias` has a referrer whose own index rows match (see `optimistic`); only for a
        plain index condition on a type without access rule, as `_ids_of` reads it."""
        referrer = self._alias()
        matches = self._member(referrer, (condition.source_type,), self._leaves.leaf(condition.condition), probe=True)
        return (
            f"EXISTS (SELECT 1 FROM reference_index {referrer} "
            f"WHERE {referrer}.resource_type = {self.bind(condition.source_type)} "
            f"AND {referrer}.param = {self.bind(condition.source_param)} AND {referrer}.target_type = {target_type} "
            f"AND {referrer}.target_id = {alias}.id AND {matches})"
        )

    def _ids_of(self, resource_type: str, condition: Condition) -> str:
        """A subquery of the ids of current `resource_type` resources matching `condition` that
        the caller may see. Index rows exist only for current, not deleted versions, so with no
        access rule for the type a plain index condition needs no visit to `resource`."""
        if self._rules.rule(resource_type) is None and driver_rank(condition) is not None:
            leaf = self._leaves.leaf(condition)
            scope = f"x.resource_type = {self.bind(resource_type)}"
            return f"SELECT x.id FROM {leaf.table}_index x WHERE {scope} AND {leaf.predicate}"
        nested = self._alias()
        where = self._filter(nested, (resource_type,), (condition,))
        return f"SELECT {nested}.id FROM resource {nested} WHERE {' AND '.join(where)}"

    def _scope(self, row: str, alias: str, types: Sequence[str]) -> str:
        """Index rows `row` of the type(s) searched: a bound type when there is one."""
        if len(types) == 1 and types[0] != "*":
            return f"{row}.resource_type = {self.bind(types[0])}"
        return f"{row}.resource_type = {alias}.resource_type"

    def _composite(self, alias: str, types: Sequence[str], condition: CompositeCondition, *, probe: bool) -> str:
        """Parts joined on the same resource and group: `code` and `value` of one component."""
        leaves = [self._leaves.leaf(part) for part in condition.parts]
        first = leaves[0]
        joins, wheres = [], [first.predicate]
        for position, leaf in enumerate(leaves[1:], start=1):
            name = f"p{position}"
            joins.append(
                f"JOIN {leaf.table}_index {name} ON {name}.resource_type = x.resource_type "
                f"AND {name}.id = x.id AND {name}.grp = x.grp"
            )
            wheres.append(leaf.on(name))
        tables = f"{first.table}_index x {' '.join(joins)}"
        return self._has_rows(alias, types, tables, " AND ".join(wheres), probe=probe)

    def _compartment(self, alias: str, types: Sequence[str], condition: CompartmentCondition) -> str:
        itself = (
            f"({alias}.resource_type = {self.bind(condition.compartment_type)} "
            f"AND {alias}.id = {self.bind(condition.compartment_id)})"
        )
        if not condition.params:
            return itself
        params = ", ".join(self.bind(param) for param in condition.params)
        scope = (
            f"x.resource_type = {self.bind(types[0])}"
            if len(types) == 1 and types[0] != "*"
            else f"x.resource_type = {alias}.resource_type"
        )
        refs = (
            f"SELECT x.id FROM reference_index x WHERE {scope} AND x.param IN ({params}) "
            f"AND x.target_type = {self.bind(condition.compartment_type)} "
            f"AND x.target_id = {self.bind(condition.compartment_id)}"
        )
        return f"({itself} OR {alias}.id IN ({refs}))"

    # --- order and keyset ------------------------------------------------------------------------

    def _sort_expression(self, key: SortKey, row: str, *, resource_row: bool = True) -> str:
        """The sort key of the resource of `row` (a resource row, or else an index row)."""
        if key.table is None:
            if key.param == "_id":
                return f"{row}.id"
            if resource_row:
                return f"{row}.last_updated"
            return (
                f"(SELECT o.last_updated FROM resource o WHERE o.resource_type = {row}.resource_type "
                f"AND o.id = {row}.id)"
            )
        column = _SORT_COLUMNS[key.table]
        aggregate = "MAX" if key.descending else "MIN"
        sentinel = _sentinel(key)
        value = (
            f"(SELECT {aggregate}(o.{column}) FROM {key.table}_index o WHERE o.resource_type = {row}.resource_type "
            f"AND o.id = {row}.id AND {self._sort_rows('o', key)})"
        )
        return f"COALESCE({value}, {self.bind(sentinel)})"

    def _sort_rows(self, row: str, key: SortKey) -> str:
        """The index row `row` holds a value of the sort key."""
        params = key.rows_of or (key.param,)
        if len(params) == 1:
            return f"{row}.param = {self.bind(params[0])}"
        return f"{row}.param IN ({', '.join(self.bind(param) for param in params)})"

    def _keyset(
        self, query: SearchQuery, keys: list[str], type_column: str = "r.resource_type", id_column: str = "r.id"
    ) -> str:
        """Rows after (or, paging backwards, before) the cursor position in the order."""
        after = list(query.after or ())
        expressions = [*keys, type_column, id_column]
        ascending = [not key.descending for key in query.sort] + [True, True]
        if query.backwards:
            ascending = [not direction for direction in ascending]
        if len(query.resource_types) == 1:  # one type: the id alone breaks ties, and the index can seek to it
            del expressions[-2], after[-2], ascending[-2]
        alternatives = []
        for depth in range(len(expressions)):
            equal = [f"{expressions[i]} = {self.bind(after[i])}" for i in range(depth)]
            operator = ">" if ascending[depth] else "<"
            alternatives.append(" AND ".join([*equal, f"{expressions[depth]} {operator} {self.bind(after[depth])}"]))
        either = "(" + " OR ".join(f"({alternative})" for alternative in alternatives) + ")"
        if len(expressions) == 1:
            return either
        # Implied by the alternatives, but a plain bound on the first column an index can seek to.
        return f"{expressions[0]} {'>' if ascending[0] else '<'}= {self.bind(after[0])} AND {either}"

    def _alias(self) -> str:
        self._aliases += 1
        return f"n{self._aliases}"


def page_parts(query: SearchQuery) -> tuple[str | None, ...]:
    """The parts a page is read from, in turn, until it is full: one statement (None), or, when
    the first sort key is an indexed parameter, the matches with a value for it (VALUED) and
    those without (MISSING), which come last in either direction."""
    if not query.sort or query.sort[0].table is None:
        return (None,)
    if _in_missing(query):
        return (MISSING, VALUED) if query.backwards else (MISSING,)
    return (VALUED,) if query.backwards else (VALUED, MISSING)


def _in_missing(query: SearchQuery) -> bool:
    """Whether the page starts among the matches without a first sort key (their cursor key
    is the sentinel; paging backwards without a cursor starts from the end)."""
    if query.after is None:
        return query.backwards
    return bool(query.after[0] == _sentinel(query.sort[0]))


def _cursor_in(query: SearchQuery, part: str | None) -> bool:
    """Whether the cursor lies in `part` of the page, so that part starts after it (else from
    its own start)."""
    return query.after is not None and (part is None or _in_missing(query) == (part == MISSING))


def _sentinel(key: SortKey) -> object:
    """Where resources without a value go: last, in either direction."""
    if key.table in _NUMERIC_SORT:
        big = 2**62 if key.table == "date" else 1e308
        return -big if key.descending else big
    return "" if key.descending else TEXT_MAX
