"""FHIRPath operators: arithmetic, boolean logic, equality, ordering and membership."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import FhirPathEvaluationError
from .quantity import Quantity, add_quantities, divide_quantities, multiply_quantities
from .temporal import Temporal, add_duration
from .values import (
    collection_equal,
    collection_equivalent,
    compare_items,
    contains_item,
    distinct,
    plain,
    singleton,
    to_boolean,
    to_system,
    type_label,
)

Collection = list[Any]


def _number(value: Any) -> bool:
    return isinstance(value, (int, Decimal)) and type(value) is not bool


def _operands(left: Collection, right: Collection, op: str) -> tuple[Any, Any] | None:
    if not left or not right:
        return None
    a = to_system(singleton(left, f"operator {op}"))
    b = to_system(singleton(right, f"operator {op}"))
    return a, b


def _mismatch(op: str, a: Any, b: Any) -> FhirPathEvaluationError:
    return FhirPathEvaluationError(f"cannot apply '{op}' to {type_label(a)} and {type_label(b)}")


def _plus(a: Any, b: Any, sign: int, op: str) -> Any:
    if _number(a) and _number(b):
        return a + b if sign > 0 else a - b
    if sign > 0 and isinstance(a, str) and isinstance(b, str):
        return a + b
    if isinstance(a, Temporal) and isinstance(b, Quantity):
        return add_duration(a, b.value if sign > 0 else -b.value, b.unit)
    if isinstance(a, Quantity) and isinstance(b, Quantity):
        return add_quantities(a, b, sign)
    raise _mismatch(op, a, b)


def _multiply(a: Any, b: Any) -> Any:
    if _number(a) and _number(b):
        return a * b
    if isinstance(a, Quantity) and isinstance(b, Quantity):
        return multiply_quantities(a, b)
    if isinstance(a, Quantity) and _number(b):
        return Quantity(a.value * b, a.unit)
    if _number(a) and isinstance(b, Quantity):
        return Quantity(b.value * a, b.unit)
    raise _mismatch("*", a, b)


def _divide(a: Any, b: Any) -> Any:
    if _number(a) and _number(b):
        return None if b == 0 else Decimal(a) / Decimal(b)
    if isinstance(a, Quantity) and isinstance(b, Quantity):
        return divide_quantities(a, b)
    if isinstance(a, Quantity) and _number(b):
        return None if b == 0 else Quantity(a.value / Decimal(b), a.unit)
    raise _mismatch("/", a, b)


def _div(a: Any, b: Any) -> Any:
    if not (_number(a) and _number(b)):
        raise _mismatch("div", a, b)
    if b == 0:
        return None
    return int(Decimal(a) / Decimal(b))


def _mod(a: Any, b: Any) -> Any:
    if not (_number(a) and _number(b)):
        raise _mismatch("mod", a, b)
    if b == 0:
        return None
    if isinstance(a, int) and isinstance(b, int):
        return a - b * int(a / b) if abs(a) < 2**52 else int(Decimal(a) % Decimal(b))
    return Decimal(a) % Decimal(b)


_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: _plus(a, b, 1, "+"),
    "-": lambda a, b: _plus(a, b, -1, "-"),
    "*": _multiply,
    "/": _divide,
    "div": _div,
    "mod": _mod,
}


def arithmetic(op: str, left: Collection, right: Collection) -> Collection:
    """Binary arithmetic; empty operands and division by zero give empty."""
    operands = _operands(left, right, op)
    if operands is None:
        return []
    try:
        result = _ARITHMETIC[op](*operands)
    except InvalidOperation as error:
        raise FhirPathEvaluationError(f"invalid arithmetic: {error}") from error
    return [] if result is None else [result]


def concatenate(left: Collection, right: Collection) -> Collection:
    """``&``: string concatenation where empty counts as ''."""
    a = plain(singleton(left, "operator &"))
    b = plain(singleton(right, "operator &"))
    if not isinstance(a or "", str) or not isinstance(b or "", str):
        raise _mismatch("&", a, b)
    return [(a or "") + (b or "")]


def negate(operand: Collection, op: str) -> Collection:
    """Unary ``-`` and ``+``."""
    value = to_system(singleton(operand, f"unary {op}"))
    if value is None:
        return []
    if _number(value):
        return [-value if op == "-" else value]
    if isinstance(value, Quantity):
        return [Quantity(-value.value if op == "-" else value.value, value.unit)]
    raise FhirPathEvaluationError(f"cannot apply unary '{op}' to {type_label(value)}")


def _bool_result(value: bool | None) -> Collection:
    return [] if value is None else [value]


def logic(op: str, left: Callable[[], Collection], right: Callable[[], Collection]) -> Collection:
    """Three-valued ``and``/``or``/``xor``/``implies`` (right side evaluated lazily)."""
    a = to_boolean(left(), f"operator {op}")
    if op == "and" and a is False:
        return [False]
    if op == "or" and a is True:
        return [True]
    if op == "implies" and a is False:
        return [True]
    b = to_boolean(right(), f"operator {op}")
    if op == "and":
        return [False] if b is False else _bool_result(None if a is None or b is None else True)
    if op == "or":
        return [True] if b is True else _bool_result(None if a is None or b is None else False)
    if op == "xor":
        return _bool_result(None if a is None or b is None else a != b)
    return [True] if b is True else _bool_result(None if a is None else b)


def comparison(op: str, left: Collection, right: Collection) -> Collection:
    """``=``, ``!=``, ``~``, ``!~``, ``<``, ``<=``, ``>``, ``>=``."""
    if op in ("~", "!~"):
        same = collection_equivalent(left, right)
        return [same if op == "~" else not same]
    if op in ("=", "!="):
        equal = collection_equal(left, right)
        return _bool_result(None if equal is None else (equal if op == "=" else not equal))
    if not left or not right:
        return []
    order = compare_items(singleton(left, f"operator {op}"), singleton(right, f"operator {op}"))
    if order is None:
        return []
    return [{"<": order < 0, "<=": order <= 0, ">": order > 0, ">=": order >= 0}[op]]


def membership(op: str, left: Collection, right: Collection) -> Collection:
    """``in`` and ``contains``."""
    item, collection = (left, right) if op == "in" else (right, left)
    if not item:
        return []
    return [contains_item(collection, singleton(item, f"operator {op}"))]


def union(left: Collection, right: Collection) -> Collection:
    """``|``: both collections, duplicates removed."""
    return distinct(left + right)
