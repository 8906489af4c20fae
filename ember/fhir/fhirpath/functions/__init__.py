"""The FHIRPath function library; importing this package registers every function."""

from . import collections, conversion, fhir, math, strings  # noqa: F401
