"""Compile an expression tree into nested Python closures.

Every closure has the signature ``(focus, ctx) -> list``: ``focus`` is the input collection of
the sub-expression and ``ctx`` the evaluation ``Context``. The tree is walked once, at compile
time; evaluating is then plain function calls with no dispatch on node kinds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import functions  # noqa: F401  (registers the function library)
from .context import Context
from .errors import FhirPathEvaluationError, FhirPathSyntaxError
from .model import Node, fhir_model
from .navigation import MemberStep
from .operators import (
    arithmetic,
    comparison,
    concatenate,
    logic,
    membership,
    negate,
    union,
)
from .registry import EAGER, FUNCTIONS, LAZY
from .syntax import (
    Binary,
    Call,
    Empty,
    Expr,
    Index,
    Literal,
    Member,
    Special,
    TypeOp,
    TypeSpec,
    Unary,
    Variable,
)
from .type_checks import TypeMatcher
from .values import singleton
from .variables import lookup_variable

Compiled = Callable[[list[Any], Context], list[Any]]
_ARITHMETIC_OPS = {"+", "-", "*", "/", "div", "mod"}
_COMPARISON_OPS = {"=", "!=", "~", "!~", "<", "<=", ">", ">="}


def compile_node(node: Expr) -> Compiled:
    """Compile one tree node (recursively)."""
    compiler = _COMPILERS.get(type(node))
    if compiler is None:
        raise FhirPathSyntaxError(f"unsupported expression {node!r}")
    return compiler(node)


def _literal(node: Literal) -> Compiled:
    value = node.value
    return lambda focus, ctx: [value]


def _empty(node: Empty) -> Compiled:
    return lambda focus, ctx: []


def _member(node: Member) -> Compiled:
    step = MemberStep(node.name)
    if node.source is not None:
        source = compile_node(node.source)
        return lambda focus, ctx: step(source(focus, ctx), ctx.root_value)
    if node.name[0].isupper() and _is_type_name(node.name):
        return _type_filter_or_member(node.name, step)
    return lambda focus, ctx: step(focus, ctx.root_value)


def _is_type_name(name: str) -> bool:
    model = fhir_model()
    return name in model.types and "." not in name


def _type_filter_or_member(name: str, step: MemberStep) -> Compiled:
    """``Patient.name``: a leading type name selects the focus items of that type."""
    matcher = TypeMatcher(TypeSpec(None, name))

    def type_filter(focus: list[Any], ctx: Context) -> list[Any]:
        matched = [item for item in focus if matcher.matches(item)]
        if matched or not focus:
            return matched
        model = fhir_model()
        if any(type(item) is Node and model.element(item.type, name) for item in focus):
            return step(focus, ctx.root_value)
        return []

    return type_filter


def _index(node: Index) -> Compiled:
    source, index = compile_node(node.source), compile_node(node.index)

    def indexer(focus: list[Any], ctx: Context) -> list[Any]:
        items = source(focus, ctx)
        position = singleton(index(ctx.this, ctx), "indexer")
        if position is None:
            return []
        if type(position) is not int:
            raise FhirPathEvaluationError("an index must be an integer")
        return [items[position]] if 0 <= position < len(items) else []

    return indexer


def _unary(node: Unary) -> Compiled:
    operand, op = compile_node(node.operand), node.op
    return lambda focus, ctx: negate(operand(focus, ctx), op)


def _binary(node: Binary) -> Compiled:
    left, right, op = compile_node(node.left), compile_node(node.right), node.op
    if op == "|":
        return lambda focus, ctx: union(left(focus, ctx), right(focus, ctx))
    if op in _COMPARISON_OPS:
        return lambda focus, ctx: comparison(op, left(focus, ctx), right(focus, ctx))
    if op in _ARITHMETIC_OPS:
        return lambda focus, ctx: arithmetic(op, left(focus, ctx), right(focus, ctx))
    if op == "&":
        return lambda focus, ctx: concatenate(left(focus, ctx), right(focus, ctx))
    if op in ("in", "contains"):
        return lambda focus, ctx: membership(op, left(focus, ctx), right(focus, ctx))
    return lambda focus, ctx: logic(op, lambda: left(focus, ctx), lambda: right(focus, ctx))


def _type_op(node: TypeOp) -> Compiled:
    """``is`` tests one item; the ``as`` operator filters a collection like ofType().

    R4 search parameters apply ``as`` to collections (``Observation.component.value as
    Quantity``), so the operator filters; the ``as()`` function keeps the singleton rule.
    """
    operand = compile_node(node.operand)
    matcher = TypeMatcher(node.type)
    is_test = node.op == "is"

    def is_operation(focus: list[Any], ctx: Context) -> list[Any]:
        item = singleton(operand(focus, ctx), "operator is")
        return [] if item is None else [matcher.matches(item)]

    def as_operation(focus: list[Any], ctx: Context) -> list[Any]:
        matcher.check_known()
        return [item for item in operand(focus, ctx) if matcher.matches(item, exact=True)]

    return is_operation if is_test else as_operation


def _variable(node: Variable) -> Compiled:
    name = node.name
    return lambda focus, ctx: lookup_variable(name, ctx)


def _special(node: Special) -> Compiled:
    if node.name == "$this":
        return lambda focus, ctx: ctx.this
    if node.name == "$index":
        return lambda focus, ctx: [] if ctx.index is None else [ctx.index]
    return lambda focus, ctx: ctx.total


def type_spec_of(node: Expr) -> TypeSpec:
    """Read a type specifier written as a function argument (``ofType(FHIR.string)``)."""
    if isinstance(node, Member) and node.source is None:
        return TypeSpec(None, node.name)
    if isinstance(node, Member) and isinstance(node.source, Member) and node.source.source is None:
        return TypeSpec(node.source.name, node.name)
    raise FhirPathSyntaxError(f"expected a type name, found {node!r}")


def _call(node: Call) -> Compiled:
    spec = FUNCTIONS.get(node.name)
    if spec is None:
        raise FhirPathSyntaxError(f"unknown function '{node.name}'")
    if not spec.min_args <= len(node.args) <= spec.max_args:
        raise FhirPathSyntaxError(f"wrong number of arguments for {node.name}()")
    source = compile_node(node.source) if node.source is not None else None
    implementation = spec.implementation
    if spec.kind == EAGER:
        args = [compile_node(arg) for arg in node.args]

        def call(focus: list[Any], ctx: Context) -> list[Any]:
            items = source(focus, ctx) if source is not None else focus
            return implementation(items, ctx, *[arg(ctx.this, ctx) for arg in args])
    else:
        if spec.kind == LAZY:
            extra: list[Any] = [compile_lazy_argument(arg) for arg in node.args]
        else:
            extra = [TypeMatcher(type_spec_of(arg)) for arg in node.args]

        def call(focus: list[Any], ctx: Context) -> list[Any]:
            items = source(focus, ctx) if source is not None else focus
            return implementation(items, ctx, *extra)

    return call


def compile_lazy_argument(node: Expr) -> Compiled:
    """Lazy arguments keep their tree reachable (``sort(-x)`` needs to see the minus)."""
    compiled = compile_node(node)
    compiled.node = node  # type: ignore[attr-defined]
    return compiled


_COMPILERS: dict[type, Callable[[Any], Compiled]] = {
    Literal: _literal,
    Empty: _empty,
    Member: _member,
    Index: _index,
    Unary: _unary,
    Binary: _binary,
    TypeOp: _type_op,
    Variable: _variable,
    Special: _special,
    Call: _call,
}
