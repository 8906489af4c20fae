"""Conversions between FHIR JSON values and FHIRPath system values, equality and ordering.

FHIR data stays in its JSON form while it is navigated; it is converted to a system value
(``Temporal``, ``Quantity``, ``Decimal``) only when an operator needs one, using the element
type the ``Node`` carries. That keeps plain path navigation cheap.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .errors import FhirPathEvaluationError
from .model import Node
from .quantity import (
    Quantity,
    decimal_equivalent,
    from_fhir_quantity,
    quantity_compare,
    quantity_equal,
    quantity_equivalent,
)
from .temporal import (
    DATE,
    DATETIME,
    Temporal,
    compare_temporal,
    parse_date_time,
    parse_time,
)

QUANTITY_TYPES = frozenset({"Quantity", "Age", "Duration", "Distance", "Count", "SimpleQuantity", "MoneyQuantity"})
_SPACES = re.compile(r"\s+")


def _decimal(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return value


def _temporal(parser: Callable[[str], Temporal | None]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, str):
            parsed = parser(value)
            if parsed is not None:
                return parsed
        return value

    return convert


def _quantity(value: Any) -> Any:
    if isinstance(value, dict):
        converted = from_fhir_quantity(value)
        return value if converted is None else converted
    return value


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "decimal": _decimal,
    "date": _temporal(lambda text: parse_date_time(text, DATE)),
    "dateTime": _temporal(lambda text: parse_date_time(text, DATETIME)),
    "instant": _temporal(lambda text: parse_date_time(text, DATETIME)),
    "time": _temporal(parse_time),
    **{name: _quantity for name in QUANTITY_TYPES},
}


def to_system(item: Any) -> Any:
    """The FHIRPath system value of an item (JSON dicts stay dicts)."""
    if type(item) is Node:
        value = item.value
        converter = _CONVERTERS.get(item.type)  # type: ignore[arg-type]
        if converter is not None:
            return converter(value)
        return Decimal(repr(value)) if type(value) is float else value
    if type(item) is float:
        return Decimal(repr(item))
    return item


def plain(item: Any) -> Any:
    """The JSON value of an item (unwraps nodes)."""
    return item.value if type(item) is Node else item


def singleton(collection: list[Any], what: str) -> Any:
    """The only item of ``collection`` (None when empty); more than one is an error."""
    if not collection:
        return None
    if len(collection) > 1:
        raise FhirPathEvaluationError(f"{what} expects a single item, got {len(collection)}")
    return collection[0]


def to_boolean(collection: list[Any], what: str = "boolean operand") -> bool | None:
    """Singleton evaluation as a boolean: empty -> None, a non-boolean single item -> True."""
    if not collection:
        return None
    if len(collection) > 1:
        raise FhirPathEvaluationError(f"{what} expects a single item, got {len(collection)}")
    value = plain(collection[0])
    return value if type(value) is bool else True


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, Decimal)) and type(value) is not bool


def _align_temporal(left: Any, right: Any) -> tuple[Any, Any]:
    """Let a string meet a date literal: ``'2015' = @2015`` compares as dates."""
    if isinstance(left, Temporal) and isinstance(right, str):
        right = (parse_time if left.kind == "time" else parse_date_time)(right) or right
    elif isinstance(right, Temporal) and isinstance(left, str):
        left = (parse_time if right.kind == "time" else parse_date_time)(left) or left
    return left, right


def item_equal(left: Any, right: Any) -> bool | None:
    """``=`` on two items; None when the answer is unknown (precision, units)."""
    left, right = _align_temporal(to_system(left), to_system(right))
    if type(left) is bool or type(right) is bool:
        return type(left) is type(right) and left == right
    if _is_number(left) and _is_number(right):
        return left == right
    if isinstance(left, Temporal) and isinstance(right, Temporal):
        if (left.kind == "time") != (right.kind == "time"):
            return False
        order = compare_temporal(left, right)
        return None if order is None else order == 0
    if isinstance(left, Quantity) and isinstance(right, Quantity):
        return quantity_equal(left, right)
    if type(left) is not type(right):
        return False
    return left == right


def item_equivalent(left: Any, right: Any) -> bool:
    """``~`` on two items: case/whitespace-insensitive strings, precision-aware numbers."""
    left, right = _align_temporal(to_system(left), to_system(right))
    if type(left) is bool or type(right) is bool:
        return type(left) is type(right) and left == right
    if _is_number(left) and _is_number(right):
        return decimal_equivalent(left, right)
    if isinstance(left, str) and isinstance(right, str):
        return _normalise(left) == _normalise(right)
    if isinstance(left, Temporal) and isinstance(right, Temporal):
        if (left.kind == "time") != (right.kind == "time"):
            return False
        return compare_temporal(left, right) == 0
    if isinstance(left, Quantity) and isinstance(right, Quantity):
        return quantity_equivalent(left, right)
    return type(left) is type(right) and left == right


def _normalise(text: str) -> str:
    return _SPACES.sub(" ", text.strip()).lower()


def collection_equal(left: list[Any], right: list[Any]) -> bool | None:
    """``=`` on collections: same size and pairwise equal, in order."""
    if not left or not right:
        return None
    if len(left) != len(right):
        return False
    unknown = False
    for a, b in zip(left, right):
        result = item_equal(a, b)
        if result is False:
            return False
        unknown = unknown or result is None
    return None if unknown else True


def collection_equivalent(left: list[Any], right: list[Any]) -> bool:
    """``~`` on collections: same size and every item has an equivalent, in any order."""
    if len(left) != len(right):
        return False
    remaining = list(right)
    for a in left:
        for index, b in enumerate(remaining):
            if item_equivalent(a, b):
                del remaining[index]
                break
        else:
            return False
    return True


def compare_items(left: Any, right: Any) -> int | None:
    """Order two items (-1/0/1); None when unknown; an error when not comparable types."""
    left, right = _align_temporal(to_system(left), to_system(right))
    if _is_number(left) and _is_number(right):
        return (left > right) - (left < right)
    if isinstance(left, str) and isinstance(right, str):
        return (left > right) - (left < right)
    if isinstance(left, Temporal) and isinstance(right, Temporal):
        return compare_temporal(left, right)
    if isinstance(left, Quantity) and isinstance(right, Quantity):
        return quantity_compare(left, right)
    raise FhirPathEvaluationError(f"cannot compare {type_label(left)} with {type_label(right)}")


def type_label(value: Any) -> str:
    """A short description of a value's type, for error messages."""
    if isinstance(value, Temporal):
        return value.kind
    return type(value).__name__


def contains_item(collection: list[Any], item: Any) -> bool:
    """Membership by equality (``in`` / ``contains``)."""
    return any(item_equal(candidate, item) is True for candidate in collection)


def distinct(collection: list[Any]) -> list[Any]:
    """Items with duplicates (by equality) removed, first occurrence kept."""
    result: list[Any] = []
    seen: set[Any] = set()
    for item in collection:
        key = _hash_key(item)
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        elif contains_item(result, item):
            continue
        result.append(item)
    return result


def _hash_key(item: Any) -> Any:
    """A cheap identity for common scalar values; None means compare the slow way."""
    value = to_system(item)
    if type(value) is str:
        return ("s", value)
    if type(value) is bool:
        return ("b", value)
    if type(value) is int:
        return ("n", Decimal(value))
    if type(value) is Decimal:
        return ("n", value.normalize())
    return None
