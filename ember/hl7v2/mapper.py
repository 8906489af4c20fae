"""One HL7 v2 message -> one FHIR transaction Bundle, segment by segment.

`SEGMENT_MAPS` is the whole mapping: a segment name and the small function that maps it. A site
extends or replaces a map with one line (`SEGMENT_MAPS["ZPI"] = map_my_zpi`). Segments without a
map (Z-segments, EVN, PD1, SFT, ...) are ignored; the message as received is kept with its
processing record, so nothing is lost.

Codes of results and orders (OBX-3, OBR-4) go through a `CodeTranslator` when one is set, so a
site's terminology service (ConceptMap local lab codes -> LOINC) can add the standard coding.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ember.hl7v2.context import MappingContext, MappingError
from ember.hl7v2.message import Message, Segment
from ember.hl7v2.segments import clinical, observations, orders, patient, pharmacy, scheduling, visit

SegmentMap = Callable[[Segment, MappingContext], None]
#: (FHIR system of the coding as mapped, code) -> an extra Coding for the concept, or None.
CodeTranslator = Callable[[str, str], Awaitable[dict[str, Any] | None]]

SEGMENT_MAPS: dict[str, SegmentMap] = {
    "PID": patient.map_pid,
    "MRG": patient.map_mrg,
    "NK1": patient.map_nk1,
    "PV1": visit.map_pv1,
    "AL1": clinical.map_al1,
    "DG1": clinical.map_dg1,
    "IN1": clinical.map_in1,
    "ORC": orders.map_orc,
    "OBR": orders.map_obr,
    "OBX": observations.map_obx,
    "NTE": observations.map_nte,
    "RXO": pharmacy.map_medication_order,
    "RXE": pharmacy.map_medication_order,
    "RXR": pharmacy.map_rxr,
    "RXA": pharmacy.map_rxa,
    "SCH": scheduling.map_sch,
    "TQ1": scheduling.map_tq1,
    "AIS": scheduling.map_resource,
    "AIG": scheduling.map_resource,
    "AIL": scheduling.map_resource,
    "AIP": scheduling.map_resource,
}


async def map_message(message: Message, translator: CodeTranslator | None = None) -> dict[str, Any]:
    """The transaction Bundle for `message`; MappingError when it cannot be mapped."""
    if message.message_code == "ACK":
        raise MappingError("An acknowledgement is not a message to process", "MSH", 1, 9, code="200")
    ctx = MappingContext(message)
    counts: dict[str, int] = {}
    for segment in message.segments[1:]:
        counts[segment.name] = counts.get(segment.name, 0) + 1
        segment_map = SEGMENT_MAPS.get(segment.name)
        if segment_map is None:
            continue
        try:
            segment_map(segment, ctx)
        except MappingError as failure:
            failure.sequence = failure.sequence or counts[segment.name]
            raise
    bundle = ctx.bundle()
    if not bundle["entry"]:
        kind = f"{message.message_code}^{message.trigger_event}"
        raise MappingError(f"{kind} holds no segment Ember maps to FHIR", "MSH", 1, 9, code="200")
    if translator is not None:
        await _translate(ctx, translator)
    return bundle


async def _translate(ctx: MappingContext, translator: CodeTranslator) -> None:
    for item in ctx.translatable:
        extra = await translator(item.system, item.code)
        if extra is not None and extra not in item.concept.setdefault("coding", []):
            item.concept["coding"].append(extra)
