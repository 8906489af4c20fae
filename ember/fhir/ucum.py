"""UCUM units to canonical base units, so quantity searches compare `1 kg` with `1000 g`.

Covers what clinical data uses (search.html#quantity asks servers to compare in canonical
units): mass, length, volume, time, amount of substance, and quotients of them such as `mg/dL`
or `mmol/L`, each with the metric prefixes. A unit outside this set keeps its own code and
matches only itself.
"""

from __future__ import annotations

import re
from functools import cache

UCUM = "http://unitsofmeasure.org"

_PREFIXES = {
    "": 1.0,
    "k": 1e3,
    "h": 1e2,
    "da": 1e1,
    "d": 1e-1,
    "c": 1e-2,
    "m": 1e-3,
    "u": 1e-6,
    "n": 1e-9,
    "p": 1e-12,
    "f": 1e-15,
}
#: Metric base units (prefixes allowed): unit -> (canonical unit, factor).
_METRIC = {"g": ("g", 1.0), "m": ("m", 1.0), "L": ("L", 1.0), "l": ("L", 1.0), "s": ("s", 1.0), "mol": ("mol", 1.0)}
#: Units that take no prefix.
_PLAIN = {
    "min": ("s", 60.0),
    "h": ("s", 3600.0),
    "d": ("s", 86_400.0),
    "wk": ("s", 604_800.0),
    "mo": ("s", 2_629_800.0),
    "a": ("s", 31_557_600.0),
    "[lb_av]": ("g", 453.59237),
    "[oz_av]": ("g", 28.349523125),
    "[in_i]": ("m", 0.0254),
    "[ft_i]": ("m", 0.3048),
    "[degF]": ("[degF]", 1.0),
    "Cel": ("Cel", 1.0),
    "%": ("%", 1.0),
    "1": ("1", 1.0),
}
_TERM = re.compile(r"^(?P<unit>[^/.]+?)(?P<exponent>\d*)$")


def canonical(code: str, value: float) -> tuple[str, float] | None:
    """(canonical unit, value in it) for a UCUM code, or None if the unit is not known here."""
    factored = _factor(code)
    if factored is None:
        return None
    unit, factor = factored
    return unit, value * factor


@cache
def _factor(code: str) -> tuple[str, float] | None:
    numerator, _, denominator = code.partition("/")
    top = _term(numerator)
    if top is None:
        return None
    if not denominator:
        return top
    bottom = _term(denominator)
    if bottom is None:
        return None
    return f"{top[0]}/{bottom[0]}", top[1] / bottom[1]


def _term(text: str) -> tuple[str, float] | None:
    match = _TERM.match(text)
    if match is None:
        return None
    unit, exponent = match.group("unit"), int(match.group("exponent") or 1)
    base = _PLAIN.get(unit) or _prefixed(unit)
    if base is None:
        return None
    name = base[0] if exponent == 1 else f"{base[0]}{exponent}"
    return name, base[1] ** exponent


def _prefixed(unit: str) -> tuple[str, float] | None:
    for prefix, scale in _PREFIXES.items():
        if unit.startswith(prefix) and unit[len(prefix) :] in _METRIC:
            name, factor = _METRIC[unit[len(prefix) :]]
            return name, scale * factor
    return None
