"""The FHIRPath abstract syntax tree and its parser (precedence climbing)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .errors import FhirPathSyntaxError
from .lexer import (
    DATETIME,
    DELIMITED,
    EOF,
    EXTERNAL,
    IDENT,
    NUMBER,
    OP,
    SPECIAL,
    STRING,
    TIME,
    Token,
    tokenize,
)
from .quantity import Quantity
from .temporal import parse_date_time, parse_time
from .ucum import CALENDAR_KEYWORDS


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant: boolean, string, number, date/time or quantity."""

    value: Any


@dataclass(frozen=True, slots=True)
class Empty:
    """The empty collection ``{}``."""


@dataclass(frozen=True, slots=True)
class Member:
    """``source.name`` (``source`` None: an identifier at the start of an expression)."""

    source: Expr | None
    name: str


@dataclass(frozen=True, slots=True)
class Call:
    """``source.name(args)`` (``source`` None: a function called on ``$this``)."""

    source: Expr | None
    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Index:
    """``source[index]``."""

    source: Expr
    index: Expr


@dataclass(frozen=True, slots=True)
class Unary:
    """``+x`` or ``-x``."""

    op: str
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary:
    """``left op right``."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """A type name, optionally qualified (``FHIR.string``, ``System.Integer``)."""

    namespace: str | None
    name: str


@dataclass(frozen=True, slots=True)
class TypeOp:
    """``operand is Type`` or ``operand as Type``."""

    op: str
    operand: Expr
    type: TypeSpec


@dataclass(frozen=True, slots=True)
class Variable:
    """``%name``."""

    name: str


@dataclass(frozen=True, slots=True)
class Special:
    """``$this``, ``$index`` or ``$total``."""

    name: str


Expr = Literal | Empty | Member | Call | Index | Unary | Binary | TypeOp | Variable | Special

_BINARY_PRECEDENCE = {
    "implies": 1,
    "or": 2,
    "xor": 2,
    "and": 3,
    "in": 4,
    "contains": 4,
    "=": 5,
    "~": 5,
    "!=": 5,
    "!~": 5,
    "<": 6,
    ">": 6,
    "<=": 6,
    ">=": 6,
    "|": 7,
    "is": 8,
    "as": 8,
    "+": 9,
    "-": 9,
    "&": 9,
    "*": 10,
    "/": 10,
    "div": 10,
    "mod": 10,
}
_KEYWORD_OPERATORS = {"implies", "or", "xor", "and", "in", "contains", "is", "as", "div", "mod"}


class Parser:
    """Turns a token list into an expression tree; one instance per expression."""

    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.position = 0

    def parse(self) -> Expr:
        """Parse the whole text as one expression."""
        expression = self.expression(0)
        token = self.peek()
        if token.kind != EOF:
            raise FhirPathSyntaxError(f"unexpected {token.text!r}", token.position)
        return expression

    def peek(self) -> Token:
        return self.tokens[self.position]

    def advance(self) -> Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def expect(self, text: str) -> Token:
        token = self.advance()
        if token.text != text or token.kind not in (OP, IDENT):
            found = token.text or "end of expression"
            raise FhirPathSyntaxError(f"expected {text!r}, found {found!r}", token.position)
        return token

    def _binary_operator(self) -> str | None:
        token = self.peek()
        if token.kind == OP and token.text in _BINARY_PRECEDENCE:
            return token.text
        if token.kind == IDENT and token.text in _KEYWORD_OPERATORS:
            return token.text
        return None

    def expression(self, min_precedence: int) -> Expr:
        left = self.unary()
        while True:
            operator = self._binary_operator()
            if operator is None or _BINARY_PRECEDENCE[operator] <= min_precedence:
                return left
            self.advance()
            if operator in ("is", "as"):
                left = TypeOp(operator, left, self.type_specifier())
            else:
                left = Binary(operator, left, self.expression(_BINARY_PRECEDENCE[operator]))

    def unary(self) -> Expr:
        token = self.peek()
        if token.kind == OP and token.text in "+-":
            self.advance()
            return Unary(token.text, self.unary())
        return self.postfix(self.term())

    def postfix(self, expression: Expr) -> Expr:
        while True:
            token = self.peek()
            if token.kind == OP and token.text == ".":
                self.advance()
                expression = self.invocation(expression)
            elif token.kind == OP and token.text == "[":
                self.advance()
                index = self.expression(0)
                self.expect("]")
                expression = Index(expression, index)
            else:
                return expression

    def invocation(self, source: Expr | None) -> Expr:
        token = self.advance()
        if token.kind == SPECIAL and source is None:
            return Special(token.text)
        if token.kind not in (IDENT, DELIMITED):
            raise FhirPathSyntaxError(f"expected a name, found {token.text!r}", token.position)
        following = self.peek()
        if token.kind == IDENT and following.kind == OP and following.text == "(":
            self.advance()
            return Call(source, token.text, self.arguments())
        return Member(source, token.text)

    def arguments(self) -> tuple[Expr, ...]:
        args: list[Expr] = []
        if self.peek().text == ")" and self.peek().kind == OP:
            self.advance()
            return ()
        while True:
            args.append(self.expression(0))
            token = self.advance()
            if token.kind == OP and token.text == ")":
                return tuple(args)
            if not (token.kind == OP and token.text == ","):
                raise FhirPathSyntaxError(f"expected ',' or ')', found {token.text!r}", token.position)

    def type_specifier(self) -> TypeSpec:
        first = self.advance()
        if first.kind not in (IDENT, DELIMITED):
            raise FhirPathSyntaxError("expected a type name", first.position)
        if (
            self.peek().kind == OP
            and self.peek().text == "."
            and self.tokens[self.position + 1].kind in (IDENT, DELIMITED)
        ):
            self.advance()
            return TypeSpec(first.text, self.advance().text)
        return TypeSpec(None, first.text)

    def term(self) -> Expr:
        token = self.peek()
        kind = token.kind
        if kind == NUMBER:
            return self.number()
        if kind in (STRING, DATETIME, TIME, EXTERNAL, SPECIAL):
            self.advance()
            if kind == STRING:
                return Literal(token.text)
            if kind == EXTERNAL:
                return Variable(token.text[1:])
            if kind == SPECIAL:
                return Special(token.text)
            return Literal(_temporal_literal(token))
        if kind == OP and token.text == "(":
            self.advance()
            inner = self.expression(0)
            self.expect(")")
            return inner
        if kind == OP and token.text == "{":
            self.advance()
            self.expect("}")
            return Empty()
        if kind == IDENT and token.text in ("true", "false"):
            self.advance()
            return Literal(token.text == "true")
        if kind in (IDENT, DELIMITED):
            return self.invocation(None)
        found = token.text or "end of expression"
        raise FhirPathSyntaxError(f"unexpected {found!r}", token.position)

    def number(self) -> Expr:
        token = self.advance()
        value: Any = Decimal(token.text) if "." in token.text else int(token.text)
        unit_token = self.peek()
        if unit_token.kind == STRING:
            self.advance()
            return Literal(Quantity(Decimal(value), unit_token.text))
        if unit_token.kind == IDENT and unit_token.text in CALENDAR_KEYWORDS:
            self.advance()
            return Literal(Quantity(Decimal(value), unit_token.text))
        return Literal(value)


def _temporal_literal(token: Token) -> Any:
    text = token.text[1:]
    value = parse_time(text[1:]) if text.startswith("T") else parse_date_time(text)
    if value is None:
        raise FhirPathSyntaxError(f"invalid date/time literal {token.text!r}", token.position)
    return value


def parse(text: str) -> Expr:
    """Parse FHIRPath ``text`` into an expression tree (raises FhirPathSyntaxError)."""
    return Parser(text).parse()
