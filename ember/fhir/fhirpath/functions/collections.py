"""Existence, filtering, subsetting, combining and aggregate functions."""

from __future__ import annotations

from collections.abc import Callable
from functools import cmp_to_key
from typing import Any

from ..context import Context
from ..errors import FhirPathEvaluationError
from ..registry import LAZY, TYPE, function
from ..syntax import Unary
from ..type_checks import TypeMatcher
from ..values import (
    compare_items,
    contains_item,
    distinct,
    item_equal,
    plain,
    singleton,
    to_boolean,
)
from .common import Collection, integer_argument, per_item

Expression = Callable[[Collection, Context], Collection]


@function("empty")
def empty(focus: Collection, ctx: Context) -> Collection:
    return [not focus]


@function("exists", 0, 1, LAZY)
def exists(focus: Collection, ctx: Context, criteria: Expression | None = None) -> Collection:
    if criteria is None:
        return [bool(focus)]
    return [any(to_boolean(r, "exists()") is True for _, r in per_item(focus, ctx, criteria))]


@function("all", 1, 1, LAZY)
def all_(focus: Collection, ctx: Context, criteria: Expression) -> Collection:
    return [all(to_boolean(r, "all()") is True for _, r in per_item(focus, ctx, criteria))]


def _booleans(focus: Collection, name: str) -> list[bool]:
    values = [plain(item) for item in focus]
    if any(type(value) is not bool for value in values):
        raise FhirPathEvaluationError(f"{name}() expects booleans")
    return values


@function("allTrue")
def all_true(focus: Collection, ctx: Context) -> Collection:
    return [all(_booleans(focus, "allTrue"))]


@function("anyTrue")
def any_true(focus: Collection, ctx: Context) -> Collection:
    return [any(_booleans(focus, "anyTrue"))]


@function("allFalse")
def all_false(focus: Collection, ctx: Context) -> Collection:
    return [not any(_booleans(focus, "allFalse"))]


@function("anyFalse")
def any_false(focus: Collection, ctx: Context) -> Collection:
    return [not all(_booleans(focus, "anyFalse"))]


@function("subsetOf", 1)
def subset_of(focus: Collection, ctx: Context, other: Collection) -> Collection:
    return [all(contains_item(other, item) for item in focus)]


@function("supersetOf", 1)
def superset_of(focus: Collection, ctx: Context, other: Collection) -> Collection:
    return [all(contains_item(focus, item) for item in other)]


@function("count")
def count(focus: Collection, ctx: Context) -> Collection:
    return [len(focus)]


@function("distinct")
def distinct_(focus: Collection, ctx: Context) -> Collection:
    return distinct(focus)


@function("isDistinct")
def is_distinct(focus: Collection, ctx: Context) -> Collection:
    return [len(distinct(focus)) == len(focus)]


@function("where", 1, 1, LAZY)
def where(focus: Collection, ctx: Context, criteria: Expression) -> Collection:
    return [item for item, r in per_item(focus, ctx, criteria) if to_boolean(r, "where()")]


@function("select", 1, 1, LAZY)
def select(focus: Collection, ctx: Context, projection: Expression) -> Collection:
    out: Collection = []
    for _, result in per_item(focus, ctx, projection):
        out.extend(result)
    return out


@function("repeat", 1, 1, LAZY)
def repeat(focus: Collection, ctx: Context, projection: Expression) -> Collection:
    out: Collection = []
    seen: set[int] = set()
    level = focus
    while level:
        found: Collection = []
        for _, result in per_item(level, ctx, projection):
            for item in result:
                value = plain(item)
                key = id(value) if isinstance(value, (dict, list)) else None
                if key in seen or (key is None and contains_item(out, item)):
                    continue
                if key is not None:
                    seen.add(key)
                out.append(item)
                found.append(item)
        level = found
    return out


@function("ofType", 1, 1, TYPE)
def of_type(focus: Collection, ctx: Context, matcher: TypeMatcher) -> Collection:
    matcher.check_known()
    return [item for item in focus if matcher.matches(item, exact=True)]


@function("single")
def single(focus: Collection, ctx: Context) -> Collection:
    item = singleton(focus, "single()")
    return [] if item is None else [item]


@function("first")
def first(focus: Collection, ctx: Context) -> Collection:
    return focus[:1]


@function("last")
def last(focus: Collection, ctx: Context) -> Collection:
    return focus[-1:]


@function("tail")
def tail(focus: Collection, ctx: Context) -> Collection:
    return focus[1:]


@function("skip", 1)
def skip(focus: Collection, ctx: Context, number: Collection) -> Collection:
    amount = integer_argument(number, "skip")
    return focus if amount is None or amount <= 0 else focus[amount:]


@function("take", 1)
def take(focus: Collection, ctx: Context, number: Collection) -> Collection:
    amount = integer_argument(number, "take")
    return [] if amount is None or amount <= 0 else focus[:amount]


@function("intersect", 1)
def intersect(focus: Collection, ctx: Context, other: Collection) -> Collection:
    return distinct([item for item in focus if contains_item(other, item)])


@function("exclude", 1)
def exclude(focus: Collection, ctx: Context, other: Collection) -> Collection:
    return [item for item in focus if not contains_item(other, item)]


@function("union", 1)
def union(focus: Collection, ctx: Context, other: Collection) -> Collection:
    return distinct(focus + other)


@function("combine", 1)
def combine(focus: Collection, ctx: Context, other: Collection) -> Collection:
    return focus + other


@function("not")
def not_(focus: Collection, ctx: Context) -> Collection:
    value = to_boolean(focus, "not()")
    return [] if value is None else [not value]


@function("iif", 2, 3, LAZY)
def iif(
    focus: Collection,
    ctx: Context,
    criterion: Expression,
    true_result: Expression,
    false_result: Expression | None = None,
) -> Collection:
    if len(focus) > 1:
        raise FhirPathEvaluationError("iif() can only be called on a single item")
    saved = ctx.this
    ctx.this = focus
    try:
        condition = criterion(focus, ctx)
        value = singleton(condition, "iif() criterion")
        if value is not None and type(plain(value)) is not bool:
            raise FhirPathEvaluationError("iif() criterion must be a boolean")
        if value is not None and plain(value):
            return true_result(focus, ctx)
        return false_result(focus, ctx) if false_result is not None else []
    finally:
        ctx.this = saved


@function("aggregate", 1, 2, LAZY)
def aggregate(focus: Collection, ctx: Context, aggregator: Expression, init: Expression | None = None) -> Collection:
    saved_total = ctx.total
    try:
        ctx.total = init(ctx.this, ctx) if init is not None else []
        for _, result in per_item(focus, ctx, aggregator):
            ctx.total = result
        return ctx.total
    finally:
        ctx.total = saved_total


@function("sort", 0, 9, LAZY)
def sort(focus: Collection, ctx: Context, *keys: Expression) -> Collection:
    if not keys:
        return sorted(focus, key=cmp_to_key(_compare_values))
    plans = [_sort_key(key) for key in keys]
    rows = []
    for index, item in enumerate(focus):
        values = []
        for expression, _ in plans:
            _, result = next(per_item([item], ctx, expression))
            values.append(singleton(result, "sort() key"))
        rows.append((values, index, item))

    def compare(a: tuple[list[Any], int, Any], b: tuple[list[Any], int, Any]) -> int:
        for (left, right), (_, descending) in zip(zip(a[0], b[0]), plans):
            order = _compare_values(left, right)
            if order and left is not None and right is not None and descending:
                return -order
            if order:
                return order
        return a[1] - b[1]

    return [row[2] for row in sorted(rows, key=cmp_to_key(compare))]


def _sort_key(expression: Expression) -> tuple[Expression, bool]:
    """``sort(-name)`` sorts descending by ``name``, even for strings."""
    node = getattr(expression, "node", None)
    if isinstance(node, Unary) and node.op == "-":
        from ..compiler import compile_node  # the compiler imports this module

        return compile_node(node.operand), True
    return expression, False


def _compare_values(left: Any, right: Any) -> int:
    """Order two sort keys; an empty key sorts first, whatever the direction."""
    if left is None or right is None:
        return (left is not None) - (right is not None)
    if item_equal(left, right):
        return 0
    return compare_items(left, right) or 0
