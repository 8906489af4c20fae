"""The reindex job: recompute the search index of every resource of some types.

Run after adding a custom SearchParameter (or after an upgrade that changed indexing). It walks
each type in id order in batches, each batch in its own transaction, and saves its position
after every batch, so a restarted or crashed worker resumes where the last batch ended.
"""

from __future__ import annotations

from typing import Any

from ember.access import AccessContext
from ember.fhir import jsonio
from ember.fhir.search_index import index_rows
from ember.interactions import custom_parameters
from ember.store.base import Job, ReindexEntry, Store
from ember.store.search_query import SearchQuery, SortKey

KIND = "reindex"
BATCH = 200


async def run(job: Job, store: Store) -> dict[str, Any]:
    types: list[str] = list(job.payload["types"])
    progress: dict[str, Any] = dict(job.progress or {"type_index": 0, "after": None, "reindexed": 0})
    ctx = AccessContext.system("reindex")
    await custom_parameters.reload(store)
    while progress["type_index"] < len(types):
        resource_type = types[progress["type_index"]]
        after = tuple(progress["after"]) if progress["after"] else None
        query = SearchQuery((resource_type,), sort=(SortKey("_id", None),), count=BATCH, after=after)
        matches, more = await store.search(ctx, query)
        entries = []
        for match in matches:
            resource = jsonio.loads(match.body)
            version = int(resource.get("meta", {}).get("versionId", 0))
            entries.append(ReindexEntry(match.resource_type, match.id, version, index_rows(resource)))
        async with store.transaction() as tx:
            progress["reindexed"] += await tx.reindex(entries)
            if more:
                progress["after"] = list(matches[-1].position)
            else:
                progress["type_index"], progress["after"] = progress["type_index"] + 1, None
            await tx.set_job_progress(job.id, progress)
    return {"reindexed": progress["reindexed"], "types": len(types)}
