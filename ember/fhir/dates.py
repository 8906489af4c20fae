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
    return None if match is None else _lower_bound(match.groupdict())


def _lower_bound(parts: dict[str, str | None]) -> datetime | None:
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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The open ends of a range (a Period without start or end): far beyond any real date.
MIN_MICROS = -(2**62)
MAX_MICROS = 2**62


def micros(moment: datetime) -> int:
    """Microseconds since the epoch: an integer both SQLite and PostgreSQL compare exactly."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def date_range(text: str) -> tuple[int, int] | None:
    """The instants a (possibly partial) FHIR date covers, as inclusive epoch microseconds:
    `2021` is the whole year, `2021-03-04T10:00Z` one minute (search.html#date). None if invalid."""
    match = _DATETIME.fullmatch(text.strip())
    if match is None:
        return None
    parts = match.groupdict()
    low = _lower_bound(parts)
    if low is None:
        return None
    if parts["fraction"] is not None:
        width = 10 ** max(0, 6 - len(parts["fraction"]))
        return micros(low), micros(low) + width - 1
    if parts["second"] is not None:
        span = 1
    elif parts["minute"] is not None:
        span = 60
    elif parts["day"] is not None:
        span = 86_400
    elif parts["month"] is not None:
        year, month = int(parts["year"]), int(parts["month"])
        following = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        span = int((following - datetime(year, month, 1, tzinfo=UTC)).total_seconds())
    else:
        year = int(parts["year"])
        span = int((datetime(year + 1, 1, 1, tzinfo=UTC) - datetime(year, 1, 1, tzinfo=UTC)).total_seconds())
    return micros(low), micros(low) + span * 1_000_000 - 1
