"""FHIRPath Date, DateTime and Time values with partial precision.

FHIR dates may be partial (``2014``, ``2014-05``) and FHIRPath comparisons must respect that:
comparing values of different precision that agree on every common component is *unknown*
(empty), not false. One small class holds all three kinds so comparisons and arithmetic share
the same component logic.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from decimal import Decimal

from .errors import FhirPathEvaluationError

DATE, DATETIME, TIME = "date", "dateTime", "time"
_DATE_RE = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(?:(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?"
    r"(Z|[+-]\d{2}:\d{2})?)?)?)?)?(T)?"
)
_TIME_RE = re.compile(r"(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?")
# Digits of precision reported by precision() for each number of components (FHIRPath 2.1).
_DATE_DIGITS = {1: 4, 2: 6, 3: 8, 4: 10, 5: 12, 6: 14}
_TIME_DIGITS = {1: 2, 2: 4, 3: 6}
_LOW_TZ, _HIGH_TZ = 14 * 60, -12 * 60


class Temporal:
    """A date, dateTime or time; ``parts`` holds only the components that were given."""

    __slots__ = ("kind", "ms", "parts", "tz")

    def __init__(self, kind: str, parts: tuple[int, ...], ms: int | None = None, tz: int | None = None) -> None:
        self.kind = kind
        self.parts = parts
        self.ms = ms
        self.tz = tz

    def __repr__(self) -> str:
        return f"@{'T' if self.kind == TIME else ''}{self}"

    def __str__(self) -> str:
        return format_temporal(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Temporal) and self.kind == other.kind and str(self) == str(other)

    def __hash__(self) -> int:
        return hash((self.kind, str(self)))

    @property
    def has_time(self) -> bool:
        """True when hours are present (so the timezone matters)."""
        return self.kind == TIME or len(self.parts) > 3

    def precision_digits(self) -> int:
        """The ``precision()`` of the value: digits in its canonical form."""
        digits = (_TIME_DIGITS if self.kind == TIME else _DATE_DIGITS)[len(self.parts)]
        return digits + 3 if self.ms is not None else digits


def _tz_minutes(text: str | None) -> int | None:
    if not text:
        return None
    if text == "Z":
        return 0
    sign = -1 if text[0] == "-" else 1
    return sign * (int(text[1:3]) * 60 + int(text[4:6]))


def _ms(fraction: str | None) -> int | None:
    return None if fraction is None else int((fraction + "00")[:3])


def parse_date_time(text: str, kind: str | None = None) -> Temporal | None:
    """Parse a FHIR/FHIRPath date or dateTime (without ``@``); None when it is not one.

    ``kind`` forces the kind (``date`` rejects a time part); by default a ``T`` makes a dateTime.
    """
    match = _DATE_RE.fullmatch(text)
    if match is None:
        return None
    groups = match.groups()
    parts = tuple(int(g) for g in groups[:6] if g is not None)
    if len(parts) < sum(g is not None for g in groups[:6]):
        return None
    found_kind = DATETIME if ("T" in text) else DATE
    if kind == DATE and found_kind == DATETIME:
        return None
    value = Temporal(kind or found_kind, parts, _ms(groups[6]), _tz_minutes(groups[7]))
    return value if _valid(value) else None


def parse_time(text: str) -> Temporal | None:
    """Parse a time (``hh[:mm[:ss[.fff]]]``, no timezone); None when it is not one."""
    match = _TIME_RE.fullmatch(text)
    if match is None:
        return None
    hour, minute, second, fraction = match.groups()
    parts = tuple(int(g) for g in (hour, minute, second) if g is not None)
    value = Temporal(TIME, parts, _ms(fraction))
    return value if _valid(value) else None


def _valid(value: Temporal) -> bool:
    parts = value.parts
    if value.kind == TIME:
        limits = (23, 59, 59)
        return all(p <= limit for p, limit in zip(parts, limits))
    if len(parts) > 1 and not 1 <= parts[1] <= 12:
        return False
    if len(parts) > 2 and not 1 <= parts[2] <= calendar.monthrange(parts[0], parts[1])[1]:
        return False
    return all(p <= limit for p, limit in zip(parts[3:], (23, 59, 59)))


def format_temporal(value: Temporal) -> str:
    """Render in FHIR/FHIRPath canonical form, without the ``@``."""
    parts = value.parts
    if value.kind == TIME:
        text = ":".join(f"{p:02d}" for p in parts)
    else:
        text = f"{parts[0]:04d}" + "".join(f"-{p:02d}" for p in parts[1:3])
        if len(parts) > 3:
            text += "T" + ":".join(f"{p:02d}" for p in parts[3:])
    if value.ms is not None:
        text += f".{value.ms:03d}"
    if value.tz is not None and value.kind == DATETIME and len(parts) > 3:
        text += _format_tz(value.tz)
    return text


def _format_tz(minutes: int) -> str:
    if minutes == 0:
        return "Z"
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _comparison_key(value: Temporal, to_utc: bool) -> list[int]:
    """Components with seconds and milliseconds merged (they are one precision level)."""
    parts = list(value.parts)
    if to_utc and value.tz and len(parts) > 3:
        full = _to_datetime(value) - dt.timedelta(minutes=value.tz)
        parts = [full.year, full.month, full.day, full.hour, full.minute, full.second][: len(parts)]
    seconds_index = 2 if value.kind == TIME else 5
    if len(parts) > seconds_index:
        parts[seconds_index] = parts[seconds_index] * 1000 + (value.ms or 0)
    return parts


def compare_temporal(left: Temporal, right: Temporal) -> int | None:
    """Return -1/0/1, or None when precision or timezone make the order unknown."""
    if (left.kind == TIME) != (right.kind == TIME):
        raise FhirPathEvaluationError(f"cannot compare {left.kind} with {right.kind}")
    if left.has_time and right.has_time and (left.tz is None) != (right.tz is None):
        return None
    both_zoned = left.tz is not None and right.tz is not None
    left_key = _comparison_key(left, both_zoned)
    right_key = _comparison_key(right, both_zoned)
    for a, b in zip(left_key, right_key):
        if a != b:
            return -1 if a < b else 1
    return 0 if len(left_key) == len(right_key) else None


def _to_datetime(value: Temporal) -> dt.datetime:
    parts = list(value.parts) + [1, 1, 0, 0, 0][len(value.parts) - 1 :]
    year, month, day, hour, minute, second = parts[:6]
    return dt.datetime(year, month, day, hour, minute, second, (value.ms or 0) * 1000)


def _from_datetime(full: dt.datetime, template: Temporal) -> Temporal:
    values: tuple[int, ...] = (full.year, full.month, full.day, full.hour, full.minute, full.second)
    if template.kind == TIME:
        values = values[3:]
    ms = full.microsecond // 1000 if template.ms is not None else None
    return Temporal(template.kind, values[: len(template.parts)], ms, template.tz)


_DURATION_UNITS = {
    "year": "year",
    "years": "year",
    "month": "month",
    "months": "month",
    "week": "week",
    "weeks": "week",
    "wk": "week",
    "day": "day",
    "days": "day",
    "d": "day",
    "hour": "hour",
    "hours": "hour",
    "h": "hour",
    "minute": "minute",
    "minutes": "minute",
    "min": "minute",
    "second": "second",
    "seconds": "second",
    "s": "second",
    "millisecond": "millisecond",
    "milliseconds": "millisecond",
    "ms": "millisecond",
}
_SECONDS = {"week": 604800, "day": 86400, "hour": 3600, "minute": 60, "second": 1}
_PRECISION_UNIT = ("year", "month", "day", "hour", "minute", "second")


def add_duration(value: Temporal, amount: Decimal, unit: str) -> Temporal:
    """``value + amount unit`` (use a negative amount to subtract).

    Calendar units (year, month) move the calendar; UCUM ``a`` and ``mo`` are not calendar
    durations and are rejected, as the specification requires. Amounts are truncated to whole
    units, and durations finer than the value's precision are truncated to that precision.
    """
    canonical = _DURATION_UNITS.get(unit)
    if canonical is None:
        raise FhirPathEvaluationError(f"cannot add '{unit}' to a {value.kind}")
    if value.kind == TIME and canonical in ("year", "month", "week", "day"):
        raise FhirPathEvaluationError(f"cannot add '{unit}' to a time")
    whole = int(amount)
    if canonical in ("year", "month"):
        return _add_months(value, whole * 12 if canonical == "year" else whole)
    if canonical == "millisecond":
        delta = dt.timedelta(milliseconds=whole)
    else:
        seconds = whole * _SECONDS[canonical]
        finest = _finest_unit(value)
        if finest in _SECONDS:
            seconds = int(seconds / _SECONDS[finest]) * _SECONDS[finest]
        delta = dt.timedelta(seconds=seconds)
    return _from_datetime(_anchor(value) + delta, value)


def _finest_unit(value: Temporal) -> str:
    offset = 3 if value.kind == TIME else 0
    return _PRECISION_UNIT[offset + len(value.parts) - 1]


def _anchor(value: Temporal) -> dt.datetime:
    if value.kind == TIME:
        hour, minute, second = list(value.parts) + [0] * (3 - len(value.parts))
        return dt.datetime(2000, 1, 1, hour, minute, second, (value.ms or 0) * 1000)
    return _to_datetime(value)


def _add_months(value: Temporal, months: int) -> Temporal:
    parts = list(value.parts)
    if len(parts) == 1:
        parts[0] += int(months / 12)
        return Temporal(value.kind, tuple(parts), value.ms, value.tz)
    year, month = divmod(parts[1] - 1 + months, 12)
    parts[0], parts[1] = parts[0] + year, month + 1
    if len(parts) > 2:
        parts[2] = min(parts[2], calendar.monthrange(parts[0], parts[1])[1])
    return Temporal(value.kind, tuple(parts), value.ms, value.tz)


_DATE_LEVELS = {4: 1, 6: 2, 8: 3, 10: 4, 12: 5, 14: 6, 17: 7}
_TIME_LEVELS = {2: 1, 4: 2, 6: 3, 9: 4}


def boundary(value: Temporal, digits: int | None, high: bool) -> Temporal | None:
    """lowBoundary()/highBoundary(): the earliest/latest value the partial value could be.

    Returns None (empty) for a precision the kind cannot express. A dateTime given to the hour
    only is first read as ``hh:00``, because FHIR has no hour-only times.
    """
    is_time = value.kind == TIME
    if digits is None:
        digits = 9 if is_time else (8 if value.kind == DATE else 17)
    level = (_TIME_LEVELS if is_time else _DATE_LEVELS).get(digits)
    if level is None or (value.kind == DATE and level > 3):
        return None
    parts = list(value.parts)
    if not is_time and len(parts) == 4:
        parts.append(0)
    full_parts = 3 if is_time else 6
    while len(parts) < min(level, full_parts):
        parts.append(_fill(parts, high, is_time))
    ms = None
    if level > full_parts:
        ms = value.ms if value.ms is not None else (999 if high else 0)
    tz = value.tz
    if value.kind == DATETIME and level > 3 and tz is None:
        tz = _HIGH_TZ if high else _LOW_TZ
    return Temporal(value.kind, tuple(parts[:level]), ms, tz)


def _fill(parts: list[int], high: bool, is_time: bool) -> int:
    index = len(parts) + (3 if is_time else 0)
    if not high:
        return (0, 1, 1, 0, 0, 0)[index]
    if index == 2:
        return calendar.monthrange(parts[0], parts[1])[1]
    return (0, 12, 0, 23, 59, 59)[index]
