"""Terminology tests use the REST suite's in-process FHIR client (one per store back end) and
read official material from the shared conformance folder."""

from __future__ import annotations

import gzip
import json
import tarfile
from functools import cache
from typing import Any

from tests.conformance import CONFORMANCE
from tests.rest.conftest import client

__all__ = ["client", "definitions_resource", "package_resource"]

DEFINITIONS = CONFORMANCE / "fhir-r4-definitions"


@cache
def _bundle(name: str) -> dict[str, Any]:
    with gzip.open(DEFINITIONS / name) as handle:
        return json.load(handle)


def definitions_resource(file: str, url: str) -> dict[str, Any]:
    """A resource of one of the official definition bundles, by canonical url."""
    return next(e["resource"] for e in _bundle(file)["entry"] if e["resource"].get("url") == url)


def package_resource(name: str) -> dict[str, Any]:
    """A resource file of the official hl7.fhir.r4.core package (examples included)."""
    with tarfile.open(DEFINITIONS / "hl7.fhir.r4.core-4.0.1.package.tgz") as package:
        member = package.extractfile(f"package/{name}")
        assert member is not None
        return json.load(member)
