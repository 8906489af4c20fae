"""kill -9 of the server during a write load: every write that got a 2xx is there after restart.

A real `ember serve` (2 granian workers) runs in its own process group; client threads fire
creates, updates and transactions at it and note every acknowledged version. The whole group,
parent and workers, gets SIGKILL while writes are in flight, so no shutdown code runs. A new
server on the same database must then return each acknowledged resource at that version or a
newer one: a write still in flight at the kill may or may not be there, an acknowledged one must.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench._server import ember_server
from tests.pg import create_test_database, drop_test_database, require_postgres, run_sync

pytestmark = pytest.mark.slow

WRITER_THREADS = 4
#: Load runs at least this long before the kill, and until every kind of write was acknowledged
#: MIN_ACKS_PER_KIND times (or LOAD_DEADLINE passes, which fails the test).
LOAD_SECONDS = 1.5
MIN_ACKS_PER_KIND = 10
LOAD_DEADLINE = 15.0
_LOCATION = re.compile(r"([A-Za-z]+)/([A-Za-z0-9.\-]+)/_history/(\d+)$")

Key = tuple[str, str]


class AcknowledgedWrites:
    """Every (type, id) a 2xx answer confirmed, with the highest version confirmed, per kind."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.versions: dict[Key, int] = {}
        self.per_kind: dict[str, int] = {"create": 0, "update": 0, "transaction": 0}

    def record(self, kind: str, writes: list[tuple[str, str, int]]) -> None:
        """Note one acknowledged request and the (type, id, version) of each write it made."""
        with self._lock:
            self.per_kind[kind] += 1
            for resource_type, resource_id, version in writes:
                key = (resource_type, resource_id)
                self.versions[key] = max(version, self.versions.get(key, 0))

    def enough(self) -> bool:
        with self._lock:
            return min(self.per_kind.values()) >= MIN_ACKS_PER_KIND


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the server and its workers, and wait until none of them is left."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"processes of group {process.pid} survived SIGKILL")


def _transaction(writer: int, n: int) -> dict[str, Any]:
    patient = f"urn:uuid:00000000-0000-4000-8000-{writer:04d}{n:08d}"
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": patient,
                "resource": {"resourceType": "Patient"},
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": f"n{n}"},
                    "subject": {"reference": patient},
                },
                "request": {"method": "POST", "url": "Observation"},
            },
            {
                "resource": {"resourceType": "Patient", "id": f"tx-{writer}-{n % 3}", "active": n % 2 == 0},
                "request": {"method": "PUT", "url": f"Patient/tx-{writer}-{n % 3}"},
            },
        ],
    }


def _write_until_refused(base: str, writer: int, acknowledged: AcknowledgedWrites, stop: threading.Event) -> None:
    """Cycle create / update / transaction until the server goes away (or `stop` is set).
    Only 2xx answers are recorded: anything else was never promised to be stored."""
    with httpx.Client(base_url=base, timeout=5) as client:
        for n in itertools.count():
            if stop.is_set():
                return
            try:
                if n % 3 == 0:
                    kind = "create"
                    response = client.post(
                        "/Patient", json={"resourceType": "Patient", "name": [{"family": f"w{writer}n{n}"}]}
                    )
                elif n % 3 == 1:
                    kind, patient_id = "update", f"up-{writer}-{n % 4}"
                    response = client.put(
                        f"/Patient/{patient_id}", json={"resourceType": "Patient", "id": patient_id, "gender": "other"}
                    )
                else:
                    kind = "transaction"
                    response = client.post("", json=_transaction(writer, n))
            except httpx.TransportError:
                return  # the server was killed: this write was not acknowledged
            if response.is_success:
                acknowledged.record(kind, _writes_in(response.json()))


def _writes_in(answer: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(type, id, version) of the resource a create/update returned, or of each transaction entry."""
    if answer["resourceType"] != "Bundle":
        return [(answer["resourceType"], answer["id"], int(answer["meta"]["versionId"]))]
    writes = []
    for entry in answer["entry"]:
        match = _LOCATION.search(entry["response"]["location"])
        assert match, f"unexpected location in {entry}"
        writes.append((match.group(1), match.group(2), int(match.group(3))))
    return writes


def _missing_after_restart(base: str, acknowledged: AcknowledgedWrites) -> list[str]:
    problems = []
    with httpx.Client(base_url=base, timeout=10) as client:
        for (resource_type, resource_id), version in sorted(acknowledged.versions.items()):
            response = client.get(f"/{resource_type}/{resource_id}")
            if response.status_code != 200:
                problems.append(f"{resource_type}/{resource_id} v{version}: HTTP {response.status_code}")
            elif int(response.json()["meta"]["versionId"]) < version:
                problems.append(
                    f"{resource_type}/{resource_id} v{version}: read back v{response.json()['meta']['versionId']}"
                )
    return problems


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'crash.db'}"
        return
    require_postgres()
    url = run_sync(create_test_database())
    try:
        yield url
    finally:
        run_sync(drop_test_database(url))


def test_every_acknowledged_write_survives_kill_9_of_the_server(database_url: str, tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    acknowledged = AcknowledgedWrites()
    stop = threading.Event()
    with ember_server(database_url, 2, log_path) as server:
        base = f"http://{server.host}:{server.port}/fhir"
        writers = [
            threading.Thread(target=_write_until_refused, args=(base, index, acknowledged, stop), daemon=True)
            for index in range(WRITER_THREADS)
        ]
        for writer in writers:
            writer.start()
        started = time.monotonic()
        while time.monotonic() - started < LOAD_SECONDS or not acknowledged.enough():
            if time.monotonic() - started > LOAD_DEADLINE:
                stop.set()
                pytest.fail(
                    f"too few acknowledged writes before the kill: {acknowledged.per_kind}\n{log_path.read_text()}"
                )
            time.sleep(0.05)
        alive_at_kill = sum(writer.is_alive() for writer in writers)
        _kill_group(server.process)
        for writer in writers:
            writer.join(timeout=10)
        assert alive_at_kill == WRITER_THREADS, "a writer stopped before the kill: the load was not running"

    with ember_server(database_url, 2, tmp_path / "restarted.log") as server:
        missing = _missing_after_restart(f"http://{server.host}:{server.port}/fhir", acknowledged)
    assert not missing, f"{len(missing)} of {len(acknowledged.versions)} acknowledged writes lost:\n" + "\n".join(
        missing[:20]
    )
