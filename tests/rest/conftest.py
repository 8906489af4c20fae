"""A FHIR client on the in-process app, once per store back end (see tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from ember.rest.app import create_app
from ember.settings import Settings
from ember.store.base import Store

BASE = "http://ember.test/fhir"


@pytest.fixture
async def client(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(max_body_bytes=8 * 1024 * 1024, auth="off"), store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as fhir:
        yield fhir
