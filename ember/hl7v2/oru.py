"""FHIR Observation / DiagnosticReport -> ORU^R01 (v2.5.1) for legacy systems that subscribe.

The reverse of the inbound maps, kept to what a results feed needs: PID (identifiers, name,
birth date, sex), OBR (the report or observation code and status) and one OBX per observation
(NM for quantities, CWE for codes, ST for text).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

_SEX = {"male": "M", "female": "F", "other": "O", "unknown": "U"}
_RESULT_STATUS = {"final": "F", "corrected": "C", "amended": "C", "preliminary": "P", "cancelled": "X"}
_REVERSE_SYSTEMS = {"http://loinc.org": "LN", "http://snomed.info/sct": "SCT", "http://unitsofmeasure.org": "UCUM"}
_DELIMITERS = str.maketrans({"|": "\\F\\", "^": "\\S\\", "~": "\\R\\", "&": "\\T\\", "\\": "\\E\\", "\r": "\\.br\\"})


def escape(value: Any) -> str:
    return str(value).translate(_DELIMITERS)


def _coded(concept: dict[str, Any] | None) -> str:
    concept = concept or {}
    coding = (concept.get("coding") or [{}])[0]
    system = _REVERSE_SYSTEMS.get(coding.get("system", ""), coding.get("system", ""))
    parts = [coding.get("code", ""), coding.get("display") or concept.get("text", ""), system]
    return "^".join(escape(part) for part in parts).rstrip("^")


def _dtm(value: str | None) -> str:
    return "".join(ch for ch in (value or "")[:19] if ch.isdigit())


def build_oru(
    patient: dict[str, Any] | None,
    report: dict[str, Any] | None,
    observations: list[dict[str, Any]],
    control_id: str = "",
) -> str:
    """The ORU^R01 message text for `observations` (and their `report`, if any)."""
    now = datetime.now(UTC).strftime("%Y%m%d%H%M%S+0000")
    control_id = control_id or uuid.uuid4().hex[:20]
    segments = [f"MSH|^~\\&|EMBER||||{now}||ORU^R01^ORU_R01|{control_id}|P|2.5.1", _pid(patient or {})]
    head = report or (observations[0] if observations else {})
    status = _RESULT_STATUS.get(head.get("status", ""), "F")
    when = _dtm(head.get("effectiveDateTime"))
    segments.append(f"OBR|1|||{_coded(head.get('code'))}|||{when}" + "|" * 18 + status)
    segments += [_obx(index, observation) for index, observation in enumerate(observations, 1)]
    return "\r".join(segments) + "\r"


def _pid(patient: dict[str, Any]) -> str:
    ids = "~".join(
        f"{escape(i.get('value', ''))}^^^{escape(i.get('system', ''))}" for i in patient.get("identifier", [])
    )
    name = (patient.get("name") or [{}])[0]
    xpn = f"{escape(name.get('family', ''))}^{escape(' '.join(name.get('given', [])))}".rstrip("^")
    birth = _dtm(patient.get("birthDate"))
    return f"PID|1||{ids}||{xpn}||{birth}|{_SEX.get(patient.get('gender', ''), '')}"


def _obx(index: int, observation: dict[str, Any]) -> str:
    value_type, value, units = "ST", "", ""
    if "valueQuantity" in observation:
        quantity = observation["valueQuantity"]
        value_type, value = "NM", escape(quantity.get("value", ""))
        units = escape(quantity.get("code") or quantity.get("unit", ""))
    elif "valueCodeableConcept" in observation:
        value_type, value = "CWE", _coded(observation["valueCodeableConcept"])
    elif "valueString" in observation:
        value = escape(observation["valueString"])
    flags = "~".join(
        escape(c.get("code", "")) for i in observation.get("interpretation", []) for c in i.get("coding", [])[:1]
    )
    status = _RESULT_STATUS.get(observation.get("status", ""), "F")
    when = _dtm(observation.get("effectiveDateTime"))
    code = _coded(observation.get("code"))
    return f"OBX|{index}|{value_type}|{code}||{value}|{units}||{flags}|||{status}|||{when}"
