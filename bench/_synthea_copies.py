"""Synthea sample bundles multiplied into as many fresh copies as a benchmark needs.

Each transaction bundle is cut once into literal pieces around the places a copy changes, so a
copy is one `bytes.join`: the load generator shares two cores with the server and must not spend
them on JSON. A copy changes:
  - every UUID (fullUrls, the `urn:uuid:` references to them, and the identifier values Synthea
    derives from them): its first 8 hex digits become the copy number, so references stay
    consistent inside the copy and no two copies share an identifier;
  - every `family` name gets the copy number as a 5-digit suffix ("Koepp" -> "Koepp00042"), so a
    name is unique per copy while a prefix of it ("Koepp") still matches every copy: string and
    chained searches then have a selective and a broad form, as on real data.
The server assigns the resource ids (the POST entries have none), so the ids come back in the
transaction responses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

_UUID = re.compile(rb"[0-9a-f]{8}(?=-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
_FAMILY = re.compile(rb'"family":\s*"[^"\\]*(?=")')
#: Copies carry their number in 8 hex digits (UUIDs) and 5 decimal digits (family names).
MAX_COPIES = 100_000


@dataclass(frozen=True)
class BundleTemplate:
    """One sample bundle cut at its variable places: `pieces[i]` is followed by the copy's UUID
    prefix when `uuid_slot[i]` is true, else by its family suffix (the last piece by nothing)."""

    name: str
    pieces: tuple[bytes, ...]
    uuid_slot: tuple[bool, ...]
    resources: int
    patient_family: str
    #: (year, month) of each Observation's effectiveDateTime, one per Observation.
    observation_months: tuple[tuple[int, int], ...]

    @classmethod
    def from_file(cls, path: Path) -> BundleTemplate:
        raw = path.read_bytes()
        bundle = orjson.loads(raw)
        slots = sorted(
            [(match.start(), True) for match in _UUID.finditer(raw)]
            + [(match.end(), False) for match in _FAMILY.finditer(raw)]
        )
        pieces, uuid_slot, position = [], [], 0
        for offset, is_uuid in slots:
            pieces.append(raw[position:offset])
            uuid_slot.append(is_uuid)
            # A UUID slot replaces its 8 hex digits; a family slot inserts before the quote.
            position = offset + 8 if is_uuid else offset
        pieces.append(raw[position:])
        patients = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
        if len(patients) != 1:
            raise ValueError(f"{path.name}: expected one Patient, found {len(patients)}")
        months = tuple(
            (int(when[:4]), int(when[5:7]))
            for entry in bundle["entry"]
            if entry["resource"]["resourceType"] == "Observation"
            and (when := entry["resource"].get("effectiveDateTime", ""))
        )
        family = patients[0]["name"][0]["family"]
        return cls(path.stem, tuple(pieces), tuple(uuid_slot), len(bundle["entry"]), family, months)

    def copy(self, number: int) -> bytes:
        """The bundle of copy `number`: same content, fresh UUIDs and copy-suffixed names."""
        if not 0 <= number < MAX_COPIES:
            raise ValueError(f"copy number {number} out of range")
        uuid_prefix = b"%08x" % number
        family_suffix = family_suffix_of(number).encode()
        parts = []
        for piece, is_uuid in zip(self.pieces, self.uuid_slot):
            parts.append(piece)
            parts.append(uuid_prefix if is_uuid else family_suffix)
        parts.append(self.pieces[-1])
        return b"".join(parts)


def family_suffix_of(number: int) -> str:
    return f"{number:05d}"


def load_templates(folder: Path) -> list[BundleTemplate]:
    templates = [BundleTemplate.from_file(path) for path in sorted(folder.glob("*.json"))]
    if not templates:
        raise FileNotFoundError(f"no Synthea bundles in {folder}")
    return templates


def copy_plan(templates: list[BundleTemplate], first_copy: int) -> Iterator[tuple[int, BundleTemplate]]:
    """(copy number, template) in load order: whole copies, one after another, so any prefix
    of the load holds every kind of patient."""
    for number in range(first_copy, MAX_COPIES):
        for template in templates:
            yield number, template
