"""The Store contract: every back end must pass every test here, unchanged.

The tests speak only the protocol of ember.store.base, so a behaviour proven here holds for
SQLite and PostgreSQL alike (see conftest.py for how each test gets an empty store).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from ember.access import AccessContext
from ember.store.base import HistoryQuery, NewVersion, Store, StoredVersion, VersionConflict
from tests.backends import Backend


@dataclass(frozen=True)
class TokenKey:
    param: str
    system: str
    code: str


pytestmark = pytest.mark.anyio

CTX = AccessContext.system()
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """An instant `seconds` after T0, so tests choose the order of lastUpdated values."""
    return T0 + timedelta(seconds=seconds)


def version(
    resource_id: str = "p1",
    number: int = 1,
    *,
    resource_type: str = "Patient",
    expected: int | None = None,
    when: datetime | None = None,
    deleted: bool = False,
    body: bytes | None = None,
    tokens: tuple[TokenKey, ...] = (),
) -> NewVersion:
    """A NewVersion that by default expects the version before it."""
    if body is None:
        body = (
            b""
            if deleted
            else b'{"resourceType":"%s","id":"%s","meta":{"versionId":"%d"}}'
            % (
                resource_type.encode(),
                resource_id.encode(),
                number,
            )
        )
    return NewVersion(
        resource_type=resource_type,
        id=resource_id,
        version=number,
        last_updated=when or at(number),
        deleted=deleted,
        body=body,
        expected_version=number - 1 if expected is None else expected,
        index={"token": [(t.param, t.system, t.code, 0) for t in tokens]},
    )


async def write(store: Store, *versions: NewVersion) -> None:
    async with store.transaction() as tx:
        await tx.write(versions)


async def current(store: Store, resource_type: str, resource_id: str) -> StoredVersion:
    """The current version of a resource the test knows exists."""
    found = await store.read(CTX, resource_type, resource_id)
    assert found is not None, f"{resource_type}/{resource_id} should exist"
    return found


async def history_keys(store: Store, query: HistoryQuery) -> list[tuple[str, str, int]]:
    return [(e.version.resource_type, e.version.id, e.version.version) for e in await store.history(CTX, query)]


# --- reads and writes -------------------------------------------------------------------------


async def test_created_resource_is_returned_by_read_and_vread(store: Store) -> None:
    created = version("p1", 1)
    await write(store, created)
    assert await store.read(CTX, "Patient", "p1") == created.as_stored()
    assert await store.vread(CTX, "Patient", "p1", 1) == created.as_stored()


async def test_read_and_vread_of_unknown_resource_return_none(store: Store) -> None:
    await write(store, version("p1", 1))
    assert await store.read(CTX, "Patient", "nope") is None
    assert await store.read(CTX, "Observation", "p1") is None
    assert await store.vread(CTX, "Patient", "nope", 1) is None
    assert await store.vread(CTX, "Patient", "p1", 2) is None


async def test_update_increments_version_and_keeps_every_version_readable(store: Store) -> None:
    versions = [version("p1", n) for n in (1, 2, 3)]
    for each in versions:
        await write(store, each)
    assert await store.read(CTX, "Patient", "p1") == versions[-1].as_stored()
    for each in versions:
        assert await store.vread(CTX, "Patient", "p1", each.version) == each.as_stored()


async def test_delete_writes_a_marker_version_and_keeps_earlier_versions(store: Store) -> None:
    created = version("p1", 1)
    deletion = version("p1", 2, deleted=True)
    await write(store, created)
    await write(store, deletion)
    current = await store.read(CTX, "Patient", "p1")
    assert current == deletion.as_stored()
    assert current is not None and current.deleted and current.body == b""
    assert await store.vread(CTX, "Patient", "p1", 1) == created.as_stored()


async def test_resource_can_be_recreated_after_deletion(store: Store) -> None:
    await write(store, version("p1", 1))
    await write(store, version("p1", 2, deleted=True))
    recreated = version("p1", 3)
    await write(store, recreated)
    assert await store.read(CTX, "Patient", "p1") == recreated.as_stored()


async def test_last_updated_comes_back_as_the_same_utc_instant(store: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    written = datetime(2024, 3, 1, 14, 0, 0, 123456, tzinfo=plus_two)
    await write(store, version("p1", 1, when=written))
    current = await store.read(CTX, "Patient", "p1")
    assert current is not None
    assert current.last_updated == written
    assert current.last_updated.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "body",
    [
        b'{"resourceType":"Patient","id":"p1","value":1.50,"text":"caf\xc3\xa9 \xe2\x9c\x93"}',
        b'{ "spaced" :\t[1,  2]\n}',
        bytes(range(256)),
        b"",
        b'{"big":"' + b"x" * 1_000_000 + b'"}',
    ],
    ids=["json-precision-utf8", "whitespace", "all-byte-values", "empty", "one-megabyte"],
)
async def test_bodies_round_trip_byte_exactly(store: Store, body: bytes) -> None:
    await write(store, version("p1", 1, body=body))
    current = await store.read(CTX, "Patient", "p1")
    assert current is not None and current.body == body
    entries = await store.history(CTX, HistoryQuery(resource_type="Patient", id="p1"))
    assert entries[0].version.body == body


async def test_ids_of_64_characters_are_stored_and_found(store: Store) -> None:
    long_id = "A-z.0" * 12 + "abcd"
    assert len(long_id) == 64
    created = version(long_id, 1)
    await write(store, created, version(long_id[:-1], 1))
    assert await store.read(CTX, "Patient", long_id) == created.as_stored()
    assert await store.vread(CTX, "Patient", long_id, 1) == created.as_stored()
    assert await history_keys(store, HistoryQuery("Patient", long_id)) == [("Patient", long_id, 1)]


async def test_current_returns_existing_keys_including_deleted_ones(store: Store) -> None:
    alive = version("p1", 1)
    deletion = version("p2", 2, deleted=True)
    await write(store, alive, version("p2", 1))
    await write(store, deletion)
    async with store.transaction() as tx:
        current = await tx.current([("Patient", "p1"), ("Patient", "p2"), ("Patient", "missing")])
    assert current == {("Patient", "p1"): alive.as_stored(), ("Patient", "p2"): deletion.as_stored()}


# --- optimistic concurrency and atomicity -----------------------------------------------------


async def test_stale_expected_version_raises_conflict_and_keeps_current(store: Store) -> None:
    await write(store, version("p1", 1))
    await write(store, version("p1", 2))
    with pytest.raises(VersionConflict) as raised:
        await write(store, version("p1", 2, expected=1, body=b"stale"))
    assert (raised.value.resource_type, raised.value.resource_id) == ("Patient", "p1")
    current = await store.read(CTX, "Patient", "p1")
    assert current is not None and current.version == 2 and current.body != b"stale"


async def test_duplicate_create_raises_conflict(store: Store) -> None:
    await write(store, version("p1", 1))
    with pytest.raises(VersionConflict):
        await write(store, version("p1", 1, expected=0, body=b"second"))
    assert (await current(store, "Patient", "p1")).body != b"second"


async def test_update_of_a_resource_that_does_not_exist_raises_conflict(store: Store) -> None:
    with pytest.raises(VersionConflict):
        await write(store, version("p1", 2, expected=1))
    assert await store.read(CTX, "Patient", "p1") is None


async def test_same_id_under_two_types_are_two_resources(store: Store) -> None:
    await write(store, version("x", 1), version("x", 1, resource_type="Observation"))
    assert (await current(store, "Observation", "x")).resource_type == "Observation"


async def test_versions_of_one_resource_in_one_write_must_form_a_chain(store: Store) -> None:
    await write(store, version("p1", 1), version("p1", 2), version("p1", 3))
    assert (await current(store, "Patient", "p1")).version == 3
    assert await history_keys(store, HistoryQuery("Patient", "p1")) == [
        ("Patient", "p1", 3),
        ("Patient", "p1", 2),
        ("Patient", "p1", 1),
    ]
    with pytest.raises(VersionConflict):
        await write(store, version("p2", 1), version("p2", 2, expected=0))
    assert await store.read(CTX, "Patient", "p2") is None


async def test_write_whose_last_version_conflicts_leaves_nothing(store: Store) -> None:
    await write(store, version("p3", 1))
    await write(store, version("p3", 2))
    batch = [version("p1", 1), version("p2", 1), version("p3", 2, expected=1)]
    with pytest.raises(VersionConflict):
        await write(store, *batch)
    assert await store.read(CTX, "Patient", "p1") is None
    assert await store.read(CTX, "Patient", "p2") is None
    assert await store.history_count(CTX, HistoryQuery()) == 2


async def test_conflict_in_a_later_write_rolls_back_the_earlier_writes_of_the_transaction(
    store: Store,
) -> None:
    await write(store, version("p2", 1))
    with pytest.raises(VersionConflict):
        async with store.transaction() as tx:
            await tx.write([version("p1", 1)])
            await tx.write([version("p2", 1, expected=0)])
    assert await store.read(CTX, "Patient", "p1") is None


async def test_swallowed_conflict_still_rolls_back_the_transaction(store: Store) -> None:
    """A caller that catches VersionConflict inside the block must not commit half its work."""
    await write(store, version("p2", 1))
    with pytest.raises(VersionConflict):
        async with store.transaction() as tx:
            await tx.write([version("p1", 1)])
            try:
                await tx.write([version("p2", 1, expected=0)])
            except VersionConflict:
                pass
    assert await store.read(CTX, "Patient", "p1") is None


async def test_exception_inside_the_block_rolls_back_the_transaction(store: Store) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with store.transaction() as tx:
            await tx.write([version("p1", 1)])
            raise RuntimeError("boom")
    assert await store.read(CTX, "Patient", "p1") is None
    assert await store.history_count(CTX, HistoryQuery()) == 0


async def _outcomes(attempts: list[Coroutine[Any, Any, None]]) -> tuple[int, int]:
    """(successes, conflicts) of concurrently run write attempts; anything else propagates."""
    results = await asyncio.gather(*attempts, return_exceptions=True)
    unexpected = [r for r in results if r is not None and not isinstance(r, VersionConflict)]
    if unexpected:
        raise unexpected[0]
    return results.count(None), sum(isinstance(r, VersionConflict) for r in results)


async def test_50_concurrent_updates_from_one_version_exactly_one_succeeds(store: Store) -> None:
    await write(store, version("p1", 1))
    attempts = [write(store, version("p1", 2, body=b"writer %d" % n)) for n in range(50)]
    assert await _outcomes(attempts) == (1, 49)
    assert (await current(store, "Patient", "p1")).version == 2
    assert await store.history_count(CTX, HistoryQuery("Patient", "p1")) == 2


async def test_50_concurrent_creates_of_one_new_id_exactly_one_succeeds(store: Store) -> None:
    attempts = [write(store, version("p1", 1, body=b"creator %d" % n)) for n in range(50)]
    assert await _outcomes(attempts) == (1, 49)
    assert await store.history_count(CTX, HistoryQuery("Patient", "p1")) == 1


async def test_50_concurrent_read_then_update_units_exactly_one_succeeds(store: Store) -> None:
    await write(store, version("p1", 1))

    async def read_then_update(n: int) -> None:
        async with store.transaction() as tx:
            current = await tx.current([("Patient", "p1")])
            assert current[("Patient", "p1")].version in (1, 2)
            await tx.write([version("p1", 2, expected=1, body=b"writer %d" % n)])

    assert await _outcomes([read_then_update(n) for n in range(50)]) == (1, 49)
    assert await store.history_count(CTX, HistoryQuery("Patient", "p1")) == 2


# --- token index -----------------------------------------------------------------------------

MRN = TokenKey("identifier", "http://hospital.example/mrn", "12345")


async def find(store: Store, code: str, system: str | None = None, resource_type: str = "Patient") -> set[str]:
    async with store.transaction() as tx:
        return set(await tx.find_by_token(resource_type, "identifier", system, code))


async def test_find_by_token_matches_system_and_code_or_code_in_any_system(store: Store) -> None:
    other_system = TokenKey("identifier", "http://other.example", "12345")
    await write(store, version("p1", tokens=(MRN,)), version("p2", tokens=(other_system,)), version("p3"))
    await write(store, version("o1", resource_type="Observation", tokens=(MRN,)))
    assert await find(store, "12345", MRN.system) == {"p1"}
    assert await find(store, "12345") == {"p1", "p2"}
    assert await find(store, "99999") == set()
    assert await find(store, "12345", MRN.system, resource_type="Observation") == {"o1"}


async def test_find_by_token_forgets_tokens_of_replaced_and_deleted_versions(store: Store) -> None:
    await write(store, version("p1", 1, tokens=(MRN,)), version("p2", 1, tokens=(MRN,)))
    renumbered = TokenKey("identifier", MRN.system, "67890")
    await write(store, version("p1", 2, tokens=(renumbered,)), version("p2", 2, deleted=True, tokens=(MRN,)))
    assert await find(store, "12345") == set()
    assert await find(store, "67890", MRN.system) == {"p1"}


async def test_find_by_token_sees_the_writes_of_its_own_transaction(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.write([version("p1", tokens=(MRN,))])
        assert await tx.find_by_token("Patient", "identifier", MRN.system, MRN.code) == ["p1"]


async def test_concurrent_conditional_creates_of_one_identifier_create_exactly_one(store: Store) -> None:
    """Each unit looks the identifier up and creates a resource only when nothing has it."""

    async def create_if_none_exist(n: int) -> None:
        async with store.transaction() as tx:
            if not await tx.find_by_token("Patient", "identifier", MRN.system, MRN.code):
                await tx.write([version(f"candidate{n}", tokens=(MRN,))])

    await asyncio.gather(*(create_if_none_exist(n) for n in range(20)))
    assert len(await find(store, MRN.code, MRN.system)) == 1
    assert await store.history_count(CTX, HistoryQuery("Patient")) == 1


async def test_lookups_answer_from_the_committed_state_outside_any_unit(store: Store) -> None:
    """What a transaction Bundle resolves against before taking the writer: committed resources,
    tokens and records; nothing of a unit still open."""
    from ember.store.search_parse import parse_parameter

    await write(store, version("p1", tokens=(MRN,)), version("p2", deleted=True, tokens=(MRN,)))
    async with store.transaction() as tx:
        await tx.put_record("kind", "key", {"seen": True})
    lookups = store.lookups()
    assert set(await lookups.current([("Patient", "p1"), ("Patient", "p2"), ("Patient", "none")])) == {
        ("Patient", "p1"),
        ("Patient", "p2"),
    }
    assert await lookups.find_by_token("Patient", "identifier", MRN.system, MRN.code) == ["p1"]
    condition = parse_parameter("Patient", "identifier", f"{MRN.system}|{MRN.code}")
    assert condition is not None
    assert await lookups.search_ids(CTX, "Patient", [condition]) == ["p1"]
    assert await lookups.get_record("kind", "key") == {"seen": True}
    assert await lookups.get_record("kind", "other") is None
    async with store.transaction() as tx:
        await tx.write([version("p3", tokens=(MRN,))])
        await tx.put_record("kind", "pending", {})
        assert await lookups.find_by_token("Patient", "identifier", MRN.system, MRN.code) == ["p1"]
        assert await lookups.get_record("kind", "pending") is None
    assert sorted(await lookups.find_by_token("Patient", "identifier", MRN.system, MRN.code)) == ["p1", "p3"]


# --- history ----------------------------------------------------------------------------------


async def _write_mixed_history(store: Store) -> None:
    """Patient a v1 @1, Observation o v1 @2, Patient a v2 @3, Patient b v1 @4, deleted o @5."""
    await write(store, version("a", 1, when=at(1)))
    await write(store, version("o", 1, resource_type="Observation", when=at(2)))
    await write(store, version("a", 2, when=at(3)))
    await write(store, version("b", 1, when=at(4)))
    await write(store, version("o", 2, resource_type="Observation", when=at(5), deleted=True))


async def test_instance_history_lists_its_versions_newest_first(store: Store) -> None:
    await _write_mixed_history(store)
    assert await history_keys(store, HistoryQuery("Patient", "a")) == [("Patient", "a", 2), ("Patient", "a", 1)]
    entries = await store.history(CTX, HistoryQuery("Observation", "o"))
    assert [e.version.deleted for e in entries] == [True, False]


async def test_type_history_lists_only_that_type_newest_first(store: Store) -> None:
    await _write_mixed_history(store)
    assert await history_keys(store, HistoryQuery("Patient")) == [
        ("Patient", "b", 1),
        ("Patient", "a", 2),
        ("Patient", "a", 1),
    ]


async def test_system_history_lists_all_versions_in_write_order_newest_first(store: Store) -> None:
    await _write_mixed_history(store)
    entries = await store.history(CTX, HistoryQuery())
    assert [(e.version.id, e.version.version) for e in entries] == [("o", 2), ("b", 1), ("a", 2), ("o", 1), ("a", 1)]
    seqs = [e.seq for e in entries]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs)


async def test_history_since_keeps_versions_updated_at_or_after_the_instant(store: Store) -> None:
    await _write_mixed_history(store)
    assert await history_keys(store, HistoryQuery(since=at(3))) == [
        ("Observation", "o", 2),
        ("Patient", "b", 1),
        ("Patient", "a", 2),
    ]
    assert await history_keys(store, HistoryQuery("Patient", since=at(3.5))) == [("Patient", "b", 1)]
    assert await history_keys(store, HistoryQuery(since=at(6))) == []


async def test_history_at_lists_the_version_of_each_resource_current_at_the_instant(store: Store) -> None:
    await _write_mixed_history(store)
    assert await history_keys(store, HistoryQuery(at=at(0.5))) == []
    assert await history_keys(store, HistoryQuery(at=at(3))) == [("Patient", "a", 2), ("Observation", "o", 1)]
    assert await history_keys(store, HistoryQuery(at=at(4.5))) == [
        ("Patient", "b", 1),
        ("Patient", "a", 2),
        ("Observation", "o", 1),
    ]
    # A deletion marker current at the instant is listed: the resource was deleted then.
    assert await history_keys(store, HistoryQuery("Observation", at=at(9))) == [("Observation", "o", 2)]
    assert await history_keys(store, HistoryQuery("Patient", "a", at=at(2))) == [("Patient", "a", 1)]


async def test_history_count_limits_the_page(store: Store) -> None:
    await _write_mixed_history(store)
    assert await history_keys(store, HistoryQuery(count=2)) == [("Observation", "o", 2), ("Patient", "b", 1)]


async def test_keyset_pages_stay_stable_while_new_versions_are_written(store: Store) -> None:
    for n in range(10):
        await write(store, version(f"p{n}", 1, when=at(n)))
    expected = [("Patient", f"p{n}", 1) for n in reversed(range(10))]

    pages: list[tuple[str, str, int]] = []
    cursor: int | None = None
    p9_version = 1
    while True:
        entries = await store.history(CTX, HistoryQuery("Patient", before_seq=cursor, count=4))
        if not entries:
            break
        pages += [(e.version.resource_type, e.version.id, e.version.version) for e in entries]
        cursor = entries[-1].seq
        # Writes between pages: a new resource and a new version of one already paged past.
        p9_version += 1
        await write(store, version(f"new{p9_version}", 1, when=at(100 + p9_version)))
        await write(store, version("p9", p9_version, when=at(200 + p9_version)))

    assert pages == expected


async def test_history_count_counts_all_pages_of_the_query(store: Store) -> None:
    await _write_mixed_history(store)
    assert await store.history_count(CTX, HistoryQuery()) == 5
    assert await store.history_count(CTX, HistoryQuery(count=1)) == 5
    first = await store.history(CTX, HistoryQuery(count=2))
    assert await store.history_count(CTX, HistoryQuery(before_seq=first[-1].seq, count=2)) == 5
    assert await store.history_count(CTX, HistoryQuery("Patient")) == 3
    assert await store.history_count(CTX, HistoryQuery("Patient", "a")) == 2
    assert await store.history_count(CTX, HistoryQuery(since=at(3))) == 3
    assert await store.history_count(CTX, HistoryQuery(at=at(4.5))) == 3


# --- lifecycle and migrations -----------------------------------------------------------------


async def test_ping_answers_true_while_open(store: Store) -> None:
    assert await store.ping() is True


async def test_reopening_a_database_keeps_its_data_and_migrates_nothing_twice(backend: Backend) -> None:
    location = await backend.empty_database()
    first = backend.store(location)
    await first.open()
    await write(first, version("p1", 1))
    await first.close()

    for reopened in (2, 3):
        again = backend.store(location)
        await again.open()
        try:
            current = await again.read(CTX, "Patient", "p1")
            assert current is not None and current.version == reopened - 1
            await write(again, version("p1", reopened))
        finally:
            await again.close()


async def test_stores_opening_one_new_database_at_once_all_come_up(backend: Backend) -> None:
    location = await backend.empty_database()
    stores = [backend.store(location) for _ in range(4)]
    await asyncio.gather(*(each.open() for each in stores))
    try:
        await write(stores[0], version("p1", 1))
        for each in stores:
            assert (await current(each, "Patient", "p1")).version == 1
    finally:
        await asyncio.gather(*(each.close() for each in stores))
