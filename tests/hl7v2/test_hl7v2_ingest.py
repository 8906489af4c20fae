"""Acknowledgement semantics: AA after commit, AE with ERR, AR; idempotency by MSH-10."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from ember import terminology
from ember.access import AccessContext
from ember.hl7v2 import dead_letters
from ember.hl7v2.bridge import ingestor_for
from ember.hl7v2.context import MappingContext
from ember.hl7v2.ingest import PROCESSED, Ingestor
from ember.hl7v2.mapper import SEGMENT_MAPS
from ember.hl7v2.message import Segment
from ember.interactions.bundle_entries import read_bundle
from ember.interactions.transaction import execute_transaction
from ember.settings import Settings
from ember.store.base import HistoryQuery, Store
from tests.hl7v2.support import versions

pytestmark = pytest.mark.anyio

ADT = (
    "MSH|^~\\&|REG|NORTH|EMBER|HUB|20240102030405+0100||ADT^A01^ADT_A01|{id}|P|2.5\r"
    "EVN|A01|20240102030405\r"
    "PID|1||{mrn}^^^NORTH&1.2.3.4&ISO^MR||{family}^Ada^B||19800203|F|||1 Main St^^Springfield^IL^62701^US^H\r"
    "PV1|1|I|WARD1^101^A^NORTH||||1234^Welby^Marcus|||||||||||||V{mrn}^^^NORTH&1.2.3.4&ISO^VN"
    "|||||||||||||||||||||||||20240102030000+0100\r"
)


def adt(control_id: str = "C1", mrn: str = "MRN1", family: str = "Lovelace") -> bytes:
    return ADT.format(id=control_id, mrn=mrn, family=family).encode()


async def test_accepted_message_is_committed_before_the_ack(ingestor: Ingestor, store: Store) -> None:
    outcome = await ingestor.receive(adt())
    assert outcome.code == "AA"
    assert "MSA|AA|C1" in outcome.ack
    assert await versions(store, "Patient") == 1
    assert await versions(store, "Encounter") == 1
    async with store.transaction() as tx:
        assert await tx.get_record(PROCESSED, "REG|NORTH|C1") is not None


async def test_every_resource_of_an_accepted_message_is_stored(ingestor: Ingestor, store: Store) -> None:
    outcome = await ingestor.receive(adt() + b"NK1|1|Doe^Jane|SPO^Spouse^HL70063\rAL1|1|DA|70618^Penicillin^RXNORM\r")
    assert sorted(location.split("/")[0] for location in outcome.written) == [
        "AllergyIntolerance",
        "Encounter",
        "Patient",
        "RelatedPerson",
    ]
    for location in outcome.written:
        kind, resource_id, _, version = location.split("/")
        stored = await store.read(AccessContext.system(), kind, resource_id)
        assert stored is not None and str(stored.version) == version


async def test_patient_created_elsewhere_is_matched_by_identifier(ingestor: Ingestor, store: Store) -> None:
    """A patient loaded through the REST API (any id) is the one an ADT updates: conditional
    update on PID-3 with its assigning authority; one without a system matches only `|value`."""
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {
                    "resourceType": "Patient",
                    "id": "rest-1",
                    "identifier": [{"system": "urn:oid:1.2.3.4", "value": "MRN1"}],
                },
                "request": {"method": "PUT", "url": "Patient/rest-1"},
            },
            {
                "resource": {"resourceType": "Patient", "id": "rest-2", "identifier": [{"value": "MRN9"}]},
                "request": {"method": "PUT", "url": "Patient/rest-2"},
            },
        ],
    }
    await execute_transaction(AccessContext.system(), read_bundle(bundle, "http://x/fhir")[1], store, "minimal")
    outcome = await ingestor.receive(adt("M1", mrn="MRN1"))
    assert "Patient/rest-1/_history/2" in outcome.written
    stored = await store.read(AccessContext.system(), "Patient", "rest-1")
    assert stored is not None and b"Lovelace" in stored.body
    no_system = b"MSH|^~\\&|REG|NORTH|||20240101||ADT^A08|M2|P|2.5\rPID|1||MRN9||Poe^Al\r"
    assert "Patient/rest-2/_history/2" in (await ingestor.receive(no_system)).written
    other_system = b"MSH|^~\\&|REG|NORTH|||20240101||ADT^A08|M3|P|2.5\rPID|1||MRN9^^^ELSEWHERE||Poe^Al\r"
    assert not any(w.startswith("Patient/rest-2") for w in (await ingestor.receive(other_system)).written)


async def test_resent_message_is_acknowledged_again_not_applied_twice(ingestor: Ingestor, store: Store) -> None:
    first = await ingestor.receive(adt())
    written = await versions(store)
    again = await ingestor.receive(adt())
    assert (first.code, again.code) == ("AA", "AA")
    assert again.duplicate and "MSA|AA|C1" in again.ack
    assert await versions(store) == written


async def test_concurrent_copies_of_one_message_apply_once(store: Store) -> None:
    ingestors = [Ingestor(store) for _ in range(4)]
    outcomes = await asyncio.gather(*(each.receive(adt("SAME")) for each in ingestors))
    assert [o.code for o in outcomes] == ["AA"] * 4
    assert sum(not o.duplicate for o in outcomes) == 1
    assert await versions(store, "Patient") == 1


async def test_same_patient_in_a_new_message_is_updated_not_duplicated(ingestor: Ingestor, store: Store) -> None:
    await ingestor.receive(adt("C1", family="Lovelace"))
    await ingestor.receive(adt("C2", family="King"))
    assert await versions(store, "Patient") == 2  # two versions of one patient
    history = await store.history(AccessContext.system(), HistoryQuery(resource_type="Patient"))
    assert len({entry.version.id for entry in history}) == 1


async def test_unmappable_message_gets_ae_with_err_and_writes_nothing(ingestor: Ingestor, store: Store) -> None:
    message = b"MSH|^~\\&|LAB|X|||20240101||ORU^R01|E1|P|2.5.1\rOBR|1|||GLU^Glucose^L\rOBX|1|NM|GLU^Glucose^L||5\r"
    outcome = await ingestor.receive(message)
    assert outcome.code == "AE"
    err = next(s for s in outcome.ack.split("\r") if s.startswith("ERR"))
    assert err.split("|")[2] == "OBR^1^"  # ERR-2 location: the OBR that needs a patient
    assert err.split("|")[3].startswith("100^")  # ERR-3: table 0357 code
    assert "no PID" in err
    assert await versions(store) == 0
    [letter] = await dead_letters.list_all(store)
    assert (letter.ack_code, letter.control_id) == ("AE", "E1")


async def test_message_whose_fhir_is_refused_rolls_back_whole_message(
    ingestor: Ingestor, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A site map (here for a Z-segment) that produces invalid FHIR: the patient and encounter
    of the same message are not written either, and ERR-8 says where FHIR refused it."""

    def map_zpx(segment: Segment, ctx: MappingContext) -> None:
        ctx.add(
            {"resourceType": "Flag", "status": segment.value(1), "code": {"text": "x"}, "subject": ctx.patient}, None
        )

    monkeypatch.setitem(SEGMENT_MAPS, "ZPX", map_zpx)
    outcome = await ingestor.receive(adt("V2") + b"ZPX|not-a-status\r")
    assert outcome.code == "AE"
    assert "Flag.status" in outcome.ack or "resource.status" in outcome.ack
    assert await versions(store) == 0
    assert (await ingestor.receive(adt("V3") + b"ZPX|active\r")).code == "AA"
    assert await versions(store, "Flag") == 1


async def test_unparseable_message_gets_ar(ingestor: Ingestor, store: Store) -> None:
    outcome = await ingestor.receive(b"MSH|^~|broken")
    assert outcome.code == "AR"
    assert "MSA|AR|" in outcome.ack and "ERR|" in outcome.ack
    assert await versions(store) == 0
    assert len(await dead_letters.list_all(store)) == 1


async def test_ack_message_is_not_processed(ingestor: Ingestor, store: Store) -> None:
    outcome = await ingestor.receive(b"MSH|^~\\&|A|B|C|D|20240101||ACK^A01|X9|P|2.5\rMSA|AA|C1\r")
    assert outcome.code == "AE"
    assert "200^" in outcome.ack


async def test_message_without_control_id_is_still_applied_once(ingestor: Ingestor, store: Store) -> None:
    message = b"MSH|^~\\&|HIS|ASE|LIS|Rapela|||ADT^A08||T|2.5\rPID|1||5^^^ASE^MR||Poe^Al\r"
    assert [(await ingestor.receive(message)).code for _ in range(2)] == ["AA", "AA"]
    assert await versions(store, "Patient") == 1


async def test_adt_a40_merge_is_stored_with_links(ingestor: Ingestor, store: Store) -> None:
    await ingestor.receive(adt("B1", mrn="OLD"))
    merge = b"MSH|^~\\&|REG|NORTH|||20240101||ADT^A40|B2|P|2.5\rPID|1||MRN1^^^NORTH&1.2.3.4&ISO^MR||Lovelace^Ada\rMRG|OLD^^^NORTH&1.2.3.4&ISO^MR\r"
    outcome = await ingestor.receive(merge)
    assert outcome.code == "AA"
    prior_id = next(w.split("/")[1] for w in outcome.written if w.endswith("/_history/2"))
    prior = await store.read(AccessContext.system(), "Patient", prior_id)
    assert prior is not None and b'"active":false' in prior.body and b"replaced-by" in prior.body


async def test_concept_map_of_the_settings_translates_local_lab_codes(store: Store) -> None:
    terminology.install()  # as the server does: ConceptMaps are found by canonical url
    concept_map = {
        "resourceType": "ConceptMap",
        "url": "http://example.org/fhir/ConceptMap/lab-to-loinc",
        "status": "active",
        "group": [
            {
                "source": "99LAB",
                "target": "http://loinc.org",
                "element": [
                    {"code": "GLU", "target": [{"code": "2345-7", "display": "Glucose", "equivalence": "equivalent"}]}
                ],
            }
        ],
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": concept_map, "request": {"method": "POST", "url": "ConceptMap"}}],
    }
    await execute_transaction(AccessContext.system(), read_bundle(bundle, "http://x/fhir")[1], store, "minimal")
    ingestor = ingestor_for(store, Settings(hl7_concept_map="http://example.org/fhir/ConceptMap/lab-to-loinc"))
    oru = b"MSH|^~\\&|LAB|X|||20240101||ORU^R01|T1|P|2.5.1\rPID|1||5^^^X^MR\rOBR|1||F1^LAB|PANEL^Panel^99LAB\rOBX|1|NM|GLU^Glucose^99LAB||5.5|mmol/L\r"
    outcome = await ingestor.receive(oru)
    observation_id = next(w.split("/")[1] for w in outcome.written if w.startswith("Observation/"))
    stored = await store.read(AccessContext.system(), "Observation", observation_id)
    assert stored is not None
    codings = orjson.loads(stored.body)["code"]["coding"]
    assert codings == [
        {"system": "99LAB", "code": "GLU", "display": "Glucose"},
        {"system": "http://loinc.org", "code": "2345-7", "display": "Glucose"},
    ]


async def test_concurrent_messages_about_one_new_patient_create_it_once(store: Store) -> None:
    ingestors = [Ingestor(store) for _ in range(4)]
    outcomes = await asyncio.gather(*(each.receive(adt(f"N{i}", mrn="NEW1")) for i, each in enumerate(ingestors)))
    assert [o.code for o in outcomes] == ["AA"] * 4
    patients = {w.split("/")[1] for o in outcomes for w in o.written if w.startswith("Patient/")}
    assert len(patients) == 1
