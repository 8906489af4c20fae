"""Checks for FHIR primitive values as they arrive in JSON.

Each checker takes one JSON value and returns None when it is a valid value of its type, or a
`(issue code, message)` pair: "structure" when the JSON type itself is wrong (a number where a
string belongs, a string for a boolean), "value" when the text does not match the type's official
regex. The regexes come from the R4 StructureDefinitions through the model and are compiled with
`re.ASCII`, so `\\s` means ASCII whitespace as in the Java reference implementation: a no-break space
inside a name is text, not a separator.

On top of the official regexes every text value must be non-empty, at most 1 MB, and free of the
control characters and lone surrogates that neither FHIR XML nor PostgreSQL text can carry.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from typing import Any

from ember.fhir import model

Problem = tuple[str, str]
Checker = Callable[[Any], Problem | None]

_MAX_STRING_BYTES = 1024 * 1024
#: A string of fewer characters cannot exceed 1 MB in UTF-8 (4 bytes per character at most).
_SHORT_STRING_CHARS = _MAX_STRING_BYTES // 4
_INT32 = (-(2**31), 2**31 - 1)
#: Text the official string regex accepts minus C0 controls (except tab, CR, LF) and surrogates.
_TEXT = re.compile("[^\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]+")
#: Bounds of the memory of accepted values per type: well under 1 MB per type, however hostile
#: the traffic (once full, new values are simply checked every time).
_REMEMBERED_VALUES = 2048
_REMEMBERED_CHARS = 128
_BASE64 = re.compile("[0-9a-zA-Z+/=]*")
_ASCII_WHITESPACE = re.compile(r"\s+", re.ASCII)
_XHTML_FORBIDDEN = re.compile(r"<\s*(script|iframe|object|embed|form|base|link|meta)\b|javascript:", re.IGNORECASE)
_DATE_TYPES = frozenset({"date", "dateTime", "instant"})
_STRUCTURAL_NAMES = {bool: "boolean", int: "number", float: "number", Decimal: "number", str: "string"}


def json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return _STRUCTURAL_NAMES.get(type(value), type(value).__name__)


def preview(value: Any) -> str:
    """A short quotable form of any JSON value for a message; never the repr of a whole tree,
    which may be huge or too deep to print."""
    return f"'{value[:100]}'" if type(value) is str else f"a JSON {json_kind(value)}"


def wrong_json_type(expected: str, value: Any) -> Problem:
    return "structure", f"Expected a JSON {expected} but found a JSON {json_kind(value)}"


def check_text(value: Any) -> Problem | None:
    """A JSON string usable as FHIR text: the checks every string-based primitive shares."""
    if type(value) is not str:
        return wrong_json_type("string", value)
    if not value:
        return "value", "Empty strings are not valid in FHIR JSON: omit the element instead"
    if not value.isprintable() and _TEXT.fullmatch(value) is None:
        return "value", "The string contains control characters or unpaired surrogates"
    if len(value) > _SHORT_STRING_CHARS and len(value.encode("utf-8", "surrogatepass")) > _MAX_STRING_BYTES:
        return "value", "The string is longer than 1 MB"
    return None


def _check_boolean(value: Any) -> Problem | None:
    return None if type(value) is bool else wrong_json_type("boolean (true or false)", value)


def _integer_checker(type_code: str, low: int, high: int) -> Checker:
    def check(value: Any) -> Problem | None:
        if type(value) is not int:
            return wrong_json_type(f"integer ({type_code})", value)
        if value < low or value > high:
            return "value", f"The value is out of range for {type_code} ({low}..{high})"
        return None

    return check


def _check_decimal(value: Any) -> Problem | None:
    kind = type(value)
    if kind is int:
        return None
    if kind is float:
        return None if math.isfinite(value) else ("value", "A decimal must be a finite number")
    if kind is Decimal:
        return None if value.is_finite() else ("value", "A decimal must be a finite number")
    return wrong_json_type("number (decimal)", value)


def _check_base64(value: Any) -> Problem | None:
    """Attachments may be far larger than the 1 MB of a string; only the alphabet is checked."""
    if type(value) is not str:
        return wrong_json_type("string (base64)", value)
    if not value:
        return "value", "Empty strings are not valid in FHIR JSON: omit the element instead"
    compact = value if _BASE64.fullmatch(value) else _ASCII_WHITESPACE.sub("", value)
    if len(compact) % 4 or _BASE64.fullmatch(compact) is None:
        return "value", "Not valid base64 content"
    return None


def _check_xhtml(value: Any) -> Problem | None:
    """Narrative.div: full XHTML checking is out of scope, but it must at least be one div and
    carry none of the active content the narrative rules forbid (script, iframe, javascript:)."""
    problem = check_text(value)
    if problem is not None:
        return problem
    text = value.strip()
    if not text.startswith("<div") or not text.endswith(">") or text[4:5] not in (" ", ">", "\t", "\n", "\r", "/"):
        return "value", "The narrative must be an XHTML <div> element"
    if _XHTML_FORBIDDEN.search(text) is not None:
        return "value", "The narrative contains active content (script, frames, forms or javascript: links)"
    return None


def _real_calendar_day(text: str) -> bool:
    """The regexes allow 2023-02-31; a day past the 28th is checked against the real calendar."""
    if len(text) < 10 or text[8:10] <= "28":
        return True
    return int(text[8:10]) <= calendar.monthrange(int(text[:4]), int(text[5:7]))[1]


def _regex_checker(type_code: str, pattern: str) -> Checker:
    """A checker by regex, remembering short values it accepted: code systems, status codes and
    profile urls repeat in nearly every resource, and a set hit costs a tenth of the regex."""
    regex = re.compile(pattern, re.ASCII)
    is_date = type_code in _DATE_TYPES
    message = f"Not a valid {type_code}"
    accepted: set[str] = set()

    def check(value: Any) -> Problem | None:
        if type(value) is not str:
            return wrong_json_type("string", value)
        if value in accepted:
            return None
        problem = check_text(value)
        if problem is not None:
            return problem
        if regex.fullmatch(value) is None:
            return "value", f"{message}: '{value[:100]}'"
        if is_date and not _real_calendar_day(value):
            return "value", f"{message}: '{value}' is not a day of the calendar"
        if len(value) <= _REMEMBERED_CHARS and len(accepted) < _REMEMBERED_VALUES:
            accepted.add(value)
        return None

    return check


@cache
def checker(type_code: str) -> Checker:
    """The checker for a primitive type code (`id` for Resource.id, `xhtml` for Narrative.div)."""
    special: dict[str, Checker] = {
        "boolean": _check_boolean,
        "decimal": _check_decimal,
        "integer": _integer_checker("integer", *_INT32),
        "positiveInt": _integer_checker("positiveInt", 1, _INT32[1]),
        "unsignedInt": _integer_checker("unsignedInt", 0, _INT32[1]),
        "base64Binary": _check_base64,
        "xhtml": _check_xhtml,
        "string": check_text,
        "markdown": check_text,
    }
    if type_code in special:
        return special[type_code]
    pattern = model.primitive_regex(type_code)
    return check_text if pattern is None else _regex_checker(type_code, pattern)
