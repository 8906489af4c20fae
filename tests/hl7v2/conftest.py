"""Fixtures of the HL7 v2 bridge tests: an ingestor and a real MLLP listener on each store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ember.hl7v2.ingest import Ingestor
from ember.hl7v2.listener import MllpListener
from ember.store.base import Store


@pytest.fixture
def ingestor(store: Store) -> Ingestor:
    return Ingestor(store)


@pytest.fixture
async def listener(ingestor: Ingestor) -> AsyncIterator[MllpListener]:
    """A listener on a free loopback port."""
    running = MllpListener(ingestor, "127.0.0.1", 0, max_bytes=256 * 1024)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()
