"""Errors raised by the FHIRPath engine.

Callers catch ``FhirPathError`` to handle every failure of an expression; the two subclasses tell
whether the text itself is wrong (fix the expression) or the evaluation failed on this input.
"""

from __future__ import annotations


class FhirPathError(Exception):
    """Base class of every error raised by the FHIRPath engine."""


class FhirPathSyntaxError(FhirPathError):
    """The expression text is not valid FHIRPath (reported at compile time)."""

    def __init__(self, message: str, position: int | None = None) -> None:
        where = f" at offset {position}" if position is not None else ""
        super().__init__(f"{message}{where}")
        self.position = position


class FhirPathEvaluationError(FhirPathError):
    """The expression is valid but cannot be evaluated on this input (e.g. a type mismatch)."""
