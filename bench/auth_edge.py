"""What a bearer token costs a FHIR request at the edge, in process (no HTTP).

Prints, per call: building the trusted AccessContext (auth off, the reference), the bearer
path with a cached token (what every request after the first pays), and a full RS256 signature
verification (what caching saves). Bounded: a few seconds in total.

    python bench/auth_edge.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from joserfc import jwt  # noqa: E402

from ember.auth.edge import bearer_context  # noqa: E402
from ember.auth.keys import ALGORITHM, load_signing_key  # noqa: E402
from ember.auth.tokens import Authorization, TokenSigner, TokenVerifier  # noqa: E402
from ember.rest.app import _trusted_context  # noqa: E402
from ember.store.sqlite import SqliteStore  # noqa: E402

BASE = "http://127.0.0.1:8080/fhir"
CALLS = 20_000


async def per_call(work: Callable[[], Awaitable[object]], calls: int = CALLS) -> float:
    """Microseconds per call (best of 3 rounds)."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(calls):
            await work()
        best = min(best, (time.perf_counter() - start) / calls * 1e6)
    return best


async def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        store = SqliteStore(str(Path(directory) / "bench.db"))
        await store.open()
        try:
            key = await load_signing_key(store, "")
            grant = Authorization("bench", "bench", ("user/*.cruds", "openid"))
            token, _ = TokenSigner(key, 3600).access_token(grant, BASE, BASE)
            verifier = TokenVerifier(key, store, refresh_seconds=2)
            header = f"Bearer {token}"

            async def trusted() -> object:
                return _trusted_context("127.0.0.1")

            async def cached() -> object:
                return await bearer_context(verifier, header, BASE, "127.0.0.1")

            async def full_verify() -> object:
                return jwt.decode(token, key, algorithms=[ALGORITHM])

            reference = await per_call(trusted)
            bearer = await per_call(cached)
            signature = await per_call(full_verify, 500)
        finally:
            await store.close()
    print(f"auth off (trusted context, reference): {reference:8.2f} us/request")
    print(f"bearer token, verified once and cached: {bearer:8.2f} us/request")
    print(f"RS256 verification without the cache:   {signature:8.2f} us/request")


if __name__ == "__main__":
    asyncio.run(main())
