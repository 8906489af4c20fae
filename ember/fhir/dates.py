"""FHIR date/dateTime/instant text to Python datetimes, respecting partial precision."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_DATETIME = re.compile(
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,9}))?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?"
)


def parse_lower_bound(text: str) -> datetime | None:
    """The first instant covered by a (possibly partial) FHIR dateTime, or None if invalid.

    `2021` covers the whole year, so its lower bound is 2021-01-01T00:00:00Z; times without a
    zone are taken as UTC (the server's zone).
    """
    match = _DATETIME.fullmatch(text.strip())
    if match is None:
        return None
    parts = match.groupdict()
    fraction = (parts["fraction"] or "0")[:6].ljust(6, "0")
    zone = parts["zone"] or "Z"
    iso = (
        f"{parts['year']}-{parts['month'] or '01'}-{parts['day'] or '01'}T{parts['hour'] or '00'}:"
        f"{parts['minute'] or '00'}:{parts['second'] or '00'}.{fraction}{'+00:00' if zone == 'Z' else zone}"
    )
    try:
        return datetime.fromisoformat(iso).astimezone(UTC)
    except ValueError:
        return None
