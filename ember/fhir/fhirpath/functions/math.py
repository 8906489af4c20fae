"""Math functions and the precision/boundary functions of FHIRPath 2.1."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from ..context import Context
from ..errors import FhirPathEvaluationError
from ..quantity import Quantity, decimal_places, round_to
from ..registry import function
from ..temporal import Temporal, boundary
from ..ucum import convert_factor
from ..values import singleton, to_system, type_label
from .common import Collection, integer_argument, system_input

_MAX_DIGITS = 28


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, Decimal)) and type(value) is not bool


def _number_input(focus: Collection, name: str) -> Any:
    value = system_input(focus, name)
    if value is not None and not _is_number(value):
        raise FhirPathEvaluationError(f"{name}() expects a number, got {type_label(value)}")
    return value


def _numeric(name: str, operation: Callable[[Any], Any], quantities: bool = False) -> None:
    def call(focus: Collection, ctx: Context) -> Collection:
        value = system_input(focus, name)
        if value is None:
            return []
        if quantities and isinstance(value, Quantity):
            return [Quantity(operation(value.value), value.unit)]
        if not _is_number(value):
            raise FhirPathEvaluationError(f"{name}() expects a number, got {type_label(value)}")
        try:
            result = operation(value)
        except (ValueError, OverflowError, InvalidOperation):
            return []
        return [] if result is None else [result]

    function(name)(call)


def _float_result(value: float) -> Decimal:
    return Decimal(repr(value))


_numeric("abs", abs, quantities=True)
_numeric("ceiling", lambda v: math.ceil(v))
_numeric("floor", lambda v: math.floor(v))
_numeric("truncate", lambda v: int(v))
_numeric("exp", lambda v: _float_result(math.exp(v)))
_numeric("ln", lambda v: _float_result(math.log(v)) if v > 0 else None)
_numeric("sqrt", lambda v: Decimal(v).sqrt() if v >= 0 else None)


@function("log", 1)
def log(focus: Collection, ctx: Context, base: Collection) -> Collection:
    value, base_value = _number_input(focus, "log"), _number_input(base, "log")
    if value is None or base_value is None or value <= 0 or base_value <= 0 or base_value == 1:
        return []
    return [_float_result(math.log(value, base_value))]


@function("power", 1)
def power(focus: Collection, ctx: Context, exponent: Collection) -> Collection:
    value, exp = _number_input(focus, "power"), _number_input(exponent, "power")
    if value is None or exp is None:
        return []
    if type(value) is int and type(exp) is int and exp >= 0:
        return [value**exp]
    try:
        result = Decimal(value) ** Decimal(exp)
    except InvalidOperation:
        return []
    return [] if result.is_nan() else [result]


@function("round", 0, 1)
def round_(focus: Collection, ctx: Context, places: Collection | None = None) -> Collection:
    value = _number_input(focus, "round")
    digits = integer_argument(places, "round") if places is not None else 0
    if value is None or digits is None or digits < 0:
        return []
    return [round_to(Decimal(value), digits)]


def decimal_boundary(value: Decimal | int, digits: int, high: bool) -> Decimal | None:
    """The low/high end of the interval a decimal written with its precision stands for."""
    if digits < 0 or digits > _MAX_DIGITS:
        return None
    number = Decimal(value)
    if number < 0:
        mirrored = decimal_boundary(-number, digits, not high)
        return None if mirrored is None else -mirrored
    half = Decimal(5).scaleb(-(decimal_places(value) + 1))
    if high:
        return round_to(number + half, digits)
    return (number - half).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_DOWN)


def _boundary(focus: Collection, places: Collection | None, high: bool) -> Collection:
    name = "highBoundary" if high else "lowBoundary"
    value = system_input(focus, name)
    digits = integer_argument(places, name) if places is not None else None
    if value is None:
        return []
    if isinstance(value, Temporal):
        result: Any = boundary(value, digits, high)
    elif isinstance(value, Quantity):
        number = decimal_boundary(value.value, 8 if digits is None else digits, high)
        result = None if number is None else Quantity(number, value.unit)
    elif _is_number(value):
        result = decimal_boundary(value, 8 if digits is None else digits, high)
    else:
        raise FhirPathEvaluationError(f"{name}() does not apply to {type_label(value)}")
    return [] if result is None else [result]


@function("lowBoundary", 0, 1)
def low_boundary(focus: Collection, ctx: Context, places: Collection | None = None) -> Collection:
    return _boundary(focus, places, high=False)


@function("highBoundary", 0, 1)
def high_boundary(focus: Collection, ctx: Context, places: Collection | None = None) -> Collection:
    return _boundary(focus, places, high=True)


@function("precision")
def precision(focus: Collection, ctx: Context) -> Collection:
    value = system_input(focus, "precision")
    if value is None:
        return []
    if isinstance(value, Temporal):
        return [value.precision_digits()]
    if _is_number(value):
        return [decimal_places(value)]
    raise FhirPathEvaluationError(f"precision() does not apply to {type_label(value)}")


@function("comparable", 1)
def comparable(focus: Collection, ctx: Context, other: Collection) -> Collection:
    left = system_input(focus, "comparable")
    right = to_system(singleton(other, "comparable()"))
    if not isinstance(left, Quantity) or not isinstance(right, Quantity):
        return []
    return [convert_factor(left.unit, right.unit) is not None]
