"""HL7 v2 data types to FHIR data types (the IG's datatype maps: CX, XPN, XAD, XTN, CWE, EI, DTM...).

Each function takes one repetition of a field (a list of components of sub-components) and
returns the FHIR value, or None when nothing usable is there: v2 senders fill fields
sparsely and FHIR refuses empty elements, so an empty result is dropped, never emitted.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from ember.hl7v2.codes import ADDRESS_USE, NAME_USE, TELECOM_EQUIPMENT, TELECOM_USE, coding_system
from ember.hl7v2.message import Repetition, component_value

_DTM = re.compile(r"(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,6})?\s*([+-]\d{4})?$")
_OID = re.compile(r"[0-2](\.(0|[1-9]\d*))+")
_DECIMAL = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?")


def compact(value: dict[str, Any]) -> dict[str, Any] | None:
    """`value` without its empty members; None when nothing is left."""
    kept = {key: item for key, item in value.items() if item not in (None, "", [], {})}
    return kept or None


def present(values: list[Any]) -> list[Any]:
    return [value for value in values if value not in (None, "", [], {})]


def hd_system(namespace: str, universal_id: str, universal_type: str) -> str | None:
    """An HD (assigning authority, facility) as a URI: urn:oid: for ISO OIDs, the namespace
    (percent-encoded, so it is a valid uri) otherwise."""
    if universal_id and (universal_type.upper() == "ISO" or _OID.fullmatch(universal_id)):
        return f"urn:oid:{universal_id}"
    if universal_id and universal_type.upper() in ("URI", "URL"):
        return universal_id.replace(" ", "%20")
    name = namespace or universal_id
    return quote(name, safe=":/.-_~") if name else None


def identifier(rep: Repetition) -> dict[str, Any] | None:
    """CX -> Identifier: value, system and assigner from the assigning authority (CX-4), type
    (CX-5), period (CX-7, CX-8)."""
    value = component_value(rep, 1)
    if not value:
        return None
    system = hd_system(component_value(rep, 4, 1), component_value(rep, 4, 2), component_value(rep, 4, 3))
    type_code = component_value(rep, 5)
    id_type = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": type_code}]}
    start, end = date(component_value(rep, 7)), date(component_value(rep, 8))
    return compact(
        {
            "system": system,
            "value": value,
            "type": id_type if type_code else None,
            "period": compact({"start": start, "end": end}) if not (start and end and end < start) else None,
            "assigner": compact({"display": component_value(rep, 4, 1)}),
        }
    )


def entity_identifier(rep: Repetition) -> dict[str, Any] | None:
    """EI -> Identifier: entity id, system from namespace / universal id."""
    value = component_value(rep, 1)
    if not value:
        return None
    system = hd_system(component_value(rep, 2), component_value(rep, 3), component_value(rep, 4))
    return compact({"system": system, "value": value})


def human_name(rep: Repetition) -> dict[str, Any] | None:
    """XPN -> HumanName (family, given, prefix, suffix, use)."""
    given = present([component_value(rep, 2), component_value(rep, 3)])
    return compact(
        {
            "family": component_value(rep, 1),
            "given": given,
            "prefix": present([component_value(rep, 5)]),
            "suffix": present([component_value(rep, 4), component_value(rep, 6)]),
            "use": NAME_USE.get(component_value(rep, 7)),
        }
    )


def person_display(rep: Repetition, first: int = 2) -> str | None:
    """XCN/XPN as one display text: given names then family name."""
    family = component_value(rep, first - 1) if first > 1 else ""
    parts = present([component_value(rep, first), component_value(rep, first + 1), family])
    return " ".join(parts) or None


def practitioner_reference(rep: Repetition) -> dict[str, Any] | None:
    """XCN -> a logical Reference (identifier + display): the practitioner is not created."""
    identifier_value = component_value(rep, 1)
    display = person_display(rep, 3) if any(component_value(rep, i) for i in (2, 3)) else None
    if display is None and component_value(rep, 2):
        display = component_value(rep, 2)
    ref_identifier = compact({"value": identifier_value})
    return compact({"identifier": ref_identifier, "display": display})


def address(rep: Repetition) -> dict[str, Any] | None:
    """XAD -> Address."""
    return compact(
        {
            "line": present([component_value(rep, 1), component_value(rep, 2)]),
            "city": component_value(rep, 3),
            "state": component_value(rep, 4),
            "postalCode": component_value(rep, 5),
            "country": component_value(rep, 6),
            "use": ADDRESS_USE.get(component_value(rep, 7)),
        }
    )


def contact_point(rep: Repetition) -> dict[str, Any] | None:
    """XTN -> ContactPoint: the v2.3 free text (XTN-1), else the email or the phone parts."""
    equipment = component_value(rep, 3)
    email = component_value(rep, 4)
    number = "".join(present([component_value(rep, 6), component_value(rep, 7)]))
    value = email if email and equipment in ("Internet", "X.400") else (component_value(rep, 1) or number or email)
    if not value:
        return None
    system = "email" if "@" in value and equipment in ("Internet", "X.400", "") else TELECOM_EQUIPMENT.get(equipment)
    return compact({"system": system or "phone", "value": value, "use": TELECOM_USE.get(component_value(rep, 2))})


def coding(code: str, display: str, system_name: str) -> dict[str, Any] | None:
    if not code:
        return None
    return compact({"system": coding_system(system_name), "code": code, "display": display})


def codeable_concept(rep: Repetition) -> dict[str, Any] | None:
    """CE/CWE -> CodeableConcept: the primary and the alternate coding, text from CWE-9 or CWE-2."""
    codings = present(
        [
            coding(component_value(rep, 1), component_value(rep, 2), component_value(rep, 3)),
            coding(component_value(rep, 4), component_value(rep, 5), component_value(rep, 6)),
        ]
    )
    text = component_value(rep, 9) or component_value(rep, 2) or (component_value(rep, 1) if not codings else "")
    return compact({"coding": codings, "text": text})


def date_time(value: str, default_offset: str) -> str | None:
    """DTM/TS -> FHIR dateTime. FHIR requires an offset once a time is given: a v2 time without
    one gets `default_offset` (the sender's, from MSH-7, else UTC)."""
    match = _DTM.match(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    if not _valid_date(year, month, day):
        return None
    text = "-".join(present([year, month, day if month else None]))
    if hour is None or day is None:
        return text
    if int(hour) > 23 or int(minute or 0) > 59 or int(second or 0) > 59:
        return None
    zone = offset or default_offset
    if not _valid_offset(zone):
        return None
    fraction = fraction or ""
    return f"{text}T{hour}:{minute or '00'}:{second or '00'}{fraction}{zone[:3]}:{zone[3:]}"


def instant(value: str, default_offset: str) -> str | None:
    """DTM -> FHIR instant, which needs seconds and an offset: None when the value has no time."""
    text = date_time(value, default_offset)
    return text if text is not None and "T" in text else None


def date(value: str) -> str | None:
    """DT/DTM -> FHIR date (the time, if any, dropped)."""
    text = date_time(value[:8], "+0000")
    return text


def offset_of(value: str) -> str | None:
    """The UTC offset written in a DTM value (`+0215`), if any."""
    match = _DTM.match(value.strip())
    return match.group(8) if match and _valid_offset(match.group(8)) else None


def decimal(value: str) -> str | None:
    """A v2 NM as the text of a FHIR decimal (kept as written), or None."""
    value = value.strip().removeprefix("+")
    if value.startswith("."):
        value = "0" + value
    return value if _DECIMAL.fullmatch(value) else None


def _valid_date(year: str, month: str | None, day: str | None) -> bool:
    if not 1 <= int(year) <= 9999 or (month is not None and not 1 <= int(month) <= 12):
        return False
    if day is None or month is None:
        return day is None
    days = [31, 29 if _leap(int(year)) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][int(month) - 1]
    return 1 <= int(day) <= days


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _valid_offset(offset: str | None) -> bool:
    if not offset:
        return False
    return int(offset[1:3]) <= 14 and int(offset[3:5]) <= 59
