"""String functions, including the FHIRPath 2.1 encode/decode/escape/split/join family."""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
from functools import lru_cache

from ..context import Context
from ..errors import FhirPathEvaluationError
from ..registry import function
from ..values import plain
from .common import Collection, integer_argument, string_argument, string_input


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    """Compiled once per pattern; FHIRPath regexes run in single-line (DOTALL) mode."""
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error as error:
        raise FhirPathEvaluationError(f"invalid regular expression {pattern!r}") from error


def _string_function(name: str, arity: int = 1):  # type: ignore[no-untyped-def]
    """Register ``name`` for a function of (input string, *string arguments)."""

    def register(implementation):  # type: ignore[no-untyped-def]
        def call(focus: Collection, ctx: Context, *args: Collection) -> Collection:
            text = string_input(focus, name)
            values = [string_argument(arg, name) for arg in args]
            if text is None or any(value is None for value in values):
                return []
            result = implementation(text, *values)
            return [] if result is None else [result]

        function(name, arity, arity)(call)
        return implementation

    return register


@_string_function("startsWith")
def _starts_with(text: str, prefix: str) -> bool:
    return text.startswith(prefix)


@_string_function("endsWith")
def _ends_with(text: str, suffix: str) -> bool:
    return text.endswith(suffix)


@_string_function("contains")
def _contains(text: str, part: str) -> bool:
    return part in text


@_string_function("indexOf")
def _index_of(text: str, part: str) -> int:
    return text.find(part)


@_string_function("matches")
def _matches(text: str, pattern: str) -> bool:
    return _regex(pattern).search(text) is not None


@_string_function("matchesFull")
def _matches_full(text: str, pattern: str) -> bool:
    return _regex(pattern).fullmatch(text) is not None


@_string_function("replaceMatches", 2)
def _replace_matches(text: str, pattern: str, substitution: str) -> str:
    if not pattern:
        return text
    return _regex(pattern).sub(substitution.replace("\\", "\\\\"), text)


@_string_function("replace", 2)
def _replace(text: str, pattern: str, substitution: str) -> str:
    return text.replace(pattern, substitution)


@_string_function("upper", 0)
def _upper(text: str) -> str:
    return text.upper()


@_string_function("lower", 0)
def _lower(text: str) -> str:
    return text.lower()


@_string_function("length", 0)
def _length(text: str) -> int:
    return len(text)


@_string_function("trim", 0)
def _trim(text: str) -> str:
    return text.strip()


@_string_function("encode")
def _encode(text: str, encoding: str) -> str:
    data = text.encode()
    if encoding == "hex":
        return data.hex()
    if encoding == "base64":
        return base64.b64encode(data).decode()
    if encoding == "urlbase64":
        return base64.urlsafe_b64encode(data).decode()
    raise FhirPathEvaluationError(f"unknown encoding {encoding!r}")


@_string_function("decode")
def _decode(text: str, encoding: str) -> str | None:
    try:
        if encoding == "hex":
            return bytes.fromhex(text).decode()
        if encoding == "base64":
            return base64.b64decode(text, validate=True).decode()
        if encoding == "urlbase64":
            return base64.urlsafe_b64decode(text).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    raise FhirPathEvaluationError(f"unknown encoding {encoding!r}")


@_string_function("escape")
def _escape(text: str, target: str) -> str:
    if target == "html":
        return html.escape(text, quote=True).replace("&#x27;", "&#39;")
    if target == "json":
        return json.dumps(text, ensure_ascii=False)[1:-1]
    raise FhirPathEvaluationError(f"unknown escape target {target!r}")


@_string_function("unescape")
def _unescape(text: str, target: str) -> str | None:
    if target == "html":
        return html.unescape(text)
    if target == "json":
        return _JSON_ESCAPE_RE.sub(_json_unescape, text)
    raise FhirPathEvaluationError(f"unknown escape target {target!r}")


_JSON_ESCAPE_RE = re.compile(r'\\(["\\/bfnrt]|u[0-9a-fA-F]{4})')
_JSON_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _json_unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    return chr(int(code[1:], 16)) if code[0] == "u" else _JSON_ESCAPES[code]


@function("substring", 1, 2)
def substring(focus: Collection, ctx: Context, start: Collection, length: Collection | None = None) -> Collection:
    text = string_input(focus, "substring")
    begin = integer_argument(start, "substring")
    if text is None or begin is None or begin < 0 or begin >= len(text):
        return []
    if length is None:
        return [text[begin:]]
    size = integer_argument(length, "substring")
    return [text[begin : begin + max(size, 0)]] if size is not None else [text[begin:]]


@function("toChars")
def to_chars(focus: Collection, ctx: Context) -> Collection:
    text = string_input(focus, "toChars")
    return [] if text is None else list(text)


@function("split", 1)
def split(focus: Collection, ctx: Context, separator: Collection) -> Collection:
    text = string_input(focus, "split")
    sep = string_argument(separator, "split")
    if text is None or sep is None:
        return []
    return text.split(sep) if sep else list(text)


@function("join", 0, 1)
def join(focus: Collection, ctx: Context, separator: Collection | None = None) -> Collection:
    sep = string_argument(separator, "join") if separator is not None else ""
    values = [plain(item) for item in focus]
    if any(not isinstance(value, str) for value in values):
        raise FhirPathEvaluationError("join() expects strings")
    return [(sep or "").join(values)]
