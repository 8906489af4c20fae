"""Split FHIRPath text into tokens."""

from __future__ import annotations

import re
from typing import NamedTuple

from .errors import FhirPathSyntaxError

NUMBER, STRING, DATETIME, TIME, IDENT, DELIMITED, EXTERNAL, SPECIAL, OP, EOF = (
    "number",
    "string",
    "datetime",
    "time",
    "ident",
    "delimited",
    "external",
    "special",
    "op",
    "eof",
)

_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<time>@T\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)
  | (?P<datetime>@\d{4}(?:-\d{2}(?:-\d{2})?)?
        (?:T(?:\d{2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:\d{2})?)?)?)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<delimited>`(?:[^`\\]|\\.)*`)
  | (?P<external>%(?:[A-Za-z_][A-Za-z0-9_]*|`(?:[^`\\]|\\.)*`|'(?:[^'\\]|\\.)*'))
  | (?P<special>\$(?:this|index|total))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>!=|!~|<=|>=|[-+*/&|=~<>()\[\]{},.])
""",
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {"'": "'", '"': '"', "`": "`", "\\": "\\", "/": "/", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)


class Token(NamedTuple):
    """One token: its kind, its (unescaped) text and where it starts."""

    kind: str
    text: str
    position: int


def unescape(body: str) -> str:
    """Resolve the escapes of a string or delimited identifier body."""

    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] == "u" and len(code) == 5:
            return chr(int(code[1:], 16))
        if code in _ESCAPES:
            return _ESCAPES[code]
        raise FhirPathSyntaxError(f"invalid escape sequence \\{code}", match.start())

    return _ESCAPE_RE.sub(replace, body)


def tokenize(text: str) -> list[Token]:
    """Return the tokens of ``text`` followed by an EOF token."""
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN_RE.match(text, position)
        if match is None:
            if text.startswith("/*", position):
                raise FhirPathSyntaxError("unterminated comment", position)
            raise FhirPathSyntaxError(f"unexpected character {text[position]!r}", position)
        kind = match.lastgroup
        value = match.group()
        if kind in (STRING, DELIMITED):
            value = unescape(value[1:-1])
        elif kind == EXTERNAL and value[1] in "`'":
            value = "%" + unescape(value[2:-1])
        if kind != "space":
            tokens.append(Token(kind, value, position))  # type: ignore[arg-type]
        position = match.end()
    tokens.append(Token(EOF, "", len(text)))
    return tokens
