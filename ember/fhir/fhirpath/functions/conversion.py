"""Conversion functions: toX() and convertsToX()."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ..context import Context
from ..quantity import Quantity, parse_quantity_string
from ..registry import function
from ..temporal import DATE, DATETIME, TIME, Temporal, parse_date_time, parse_time
from ..values import singleton, to_system
from .common import Collection, string_argument

_INTEGER_RE = re.compile(r"[+-]?\d+")
_DECIMAL_RE = re.compile(r"[+-]?\d+(\.\d+)?")
_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, Decimal)) and type(value) is not bool


def to_boolean_value(value: Any) -> bool | None:
    if type(value) is bool:
        return value
    if _is_number(value):
        return {1: True, 0: False}.get(value)  # type: ignore[call-overload]
    if isinstance(value, str):
        lowered = value.lower()
        return True if lowered in _TRUE else False if lowered in _FALSE else None
    return None


def to_integer_value(value: Any) -> int | None:
    if type(value) is bool:
        return int(value)
    if type(value) is int:
        return value
    if isinstance(value, str) and _INTEGER_RE.fullmatch(value):
        return int(value)
    return None


def to_decimal_value(value: Any) -> Decimal | None:
    if type(value) is bool:
        return Decimal(int(value))
    if _is_number(value):
        return Decimal(value)
    if isinstance(value, str) and _DECIMAL_RE.fullmatch(value):
        return Decimal(value)
    return None


def to_string_value(value: Any) -> str | None:
    if type(value) is bool:
        return "true" if value else "false"
    if isinstance(value, (str, int, Decimal, Temporal, Quantity)):
        return str(value)
    return None


def to_quantity_value(value: Any) -> Quantity | None:
    if isinstance(value, Quantity):
        return value
    if type(value) is bool:
        return Quantity(Decimal(1 if value else 0), "1")
    if _is_number(value):
        return Quantity(Decimal(value), "1")
    if isinstance(value, str):
        return parse_quantity_string(value)
    return None


def _temporal_converter(kind: str) -> Callable[[Any], Temporal | None]:
    def convert(value: Any) -> Temporal | None:
        if isinstance(value, Temporal):
            if value.kind == kind:
                return value
            if kind == DATE and value.kind == DATETIME:
                return Temporal(DATE, value.parts[:3])
            if kind == DATETIME and value.kind == DATE:
                return Temporal(DATETIME, value.parts)
            return None
        if not isinstance(value, str):
            return None
        return parse_time(value) if kind == TIME else parse_date_time(value, kind)

    return convert


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "Boolean": to_boolean_value,
    "Integer": to_integer_value,
    "Decimal": to_decimal_value,
    "String": to_string_value,
    "Quantity": to_quantity_value,
    "Date": _temporal_converter(DATE),
    "DateTime": _temporal_converter(DATETIME),
    "Time": _temporal_converter(TIME),
}


def _register(type_name: str, converter: Callable[[Any], Any]) -> None:
    def to_type(focus: Collection, ctx: Context) -> Collection:
        value = to_system(singleton(focus, f"to{type_name}()"))
        converted = None if value is None else converter(value)
        return [] if converted is None else [converted]

    def converts_to_type(focus: Collection, ctx: Context) -> Collection:
        value = to_system(singleton(focus, f"convertsTo{type_name}()"))
        return [] if value is None else [converter(value) is not None]

    if type_name != "Quantity":
        function(f"to{type_name}")(to_type)
    function(f"convertsTo{type_name}")(converts_to_type)


for _name, _converter in _CONVERTERS.items():
    _register(_name, _converter)


@function("toQuantity", 0, 1)
def to_quantity(focus: Collection, ctx: Context, unit: Collection | None = None) -> Collection:
    value = to_system(singleton(focus, "toQuantity()"))
    quantity = None if value is None else to_quantity_value(value)
    if quantity is None:
        return []
    target = string_argument(unit, "toQuantity") if unit is not None else None
    if target is not None and target != quantity.unit:
        from ..ucum import convert_factor

        factor = convert_factor(quantity.unit, target)
        return [] if factor is None else [Quantity(quantity.value * factor, target)]
    return [quantity]
