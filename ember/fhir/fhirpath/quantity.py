"""FHIRPath Quantity values: a decimal and a UCUM unit (or calendar duration keyword)."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .errors import FhirPathEvaluationError
from .ucum import CALENDAR_KEYWORDS, convert_factor

UCUM_SYSTEM = "http://unitsofmeasure.org"
_QUANTITY_STRING_RE = re.compile(r"([+-]?\d+(?:\.\d+)?)(?:\s*(?:'([^']+)'|([a-z]+)))?")


class Quantity:
    """An immutable quantity; ``unit`` keeps the spelling it was written with."""

    __slots__ = ("unit", "value")

    def __init__(self, value: Decimal, unit: str = "1") -> None:
        self.value = value
        self.unit = unit

    def __str__(self) -> str:
        if self.unit in CALENDAR_KEYWORDS:
            return f"{self.value} {self.unit}"
        return f"{self.value} '{self.unit}'"

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Quantity) and quantity_equal(self, other) is True

    def __hash__(self) -> int:
        return hash(self.unit)


def decimal_places(value: Decimal | int) -> int:
    """Number of digits after the decimal point as written (``1.50`` -> 2)."""
    if isinstance(value, int):
        return 0
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def round_to(value: Decimal, places: int) -> Decimal:
    """Round half away from zero, as FHIRPath's round() does."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def decimal_equivalent(left: Decimal | int, right: Decimal | int) -> bool:
    """Equivalence of numbers: equal when rounded to the least precise operand."""
    places = min(decimal_places(left), decimal_places(right))
    return round_to(Decimal(left), places) == round_to(Decimal(right), places)


def _aligned(left: Quantity, right: Quantity) -> tuple[Decimal, Decimal] | None:
    """Both values expressed in the left unit, or None when the units are not comparable."""
    factor = convert_factor(right.unit, left.unit)
    if factor is None:
        return None
    right_value = right.value if factor == 1 else right.value * factor
    return left.value, right_value


def quantity_compare(left: Quantity, right: Quantity) -> int | None:
    """Return -1/0/1, or None when the units are not comparable."""
    aligned = _aligned(left, right)
    if aligned is None:
        return None
    a, b = aligned
    return (a > b) - (a < b)


def quantity_equal(left: Quantity, right: Quantity) -> bool | None:
    """``=`` on quantities (None when not comparable, giving an empty result)."""
    order = quantity_compare(left, right)
    return None if order is None else order == 0


def quantity_equivalent(left: Quantity, right: Quantity) -> bool:
    """``~`` on quantities: compare after conversion at the least precision."""
    aligned = _aligned(left, right)
    if aligned is None:
        return False
    return decimal_equivalent(*aligned)


def parse_quantity_string(text: str) -> Quantity | None:
    """Parse the string form used by toQuantity(): ``1``, ``1.5 'mg'``, ``4 days``."""
    match = _QUANTITY_STRING_RE.fullmatch(text.strip())
    if match is None:
        return None
    number, quoted, keyword = match.groups()
    if keyword is not None and keyword not in CALENDAR_KEYWORDS:
        return None
    return Quantity(Decimal(number), quoted or keyword or "1")


def from_fhir_quantity(element: dict[str, Any]) -> Quantity | None:
    """Turn a FHIR Quantity element into a FHIRPath Quantity (UCUM code preferred)."""
    value = element.get("value")
    if value is None:
        return None
    unit = element.get("code") if element.get("system") == UCUM_SYSTEM else None
    unit = unit or element.get("unit") or element.get("code") or "1"
    return Quantity(value if isinstance(value, Decimal) else Decimal(str(value)), unit)


def add_quantities(left: Quantity, right: Quantity, sign: int) -> Quantity:
    """``left + right`` or ``left - right`` in the left unit."""
    aligned = _aligned(left, right)
    if aligned is None:
        raise FhirPathEvaluationError(f"cannot add '{right.unit}' to '{left.unit}'")
    a, b = aligned
    return Quantity(a + b if sign > 0 else a - b, left.unit)


def multiply_quantities(left: Quantity, right: Quantity) -> Quantity:
    """Product; the unit is the UCUM product of both units."""
    if left.unit == "1":
        return Quantity(left.value * right.value, right.unit)
    unit = left.unit if right.unit == "1" else f"{left.unit}.{right.unit}"
    return Quantity(left.value * right.value, unit)


def divide_quantities(left: Quantity, right: Quantity) -> Quantity | None:
    """Quotient (None on division by zero); ``m/m`` simplifies to ``1`` on comparison."""
    if right.value == 0:
        return None
    unit = left.unit if right.unit == "1" else f"{left.unit}/{right.unit}"
    return Quantity(left.value / right.value, unit)
