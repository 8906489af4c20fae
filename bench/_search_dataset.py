"""The search benchmark's data set: a database of Synthea copies, kept between runs if asked.

Loading a million resources takes many minutes, so a database can be kept in a folder
(`--keep DIR`): the SQLite file lives there, a PostgreSQL database gets a name derived from the
folder, and a manifest beside them records what was loaded (resources, the next copy number, the
patients with their unique family names, the ingest time) and the schema it was loaded under.
A later run tops the data set up to the size it asks for, and starts again from empty when the
migrations changed since (search indexes added later would be missing for the old rows).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from bench._loadgen import HttpConnection, build_request, spread_connections
from bench._server import ADMIN_URL, RunningServer, scratch_database
from bench._synthea_copies import BundleTemplate, copy_plan, family_suffix_of
from ember.store.migrations import migration_scripts

KEPT_DATABASE_PREFIX = "ember_search_"
_CREATED = b'"status":"201'
_PATIENT_LOCATION = re.compile(rb'"location":"(?:[^"]*/)?Patient/([A-Za-z0-9.\-]+)/_history/')


@dataclass
class Manifest:
    """What a database holds. `patients` are [id, family] pairs (family unique per patient)."""

    backend: str
    schema: str
    resources: int = 0
    next_copy: int = 0
    patients: list[list[str]] = field(default_factory=list)
    load_bundles: int = 0
    load_failures: int = 0
    load_seconds: float = 0.0
    loaded_at: str = ""

    @property
    def load_rate(self) -> float:
        return self.resources / self.load_seconds if self.load_seconds else 0.0

    def save(self, path: Path | None) -> None:
        if path is not None:
            path.write_text(json.dumps(asdict(self)))

    @classmethod
    def read(cls, path: Path | None, backend: str) -> Manifest | None:
        """The manifest at `path` if it describes a data set of the current schema, else None."""
        if path is None or not path.exists():
            return None
        manifest = cls(**json.loads(path.read_text()))
        return manifest if manifest.backend == backend and manifest.schema == schema_signature(backend) else None


def schema_signature(backend: str) -> str:
    """A digest of the migrations, so data loaded under another schema is never reused."""
    digest = hashlib.sha256()
    for version, script in migration_scripts(backend):
        digest.update(f"{version}\n{script}\n".encode())
    return digest.hexdigest()[:16]


@contextmanager
def dataset_database(backend: str, keep: Path | None, scratch: Path) -> Iterator[tuple[str, Manifest, Path | None]]:
    """(database URL, manifest, manifest path): the kept data set under `keep` if it is still
    valid, else an empty database (kept under `keep`, or a scratch one dropped on exit)."""
    if keep is None:
        with scratch_database(backend, scratch) as url:
            yield url, Manifest(backend, schema_signature(backend)), None
        return
    keep.mkdir(parents=True, exist_ok=True)
    manifest_path = keep / f"manifest-{backend}.json"
    manifest = Manifest.read(manifest_path, backend)
    if manifest is None:
        url = _empty_kept_database(backend, keep)
        manifest = Manifest(backend, schema_signature(backend))
        manifest.save(manifest_path)
    else:
        url = _kept_database_url(backend, keep)
    yield url, manifest, manifest_path


def _kept_database_url(backend: str, keep: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{keep.resolve() / 'search.db'}"
    return f"{ADMIN_URL.rpartition('/')[0]}/{_kept_database_name(keep)}"


def _kept_database_name(keep: Path) -> str:
    return KEPT_DATABASE_PREFIX + hashlib.sha256(str(keep.resolve()).encode()).hexdigest()[:10]


def _empty_kept_database(backend: str, keep: Path) -> str:
    """Remove whatever an earlier run left under `keep` for `backend` and return a fresh URL."""
    if backend == "sqlite":
        for leftover in keep.glob("search.db*"):
            leftover.unlink()
    else:
        name = _kept_database_name(keep)
        asyncio.run(_admin([f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"']))
    return _kept_database_url(backend, keep)


def refresh_statistics(backend: str, url: str) -> None:
    """PostgreSQL: VACUUM (ANALYZE) now, as autovacuum does within a minute or so of a bulk load
    (since PostgreSQL 13 inserts alone trigger a vacuum), so the searches run on the statistics
    and the visibility map a running server has: without the map an index-only scan visits the
    table for every row. Done here because a server may run with autovacuum off (this
    machine's does). SQLite is measured as the server leaves it (its planner statistics are
    fixed rows written by a migration)."""
    if backend == "postgres":
        asyncio.run(_admin(["VACUUM (ANALYZE)"], url))


async def _admin(statements: list[str], url: str = ADMIN_URL) -> None:
    connection = await asyncpg.connect(url, timeout=5)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def load_copies(
    server: RunningServer,
    templates: list[BundleTemplate],
    manifest: Manifest,
    target: int,
    clients: int,
    seconds: float,
    report: Callable[[Manifest], None],
) -> None:
    """POST fresh copies from `clients` connections until the manifest counts `target` resources
    or `seconds` have passed. The manifest is updated after every bundle (an interrupted load
    leaves it true), and `report` is called each time another tenth of the way is done."""
    plan = copy_plan(templates, manifest.next_copy)
    connections = await spread_connections(server.host, server.port, clients, server.workers, server.connection_owner)
    last = time.perf_counter()
    deadline = last + seconds
    step = max(1, (target - manifest.resources) // 10)
    next_report = manifest.resources + step

    async def client(connection: HttpConnection) -> None:
        nonlocal next_report, last
        try:
            while manifest.resources < target and time.perf_counter() < deadline:
                number, template = next(plan)
                manifest.next_copy = max(manifest.next_copy, number + 1)
                request = build_request(server.host, server.port, "POST", "/fhir", template.copy(number))
                status, answer = await connection.send(request)
                # Wall time, added as answers arrive, so an interrupted load still has its rate.
                now = time.perf_counter()
                manifest.load_seconds += now - last
                last = now
                _count_answer(manifest, status, answer, template.patient_family + family_suffix_of(number))
                if manifest.resources >= next_report:
                    next_report += step
                    report(manifest)
        finally:
            await connection.close()

    try:
        await asyncio.gather(*(client(connection) for connection in connections))
    finally:
        manifest.loaded_at = datetime.now(UTC).isoformat(timespec="seconds")


def _count_answer(manifest: Manifest, status: int, answer: bytes, family: str) -> None:
    manifest.load_bundles += 1
    if not 200 <= status < 300:
        manifest.load_failures += 1
        return
    manifest.resources += answer.count(_CREATED)
    patient = _PATIENT_LOCATION.search(answer)
    if patient:
        manifest.patients.append([patient.group(1).decode(), family])
