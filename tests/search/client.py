"""The search suite's client: the loaded data of one back end, searched through the API
(every page) and, the same question, through the oracle."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from ember.rest.app import create_app
from ember.settings import Settings
from ember.store.base import Store
from tests.search.bundles import bundle_paths
from tests.search.oracle import Oracle

BASE = "http://ember.test/fhir"
MAX_PAGES = 200
_PLACEHOLDER = re.compile(r"\{(ref|id|url):(urn:uuid:[0-9a-f-]+)\}")


def fhir_client(store: Store) -> httpx.AsyncClient:
    app = create_app(Settings(max_body_bytes=8 * 1024 * 1024, auth="off"), store)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


@dataclass
class LoadedData:
    """One back end's loaded database, what the server made of each bundle entry, and the
    oracle over the resources as the server stores them."""

    location: str
    identities: dict[str, str]  # fullUrl -> "Type/id"
    oracle: Oracle


async def load(store: Store, location: str, shared: dict[tuple[str, str], list[Any]] | None = None) -> LoadedData:
    identities: dict[str, str] = {}
    async with fhir_client(store) as client:
        for path in bundle_paths():
            bundle = json.loads(path.read_bytes())
            response = await client.post("", json=bundle)
            assert response.status_code == 200, f"{path.name}: {response.text[:300]}"
            for entry, result in zip(bundle["entry"], response.json()["entry"]):
                identities[entry["fullUrl"]] = result["response"]["location"].split("/_history")[0]
        resources = []
        for key in identities.values():
            read = await client.get(key)
            assert read.status_code == 200, key
            resources.append(read.json())
    origins = {key: full_url for full_url, key in identities.items()}
    return LoadedData(location, identities, Oracle(resources, BASE, datetime.now(UTC), origins, shared))


@dataclass
class SearchResult:
    matches: list[str]  # "Type/id" in the order the pages gave them
    includes: set[str]
    bundles: list[dict[str, Any]]


class SearchClient:
    """Searches the loaded data through the API and asks the oracle the same question."""

    def __init__(self, client: httpx.AsyncClient, data: LoadedData) -> None:
        self.client = client
        self.data = data
        self.oracle = data.oracle

    def resolve(self, value: str) -> str:
        """A value with `{ref:urn}`, `{id:urn}` or `{url:urn}` placeholders for a loaded bundle
        entry, as "Type/id", its id or its absolute URL on this server."""

        def replace(found: re.Match[str]) -> str:
            key = self.data.identities[found.group(2)]
            return {"ref": key, "id": key.split("/")[1], "url": f"{BASE}/{key}"}[found.group(1)]

        return _PLACEHOLDER.sub(replace, value)

    def resolved(self, params: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(name, self.resolve(value)) for name, value in params]

    async def search(
        self, path: str, params: list[tuple[str, str]], headers: dict[str, str] | None = None
    ) -> SearchResult:
        """GET `path?params` and every `next` page; each must be a searchset Bundle."""
        response = await self.client.get(path, params=params, headers=headers)
        return await self.follow(response)

    async def follow(self, response: httpx.Response) -> SearchResult:
        result = SearchResult([], set(), [])
        for _ in range(MAX_PAGES):
            assert response.status_code == 200, f"{response.request.url}: {response.status_code} {response.text[:500]}"
            bundle = response.json()
            assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset", bundle
            result.bundles.append(bundle)
            for entry in bundle.get("entry", []):
                key = f"{entry['resource']['resourceType']}/{entry['resource']['id']}"
                mode = entry.get("search", {}).get("mode", "match")
                (result.matches.append if mode == "match" else result.includes.add)(key)
            following = [link["url"] for link in bundle.get("link", []) if link["relation"] == "next"]
            if not following:
                return result
            response = await self.client.get(following[0])
        raise AssertionError(f"more than {MAX_PAGES} pages")
