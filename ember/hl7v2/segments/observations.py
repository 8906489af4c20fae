"""OBX -> Observation (value by OBX-2 type, flags, reference range, UCUM units), NTE -> its note."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from ember.hl7v2.codes import INTERPRETATION, INTERPRETATION_SYSTEM, OBSERVATION_STATUS, UCUM_UNITS
from ember.hl7v2.context import MappingContext
from ember.hl7v2.datatypes import codeable_concept, compact, date_time, decimal, instant
from ember.hl7v2.message import Repetition, Segment, component_value

_UCUM = "http://unitsofmeasure.org"
_TEXT_TYPES = frozenset({"ST", "TX", "FT"})
_RANGE = re.compile(r"\s*(-?[\d.]+)\s*-\s*(-?[\d.]+)\s*")
_COMPARATORS = frozenset({"<", "<=", ">", ">="})


def map_obx(segment: Segment, ctx: MappingContext) -> None:
    """OBX: one result. An OBX without an observation id (OBX-3) is a line of a multi-line text
    report (see `_continue_text`)."""
    patient = ctx.require_patient(segment)
    value_type = segment.value(2)
    if not segment.field(3):
        _continue_text(segment, ctx, value_type)
        return
    code = codeable_concept(segment.field(3)[0])
    ctx.translate_later(code, segment.value(3, 3), segment.value(3, 1))
    observation = compact(
        {
            "resourceType": "Observation",
            "status": OBSERVATION_STATUS.get(segment.value(11), "unknown"),
            "code": code,
            "subject": patient,
            "encounter": ctx.encounter,
            "effectiveDateTime": date_time(segment.value(14), ctx.default_offset)
            or (ctx.report or {}).get("effectiveDateTime"),
            "issued": instant(segment.value(19), ctx.default_offset),
            **observation_value(value_type, segment.field(5), _unit(segment)),
            "interpretation": _interpretation(segment),
            "referenceRange": _reference_range(segment.value(7), _unit(segment)),
            "method": codeable_concept(segment.field(17)[0]) if segment.field(17) else None,
        }
    )
    assert observation is not None
    key = None
    if ctx.report_key is not None:
        key = "|".join((ctx.report_key, segment.value(1), segment.value(3), segment.value(4)))
    reference = ctx.add(observation, key)
    ctx.last_observation = observation
    if ctx.report is not None:
        results = ctx.report.setdefault("result", [])
        if reference not in results:
            results.append(reference)


def map_nte(segment: Segment, ctx: MappingContext) -> None:
    """NTE after an OBX: a note on that observation (other NTEs are not mapped)."""
    text = "\n".join(rep[0][0] for rep in segment.field(3) if rep and rep[0] and rep[0][0])
    if ctx.last_observation is not None and text:
        ctx.last_observation.setdefault("note", []).append({"text": text})


def observation_value(value_type: str, field: list[Repetition], unit: dict[str, Any] | None) -> dict[str, Any]:
    """The value[x] of an OBX-5 by its type; only the first repetition is kept."""
    if not field:
        return {}
    rep = field[0]
    if value_type == "NM":
        number = decimal(component_value(rep))
        return {"valueQuantity": quantity(number, unit)} if number is not None else _string(rep)
    if value_type in ("CE", "CWE", "CNE", "CF"):
        return {"valueCodeableConcept": codeable_concept(rep)}
    if value_type == "SN":
        return _structured_numeric(rep, unit) or _string(rep)
    if value_type in ("DT", "TS", "DTM"):
        moment = date_time(component_value(rep), "+0000")
        return {"valueDateTime": moment} if moment else _string(rep)
    if value_type in _TEXT_TYPES:
        return {"valueString": "\n".join(component_value(r) for r in field if component_value(r))}
    return _string(rep)


def _string(rep: Repetition) -> dict[str, Any]:
    text = "^".join(subs[0] for subs in rep if subs and subs[0])
    return {"valueString": text} if text else {}


def quantity(number: str | None, unit: dict[str, Any] | None, comparator: str | None = None) -> dict[str, Any] | None:
    quantity = compact({"value": _number(number), "comparator": comparator, **(unit or {})})
    return quantity


def _number(text: str | None) -> Decimal | None:
    """A Decimal keeps the precision the sender wrote (`1.50` stays `1.50`)."""
    return None if text is None else Decimal(text)


def _structured_numeric(rep: Repetition, unit: dict[str, Any] | None) -> dict[str, Any] | None:
    """SN: `<^0.10` (comparator), `1^-^5` (range), `1^:^128` (ratio), `^100` (plain number)."""
    comparator, first, separator, second = (component_value(rep, n) for n in (1, 2, 3, 4))
    low, high = decimal(first), decimal(second)
    if separator in ("-", "") and low is not None and high is not None and separator == "-":
        return {"valueRange": {"low": quantity(low, unit), "high": quantity(high, unit)}}
    if separator in (":", "/") and low is not None and high is not None:
        return {"valueRatio": {"numerator": quantity(low, None), "denominator": quantity(high, None)}}
    if low is not None and not separator and comparator in _COMPARATORS | {"", "="}:
        return {"valueQuantity": quantity(low, unit, comparator if comparator in _COMPARATORS else None)}
    return None


def _unit(segment: Segment) -> dict[str, Any] | None:
    """OBX-6 as Quantity unit/system/code: UCUM when declared so or a well-known UCUM unit."""
    code, text, system = segment.value(6, 1), segment.value(6, 2), segment.value(6, 3)
    if not code and not text:
        return None
    if system.upper() == "UCUM" or (not system and code in UCUM_UNITS):
        return compact({"unit": text or code, "system": _UCUM, "code": code})
    return {"unit": text or code}


def _interpretation(segment: Segment) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for rep in segment.field(8):
        flag = component_value(rep)
        if flag in INTERPRETATION:
            found.append({"coding": [{"system": INTERPRETATION_SYSTEM, "code": flag}]})
        elif flag:
            found.append({"text": component_value(rep, 2) or flag})
    return found


def _reference_range(text: str, unit: dict[str, Any] | None) -> list[dict[str, Any]]:
    """OBX-7: `low-high` becomes low/high quantities; anything else (`<0.10`, `negative`) text."""
    if not text:
        return []
    bounds = _RANGE.fullmatch(text)
    if bounds and decimal(bounds.group(1)) and decimal(bounds.group(2)):
        return [{"low": quantity(decimal(bounds.group(1)), unit), "high": quantity(decimal(bounds.group(2)), unit)}]
    return [{"text": text}]


def _continue_text(segment: Segment, ctx: MappingContext, value_type: str) -> None:
    """Text lines without an observation id: the previous text result goes on, or else they are
    the report's narrative (DiagnosticReport.conclusion)."""
    text = segment.value(5)
    previous = ctx.last_observation
    if not text or value_type not in _TEXT_TYPES:
        return
    if previous is not None and "valueString" in previous:
        previous["valueString"] += "\n" + text
    elif ctx.report is not None:
        conclusion = ctx.report.get("conclusion")
        ctx.report["conclusion"] = f"{conclusion}\n{text}" if conclusion else text
