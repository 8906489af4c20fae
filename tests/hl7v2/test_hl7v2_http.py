"""POST /hl7v2 and GET /hl7v2/errors on the application."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from ember.auth.tokens import Authorization
from ember.hl7v2.ack import ack_code
from ember.hl7v2.ingest import Ingestor
from ember.hl7v2.mllp import send_messages
from ember.rest.app import create_app
from ember.settings import Settings
from ember.store.base import Store
from tests.backends import Backend
from tests.hl7v2.support import versions

pytestmark = pytest.mark.anyio

MEDIA = "x-application/hl7-v2+er7"
MESSAGE = b"MSH|^~\\&|A|B|||20240101||ADT^A04|H1|P|2.5\rPID|1||42^^^B^MR||Roe^Ann||19600101|F\r"


@pytest.fixture
async def app_client(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(max_body_bytes=4096, auth="off"), store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ember.test") as client:
        yield client


async def test_post_message_returns_its_ack(app_client: httpx.AsyncClient, store: Store) -> None:
    response = await app_client.post("/hl7v2", content=MESSAGE, headers={"content-type": MEDIA})
    assert response.status_code == 200 and response.headers["content-type"].startswith(MEDIA)
    assert ack_code(response.text) == "AA" and "MSA|AA|H1" in response.text
    assert await versions(store, "Patient") == 1


async def test_wrong_media_type_is_415_operation_outcome(app_client: httpx.AsyncClient) -> None:
    response = await app_client.post("/hl7v2", content=MESSAGE, headers={"content-type": "text/plain"})
    assert response.status_code == 415 and response.json()["resourceType"] == "OperationOutcome"


async def test_too_large_and_empty_bodies_are_refused(app_client: httpx.AsyncClient) -> None:
    large = await app_client.post("/hl7v2", content=MESSAGE + b"NTE|1||" + b"x" * 5000, headers={"content-type": MEDIA})
    empty = await app_client.post("/hl7v2", content=b"", headers={"content-type": MEDIA})
    assert (large.status_code, empty.status_code) == (413, 400)
    assert large.json()["resourceType"] == empty.json()["resourceType"] == "OperationOutcome"


async def test_failed_messages_are_listed_as_operation_outcomes(app_client: httpx.AsyncClient) -> None:
    bad = await app_client.post("/hl7v2", content=b"not hl7", headers={"content-type": MEDIA})
    assert ack_code(bad.text) == "AR"
    listing = (await app_client.get("/hl7v2/errors")).json()
    assert listing["resourceType"] == "Bundle" and listing["total"] == 1
    [entry] = listing["entry"]
    issue = entry["resource"]["issue"][0]
    assert issue["details"]["coding"][0]["code"] == "AR" and "not hl7" in issue["diagnostics"]


async def test_server_starts_the_mllp_listener_when_a_port_is_set(backend: Backend, store_location: str) -> None:
    """The app's lifespan opens its own store and runs the listener while it serves."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(Settings(hl7_mllp_port=port), backend.store(store_location))
    async with app.router.lifespan_context(app):
        [ack] = await send_messages("127.0.0.1", port, [MESSAGE.decode()])
        assert ack_code(ack) == "AA"
    with pytest.raises(OSError):
        await send_messages("127.0.0.1", port, [MESSAGE.decode()], timeout=2)


async def test_unexpected_failure_is_a_500_operation_outcome(
    app_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: Ingestor, data: bytes) -> None:
        raise RuntimeError("database gone")

    monkeypatch.setattr(Ingestor, "receive", broken)
    response = await app_client.post("/hl7v2", content=MESSAGE, headers={"content-type": MEDIA})
    assert response.status_code == 500 and response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    ("scopes", "status"),
    [
        (None, 401),
        (("system/Patient.cruds",), 403),  # may not write Observations, Encounters...
        (("patient/*.cruds",), 403),  # a patient-level token is never a feed
        (("system/*.cruds?category=laboratory",), 403),  # nor one restricted by a query
        (("system/*.cruds",), 200),
    ],
)
async def test_with_auth_on_the_feed_needs_a_token_that_may_write_everything_it_maps(
    store: Store, scopes: tuple[str, ...] | None, status: int
) -> None:
    app = create_app(Settings(), store)  # auth is on by default
    auth = app.state.auth
    await auth.start()
    headers = {"content-type": MEDIA}
    if scopes is not None:
        signer, _ = auth.tokens()
        token, _ = signer.access_token(
            Authorization("feed", "feed", scopes), "http://ember.test/fhir", "http://ember.test/fhir"
        )
        headers["authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ember.test") as client:
        posted = await client.post("/hl7v2", content=MESSAGE, headers=headers)
        listed = await client.get("/hl7v2/errors", headers=headers)
    assert (posted.status_code, listed.status_code) == (status, status)
    if status == 200:
        assert ack_code(posted.text) == "AA"
    else:
        assert posted.json()["resourceType"] == "OperationOutcome"
        assert await versions(store) == 0
