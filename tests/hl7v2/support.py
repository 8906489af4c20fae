"""Helpers shared by the HL7 v2 tests."""

from __future__ import annotations

from ember.access import AccessContext
from ember.store.base import HistoryQuery, Store
from tests.conformance import CONFORMANCE

SAMPLES = CONFORMANCE / "hl7v2"


async def versions(store: Store, resource_type: str | None = None) -> int:
    """Resource versions written so far (every write adds one): what 'no partial write' counts."""
    return await store.history_count(AccessContext.system(), HistoryQuery(resource_type=resource_type))
