"""The bundles the search suite loads: the SMART Synthea patients (read from the shared
conformance folder, never copied) and a few hand-made edge cases in fixtures/."""

from __future__ import annotations

from pathlib import Path

from tests.conformance import CONFORMANCE

SYNTHEA = CONFORMANCE / "synthea/smart-synthea-v2.4"
EDGE_CASES = Path(__file__).parent / "fixtures/edge_cases.json"


def bundle_paths() -> list[Path]:
    """In loading order; every one is a transaction Bundle with `urn:uuid:` fullUrls."""
    return [*sorted(SYNTHEA.glob("*.json")), EDGE_CASES]
