"""Helpers shared by the function modules."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..context import Context
from ..errors import FhirPathEvaluationError
from ..values import plain, singleton, to_system

Collection = list[Any]


def per_item(
    focus: Collection, ctx: Context, expression: Callable[[Collection, Context], Collection]
) -> Iterator[tuple[Any, Collection]]:
    """Evaluate ``expression`` once per item with ``$this``/``$index`` set, restoring after."""
    saved_this, saved_index = ctx.this, ctx.index
    try:
        for index, item in enumerate(focus):
            ctx.this = [item]
            ctx.index = index
            yield item, expression(ctx.this, ctx)
    finally:
        ctx.this, ctx.index = saved_this, saved_index


def string_input(focus: Collection, name: str) -> str | None:
    """The single string a string function works on (None when empty)."""
    item = singleton(focus, f"{name}()")
    if item is None:
        return None
    value = plain(item)
    if not isinstance(value, str):
        raise FhirPathEvaluationError(f"{name}() expects a string, got {type(value).__name__}")
    return value


def string_argument(argument: Collection, name: str) -> str | None:
    """A single string argument (None when empty)."""
    return string_input(argument, name)


def integer_argument(argument: Collection, name: str) -> int | None:
    """A single integer argument (None when empty)."""
    value = to_system(singleton(argument, f"{name}()"))
    if value is None:
        return None
    if type(value) is not int:
        raise FhirPathEvaluationError(f"{name}() expects an integer argument")
    return value


def system_input(focus: Collection, name: str) -> Any:
    """The single input converted to a system value (None when empty)."""
    return to_system(singleton(focus, f"{name}()"))
