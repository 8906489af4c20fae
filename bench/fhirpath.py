"""Benchmark: Ember's compiled FHIRPath vs fhirpathpy on common search-parameter expressions.

The R4 search parameters are split into their per-resource parts (``A.x | B.y``), each part is
reduced to a pattern (``X.subject.where(resolve() is Patient)``) and the 20 patterns used by
the most parameters are timed, each on the Synthea resources of the type that has the most
data. Each engine gets a fixed time budget per expression, so the run stays under a minute.

Run: ``python bench/fhirpath.py [--budget SECONDS]``
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import fhirpathpy
from fhirpathpy.models import models

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._samples import CONFORMANCE  # noqa: E402
from ember.fhir import fhirpath  # noqa: E402
from ember.fhir.search_parameters import split_union  # noqa: E402

SEARCH_PARAMETERS = CONFORMANCE / "fhir-r4-definitions" / "search-parameters.json.gz"
TOP = 20
_LEADING_TYPE = re.compile(r"^\(?([A-Z][A-Za-z]+)\b")


def load_resources() -> dict[str, list[dict[str, Any]]]:
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path in sorted(CONFORMANCE.glob("synthea/*/*.json")):
        for entry in json.loads(path.read_text()).get("entry", []):
            by_type[entry["resource"]["resourceType"]].append(entry["resource"])
    return by_type


def common_expressions(by_type: dict[str, list[Any]]) -> list[tuple[str, str, int]]:
    """(expression, resource type, parameters using the pattern) for the top patterns."""
    with gzip.open(SEARCH_PARAMETERS) as stream:
        bundle = json.load(stream)
    uses: Counter[str] = Counter()
    concrete: dict[str, dict[str, str]] = defaultdict(dict)
    for entry in bundle["entry"]:
        for part in split_union(entry["resource"].get("expression") or ""):
            match = _LEADING_TYPE.match(part)
            if match is None:
                continue
            pattern = part[: match.start(1)] + "X" + part[match.end(1) :]
            uses[pattern] += 1
            concrete[pattern][match.group(1)] = part
    chosen = []
    for pattern, count in uses.most_common():
        present = [t for t in concrete[pattern] if by_type.get(t)]
        if present:
            best = max(present, key=lambda t: len(by_type[t]))
            chosen.append((concrete[pattern][best], best, count))
        if len(chosen) == TOP:
            break
    return chosen


def rate(evaluate: Callable[[Any], Any], resources: list[Any], budget: float) -> float:
    """Evaluations per second within ``budget`` seconds (at least one evaluation)."""
    done, start = 0, time.perf_counter()
    deadline = start + budget
    while True:
        for resource in resources:
            evaluate(resource)
            done += 1
            if time.perf_counter() > deadline:
                return done / (time.perf_counter() - start)


def _call_compiled(compiled: Callable[[Any, dict[str, Any]], Any], resource: Any) -> Any:
    return compiled(resource, {})


def _evaluate_each_time(expression: str, resource: Any) -> Any:
    return fhirpathpy.evaluate(resource, expression, {}, models["r4"])


def _foreign_rate(evaluate: Callable[[Any], Any], resources: list[Any], budget: float) -> float | None:
    """fhirpathpy's rate, or None when it cannot evaluate the expression at all."""
    try:
        evaluate(resources[0])
    # fhirpathpy raises bare Exception for unimplemented functions (e.g. resolve()).
    except Exception:  # noqa: BLE001
        return None
    return rate(evaluate, resources, budget)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=0.5, help="seconds per engine/expr")
    budget = parser.parse_args().budget
    by_type = load_resources()
    rows = []
    for expression, type_name, count in common_expressions(by_type):
        resources = by_type[type_name]
        ours = fhirpath.compile(expression)
        theirs = fhirpathpy.compile(expression, models["r4"])
        ours_rate = rate(ours, resources, budget)
        rows.append(
            (
                expression,
                type_name,
                count,
                ours_rate,
                _foreign_rate(partial(_call_compiled, theirs), resources, budget),
                _foreign_rate(partial(_evaluate_each_time, expression), resources, budget / 2),
            )
        )
    print_table(rows)


Row = tuple[str, str, int, float, "float | None", "float | None"]


def print_table(rows: list[Row]) -> None:
    """ember/s: our compiled expression; compiled/s: fhirpathpy.compile() once, then called;
    evaluate/s: fhirpathpy.evaluate(), which parses on every call; ratio: ember vs compiled."""
    print(
        f"{'expression':<52} {'uses':>4} {'type':>5} {'ember/s':>9} {'compiled/s':>10} {'evaluate/s':>10} {'ratio':>6}"
    )
    ratios = []
    for expression, type_name, count, ours, theirs, parsed in rows:
        shown = expression if len(expression) <= 52 else expression[:49] + "..."
        if theirs is None:
            print(f"{shown:<52} {count:>4} {type_name[:5]:>5} {ours:>9,.0f} {'unsupported':>10} {'-':>10} {'-':>6}")
            continue
        ratio = ours / theirs
        ratios.append(ratio)
        print(
            f"{shown:<52} {count:>4} {type_name[:5]:>5} {ours:>9,.0f} {theirs:>10,.0f} "
            f"{parsed or 0:>10,.0f} {ratio:>5.0f}x"
        )
    geometric = 1.0
    for ratio in ratios:
        geometric *= ratio ** (1 / len(ratios))
    print(f"geometric mean speed-up: {geometric:.0f}x over the {len(ratios)} expressions both engines evaluate")


if __name__ == "__main__":
    main()
