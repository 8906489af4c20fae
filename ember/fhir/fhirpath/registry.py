"""The function table: each FHIRPath function registers its implementation here.

Eager functions receive their arguments already evaluated (collections); lazy functions
(``where``, ``select``, ``iif``...) receive the compiled argument closures and evaluate them
per item; type functions (``is``, ``as``, ``ofType``) receive a resolved ``TypeMatcher``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

EAGER, LAZY, TYPE = "eager", "lazy", "type"


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """How to call one FHIRPath function."""

    name: str
    implementation: Callable[..., list[Any]]
    min_args: int
    max_args: int
    kind: str


FUNCTIONS: dict[str, FunctionSpec] = {}


def function(
    name: str, min_args: int = 0, max_args: int | None = None, kind: str = EAGER
) -> Callable[[Callable[..., list[Any]]], Callable[..., list[Any]]]:
    """Register ``implementation(focus, ctx, *args)`` as the FHIRPath function ``name``."""

    def register(implementation: Callable[..., list[Any]]) -> Callable[..., list[Any]]:
        maximum = min_args if max_args is None else max_args
        FUNCTIONS[name] = FunctionSpec(name, implementation, min_args, maximum, kind)
        return implementation

    return register
