"""Every message of the shared HL7 v2 conformance set, sent over a real MLLP socket.

Valid messages are acknowledged AA and produce the resources of their message family; the
deliberately bad inputs (nHapi's fuzzing corpus, a uuencoded text that is not a message, and
the v2 XML encoding, which Ember does not read) are acknowledged AR and write nothing.

The samples come from unrelated test suites and reuse control ids (MSH-10) across different
messages, which a real sender never does; this test therefore gives each message its own
control id. Resending identical messages is tested in test_hl7v2_ingest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ember.hl7v2 import dead_letters
from ember.hl7v2.ack import ack_code
from ember.hl7v2.listener import MllpListener
from ember.hl7v2.mapper import map_message
from ember.hl7v2.message import decode, parse_message
from ember.hl7v2.mllp import send_messages, split_messages
from ember.store.base import Store
from tests.hl7v2.support import SAMPLES, versions

pytestmark = pytest.mark.anyio

#: Files that are not readable ER7 messages, and why: each must be answered AR.
REJECTED = {
    "nhapi-parser-testdata/bad-inputs": "nHapi's fuzzing corpus of broken MSH segments",
    "nhapi-parser-testdata/valid/uuencoded_escaped.txt": "uuencoded text, no MSH segment",
    "nhapi-parser-testdata/valid/OMD_O03.xml": "HL7 v2 XML encoding (not supported)",
    "nhapi-parser-testdata/valid/adt_a17.xml": "HL7 v2 XML encoding (not supported)",
}
#: Resource types each message family must produce (at least one version of each).
EXPECTED_TYPES = {
    "ADT": {"Patient"},
    "ORU": {"Patient", "DiagnosticReport"},
    "VXU": {"Patient", "Immunization"},
    "SIU": {"Appointment"},
    "RDE": {"Patient", "MedicationRequest"},
    "ORM": {"Patient"},
    "OML": {"Patient"},
}
#: Families that must also produce at least one of these (an order is a ServiceRequest, a
#: pharmacy order a MedicationRequest).
EXPECTED_ONE_OF = {"ORM": {"ServiceRequest", "MedicationRequest"}, "OML": {"ServiceRequest"}}


def sample_files() -> list[Path]:
    skipped = {".csv", ".md", ".json"}
    return sorted(
        p
        for p in SAMPLES.rglob("*")
        if p.is_file() and "mappings" not in p.parts and "sample-conversions" not in p.parts and p.suffix not in skipped
    )


def is_rejected(path: Path) -> bool:
    relative = path.relative_to(SAMPLES).as_posix()
    return any(relative.startswith(prefix) for prefix in REJECTED)


def with_control_id(message: str, control_id: str) -> str:
    """`message` with MSH-10 replaced, in the message's own field separator."""
    header, _, rest = message.partition("\r")
    fields = header.split(header[3])
    fields[9] = control_id
    return header[3].join(fields) + "\r" + rest


async def stored_resources(store: Store, message: str) -> set[str]:
    """The types of the resources the message maps to, checking that the store holds resources
    of each (exactly what one message wrote is checked in test_hl7v2_ingest.py)."""
    bundle = await map_message(parse_message(message))
    kinds = {entry["resource"]["resourceType"] for entry in bundle["entry"]}
    for kind in kinds:
        assert await versions(store, kind) > 0, kind
    return kinds


def test_the_sample_set_is_complete() -> None:
    files = sample_files()
    assert len(files) >= 140
    assert sum(is_rejected(p) for p in files) == 12


async def test_every_valid_sample_is_accepted_with_its_resources(listener: MllpListener, store: Store) -> None:
    accepted = 0
    for index, path in enumerate(sample_files()):
        if is_rejected(path):
            continue
        messages = split_messages(decode(path.read_bytes()))
        assert messages, path
        for number, message in enumerate(messages):
            message = with_control_id(message, f"T{index}-{number}")
            family = message.split("\r")[0].split(message[3])[8][:3]
            [ack] = await send_messages("127.0.0.1", listener.port, [message])
            assert ack_code(ack) == "AA", f"{path.name}: {ack}"
            written = await stored_resources(store, message)
            assert EXPECTED_TYPES.get(family, {"Patient"}) <= written, f"{path.name} wrote only {written}"
            assert written & EXPECTED_ONE_OF.get(family, written), f"{path.name} wrote only {written}"
            accepted += 1
    assert accepted >= 130
    assert await dead_letters.list_all(store) == []


async def test_every_bad_sample_is_rejected_and_writes_nothing(listener: MllpListener, store: Store) -> None:
    rejected = [p for p in sample_files() if is_rejected(p)]
    acks = await send_messages("127.0.0.1", listener.port, [decode(p.read_bytes()) for p in rejected])
    assert [ack_code(ack) for ack in acks] == ["AR"] * len(rejected)
    assert all("ERR|" in ack for ack in acks)
    assert await versions(store) == 0
    assert len(await dead_letters.list_all(store)) == len(rejected)
