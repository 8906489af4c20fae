"""A small UCUM unit converter: enough to compare and add common clinical quantities.

A unit is reduced to a factor and a dimension vector over base units (``g``, ``m``, ``s``...),
so ``4 'g' = 4000 'mg'`` and ``7 days = 1 'wk'`` compare equal. Supported: metric prefixes on
metric atoms, common customary units (``[lb_av]``, ``[in_i]``...), products (``.``), quotients
(``/``), integer exponents and annotations (``{beats}``). FHIRPath calendar durations
(``year``, ``month``) live in their own dimension because a calendar month is not ``'mo'``.
Unknown units return None so the caller can fall back to exact unit comparison.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache

Dimensions = tuple[tuple[str, int], ...]

_PREFIXES = {
    "Y": Decimal("1e24"),
    "Z": Decimal("1e21"),
    "E": Decimal("1e18"),
    "P": Decimal("1e15"),
    "T": Decimal("1e12"),
    "G": Decimal("1e9"),
    "M": Decimal("1e6"),
    "k": Decimal("1e3"),
    "h": Decimal("1e2"),
    "da": Decimal("1e1"),
    "d": Decimal("1e-1"),
    "c": Decimal("1e-2"),
    "m": Decimal("1e-3"),
    "u": Decimal("1e-6"),
    "\u00b5": Decimal("1e-6"),
    "n": Decimal("1e-9"),
    "p": Decimal("1e-12"),
    "f": Decimal("1e-15"),
}
# atom: (factor, {base: exponent}, accepts metric prefixes)
_ATOMS: dict[str, tuple[Decimal, dict[str, int], bool]] = {
    "1": (Decimal(1), {}, False),
    "%": (Decimal("0.01"), {}, False),
    "g": (Decimal(1), {"g": 1}, True),
    "m": (Decimal(1), {"m": 1}, True),
    "s": (Decimal(1), {"s": 1}, True),
    "mol": (Decimal(1), {"mol": 1}, True),
    "K": (Decimal(1), {"K": 1}, True),
    "L": (Decimal("0.001"), {"m": 3}, True),
    "l": (Decimal("0.001"), {"m": 3}, True),
    "eq": (Decimal(1), {"eq": 1}, True),
    "U": (Decimal(1), {"U": 1}, True),
    "[iU]": (Decimal(1), {"[iU]": 1}, True),
    "[IU]": (Decimal(1), {"[iU]": 1}, True),
    "Hz": (Decimal(1), {"s": -1}, True),
    "N": (Decimal(1000), {"g": 1, "m": 1, "s": -2}, True),
    "Pa": (Decimal(1000), {"g": 1, "m": -1, "s": -2}, True),
    "J": (Decimal(1000), {"g": 1, "m": 2, "s": -2}, True),
    "W": (Decimal(1000), {"g": 1, "m": 2, "s": -3}, True),
    "cal": (Decimal(4184), {"g": 1, "m": 2, "s": -2}, True),
    "mm[Hg]": (Decimal("133322.387415"), {"g": 1, "m": -1, "s": -2}, False),
    "min": (Decimal(60), {"s": 1}, False),
    "h": (Decimal(3600), {"s": 1}, False),
    "d": (Decimal(86400), {"s": 1}, False),
    "wk": (Decimal(604800), {"s": 1}, False),
    "a": (Decimal(31557600), {"s": 1}, False),
    "mo": (Decimal(2629800), {"s": 1}, False),
    "[lb_av]": (Decimal("453.59237"), {"g": 1}, False),
    "[oz_av]": (Decimal("28.349523125"), {"g": 1}, False),
    "[gr]": (Decimal("0.06479891"), {"g": 1}, False),
    "[in_i]": (Decimal("0.0254"), {"m": 1}, False),
    "[ft_i]": (Decimal("0.3048"), {"m": 1}, False),
    "[yd_i]": (Decimal("0.9144"), {"m": 1}, False),
    "[mi_i]": (Decimal("1609.344"), {"m": 1}, False),
    "[ppm]": (Decimal("1e-6"), {}, False),
}
# FHIRPath calendar duration keywords (unquoted units in FHIRPath literals).
CALENDAR_UNITS = {
    "year": (Decimal(12), {"calendar-month": 1}),
    "month": (Decimal(1), {"calendar-month": 1}),
    "week": (Decimal(604800), {"s": 1}),
    "day": (Decimal(86400), {"s": 1}),
    "hour": (Decimal(3600), {"s": 1}),
    "minute": (Decimal(60), {"s": 1}),
    "second": (Decimal(1), {"s": 1}),
    "millisecond": (Decimal("0.001"), {"s": 1}),
}
CALENDAR_KEYWORDS = frozenset(CALENDAR_UNITS) | frozenset(f"{unit}s" for unit in CALENDAR_UNITS)
_TERM_RE = re.compile(r"([^.\/]+)")
_EXPONENT_RE = re.compile(r"^(.*?[^\d+-])?([+-]?\d+)$")


def _atom(text: str) -> tuple[Decimal, dict[str, int]] | None:
    """Resolve one atom, with an optional metric prefix."""
    text = re.sub(r"\{[^}]*\}", "", text) or "1"
    if text in _ATOMS:
        factor, dims, _ = _ATOMS[text]
        return factor, dims
    for prefix in sorted(_PREFIXES, key=len, reverse=True):
        if text.startswith(prefix) and text[len(prefix) :] in _ATOMS:
            factor, dims, metric = _ATOMS[text[len(prefix) :]]
            if metric:
                return _PREFIXES[prefix] * factor, dims
    return None


def _term(text: str) -> tuple[Decimal, dict[str, int]] | None:
    """Resolve an atom with an optional integer exponent (``m2``, ``s-1``, ``10*3``)."""
    if text.isdigit():
        return Decimal(text), {}
    if "*" in text:
        base, _, power = text.partition("*")
        return (Decimal(base) ** int(power), {}) if base.isdigit() else None
    resolved = _atom(text)
    if resolved is not None:
        return resolved
    match = _EXPONENT_RE.match(text)
    if match is None or not match.group(1):
        return None
    resolved = _atom(match.group(1))
    if resolved is None:
        return None
    exponent = int(match.group(2))
    factor, dims = resolved
    return factor**exponent, {base: power * exponent for base, power in dims.items()}


@lru_cache(maxsize=512)
def analyse(unit: str) -> tuple[Decimal, Dimensions] | None:
    """Return (factor to base units, dimensions) for a UCUM unit or calendar keyword."""
    keyword = unit[:-1] if unit.endswith("s") and unit[:-1] in CALENDAR_UNITS else unit
    if keyword in CALENDAR_UNITS:
        calendar_factor, calendar_dims = CALENDAR_UNITS[keyword]
        return calendar_factor, tuple(sorted(calendar_dims.items()))
    if not unit or "(" in unit:
        return None
    factor = Decimal(1)
    total: dict[str, int] = {}
    for operator, text in _split(unit):
        resolved = _term(text)
        if resolved is None:
            return None
        term_factor, dims = resolved
        sign = -1 if operator == "/" else 1
        factor = factor / term_factor if sign < 0 else factor * term_factor
        for base, exp in dims.items():
            total[base] = total.get(base, 0) + sign * exp
    return factor, tuple(sorted((b, e) for b, e in total.items() if e))


def _split(unit: str) -> list[tuple[str, str]]:
    """Split ``kg.m/s2`` into [('.', 'kg'), ('.', 'm'), ('/', 's2')]."""
    terms, operator, start = [], ".", 0
    if unit.startswith("/"):
        operator, start = "/", 1
    for position in range(start, len(unit) + 1):
        if position == len(unit) or unit[position] in "./":
            terms.append((operator, unit[start:position]))
            if position < len(unit):
                operator, start = unit[position], position + 1
    return terms


def convert_factor(from_unit: str, to_unit: str) -> Decimal | None:
    """Factor f such that ``x from_unit == x*f to_unit``; None when not comparable."""
    if from_unit == to_unit:
        return Decimal(1)
    source, target = analyse(from_unit), analyse(to_unit)
    if source is None or target is None or source[1] != target[1]:
        return None
    return source[0] / target[0]


UCUM = "http://unitsofmeasure.org"


def canonical(code: str, value: float) -> tuple[str, float] | None:
    """`value` `code` in base units, with those units written as one comparable code (`1 kg`
    and `1000 g` both give ('g1', 1000.0)), for quantity search indexes; None for units that
    are not UCUM (FHIRPath's calendar keywords included)."""
    if code in CALENDAR_KEYWORDS:
        return None
    analysed = analyse(code)
    if analysed is None:
        return None
    factor, dimensions = analysed
    unit = ".".join(f"{base}{exponent}" for base, exponent in dimensions) or "1"
    return unit, value * float(factor)
