"""`ember hl7 listen | send | errors | retry | outbound` as an operator runs them."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ember.cli import app
from ember.hl7v2 import dead_letters
from ember.store.sqlite import SqliteStore
from tests.hl7v2.support import SAMPLES

runner = CliRunner()
GOOD = "MSH|^~\\&|A|B|||20240101||ADT^A04|R1|P|2.5\rPID|1||9^^^B^MR||Roe^Ann||19600101|F\r"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def listening(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """`ember hl7 listen` in its own process on a free port and a fresh SQLite database."""
    port, database = _free_port(), tmp_path / "hl7.db"
    command = [
        sys.executable,
        "-m",
        "ember",
        "hl7",
        "listen",
        "--port",
        str(port),
        "--database",
        f"sqlite:///{database}",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield port, database
    process.terminate()
    process.wait(timeout=10)


def test_send_a_sample_file_then_list_its_errors(listening: tuple[int, Path], tmp_path: Path) -> None:
    port, database = listening
    sample = SAMPLES / "nhapi-parser-testdata" / "valid" / "OML_O21_messages.txt"
    sent = runner.invoke(app, ["hl7", "send", str(sample), "--port", str(port)])
    assert sent.exit_code == 0, sent.output
    assert sent.output.count("AA  ") == len(
        [line for line in sample.read_text().splitlines() if line.startswith("MSH")]
    )
    bad = tmp_path / "bad.hl7"
    bad.write_text("MSH|^~|broken\r")
    refused = runner.invoke(app, ["hl7", "send", str(bad), "--port", str(port)])
    assert refused.exit_code == 1 and "AR  " in refused.output
    listed = runner.invoke(app, ["hl7", "errors", "--database", f"sqlite:///{database}"])
    assert listed.exit_code == 0 and "AR" in listed.output and "five distinct encoding characters" in listed.output


def test_retry_applies_a_dead_letter_and_removes_it(tmp_path: Path) -> None:
    database = tmp_path / "retry.db"

    async def keep() -> str:
        store = SqliteStore(str(database))
        await store.open()
        try:
            return await dead_letters.add(store, GOOD, "AE", "Application internal error", "R1")
        finally:
            await store.close()

    letter = asyncio.run(keep())
    url = f"sqlite:///{database}"
    assert runner.invoke(app, ["hl7", "retry", "nope", "--database", url]).exit_code != 0
    retried = runner.invoke(app, ["hl7", "retry", letter, "--database", url])
    assert retried.exit_code == 0 and retried.output.strip() == "AA"
    assert runner.invoke(app, ["hl7", "errors", "--database", url]).output.strip() == ""


def test_retry_of_a_message_that_fails_again_replaces_its_dead_letter(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'again.db'}"

    async def keep() -> str:
        store = SqliteStore(str(tmp_path / "again.db"))
        await store.open()
        try:
            return await dead_letters.add(store, "MSH|^~|broken", "AR", "unreadable", "")
        finally:
            await store.close()

    letter = asyncio.run(keep())
    retried = runner.invoke(app, ["hl7", "retry", letter, "--database", url])
    assert retried.exit_code == 1 and retried.output.startswith("AR (now dead letter ")
    [line] = runner.invoke(app, ["hl7", "errors", "--database", url]).output.strip().splitlines()
    assert letter not in line and retried.output.split()[-1].rstrip(")") in line


def test_outbound_endpoints_are_added_listed_removed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'out.db'}"
    added = runner.invoke(
        app, ["hl7", "outbound", "add", "lab", "--host", "10.0.0.5", "--port", "2575", "--database", url]
    )
    assert added.exit_code == 0
    assert "lab  10.0.0.5:2575" in runner.invoke(app, ["hl7", "outbound", "list", "--database", url]).output
    assert runner.invoke(app, ["hl7", "outbound", "remove", "lab", "--database", url]).exit_code == 0
    assert runner.invoke(app, ["hl7", "outbound", "list", "--database", url]).output.strip() == ""
    assert runner.invoke(app, ["hl7", "outbound", "remove", "lab", "--database", url]).exit_code != 0
