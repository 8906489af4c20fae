"""The FHIR R4 matching rules, one function per search parameter type, written from the spec's
search page (http://hl7.org/fhir/R4/search.html) and nothing else.

Each `*_matches(value, query, ...)` says whether ONE value of a parameter in a resource (as the
parameter's FHIRPath expression produced it) matches ONE search value (one item of a comma list,
already unescaped except for the `|` and `$` separators the type itself splits on). `:missing`
and `:not` are properties of the whole resource, so the oracle handles them, not this module.

Two readings of the spec are fixed here, because the page leaves them open:
- a date, dateTime or instant without a timezone is taken as UTC (the server's zone);
- number and quantity values in resources are points: `eq`/`ne` use the precision range of the
  search value ("100" is [99.5, 100.5)) and `gt`/`lt`/`ge`/`le` the search number itself ("greater
  than exactly 100"), as in the spec's number table; `sa`/`eb` follow the general prefix table
  (the value lies after/before the whole precision range); `ap` is +-10% of the search value.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)
CONTACT_SYSTEMS = frozenset({"phone", "fax", "email", "pager", "url", "sms", "other"})

_DATE = re.compile(
    r"^(?P<year>\d{4})(-(?P<month>\d{2})(-(?P<day>\d{2})"
    r"(T(?P<hour>\d{2}):(?P<minute>\d{2})(:(?P<second>\d{2})(?P<fraction>\.\d+)?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


# --- shared helpers ---------------------------------------------------------------------------


def split_unescaped(text: str, separator: str) -> list[str]:
    """Split on `separator` where it is not escaped with a backslash; other escapes stay as they are."""
    parts, current, index = [], [], 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            current.append(text[index : index + 2])
            index += 2
            continue
        if char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    return parts


def unescape(text: str) -> str:
    """`\\,` `\\|` `\\$` and `\\\\` stand for the character itself."""
    return re.sub(r"\\([,|$\\])", r"\1", text)


def split_prefix(query: str) -> tuple[str, str]:
    """("ge", "2021") from "ge2021"; "eq" when the value has no prefix."""
    if query[:2] in PREFIXES and len(query) > 2 and not query[2].isalpha():
        return query[:2], query[2:]
    return "eq", query


def normalise(text: str) -> str:
    """Case- and accent-insensitive form of a string, as string search compares them."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()


# --- string -----------------------------------------------------------------------------------


def string_parts(value: Any) -> list[str]:
    """The strings a value offers to string search: every part of a HumanName or Address."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, dict):
        return []
    parts: list[str] = []
    for key in ("text", "family", "given", "prefix", "suffix", "line", "city", "district", "state"):
        parts.extend(_as_list(value.get(key)))
    for key in ("postalCode", "country"):
        parts.extend(_as_list(value.get(key)))
    return [part for part in parts if isinstance(part, str)]


def string_matches(value: Any, query: str, modifier: str | None) -> bool:
    """Default: normalised starts-with; :exact: the whole string, case and accents included;
    :contains: normalised substring."""
    for part in string_parts(value):
        if modifier == "exact" and part == query:
            return True
        if modifier == "contains" and normalise(query) in normalise(part):
            return True
        if modifier is None and normalise(part).startswith(normalise(query)):
            return True
    return False


# --- token ------------------------------------------------------------------------------------


def token_atoms(value: Any) -> list[tuple[str | None, str, list[str]]]:
    """(system, code, texts) for each code a value carries; system None when it has none."""
    if isinstance(value, bool):
        return [(None, "true" if value else "false", [])]
    if isinstance(value, str):
        return [(None, value, [])]
    if not isinstance(value, dict):
        return []
    if "coding" in value or ("text" in value and "code" not in value and "value" not in value):
        atoms = [atom for coding in value.get("coding", []) for atom in token_atoms(coding)]
        return atoms + ([(None, "", [value["text"]])] if "text" in value else [])
    if "code" in value:
        return [(value.get("system"), value["code"], [value["display"]] if "display" in value else [])]
    if "value" in value and value.get("system") in CONTACT_SYSTEMS:
        return [(None, value["value"], [])]
    if "value" in value:
        type_ = value.get("type", {})
        texts = [type_["text"]] if "text" in type_ else []
        return [(value.get("system"), value["value"], texts)]
    return []


def token_matches(value: Any, query: str, modifier: str | None) -> bool:
    """code, system|code, |code (no system) and system| forms; :text on the display texts;
    :of-type on an Identifier's type."""
    if modifier == "text":
        return any(normalise(text).startswith(normalise(query)) for _, _, texts in token_atoms(value) for text in texts)
    if modifier == "of-type":
        return _of_type_matches(value, query)
    parts = [unescape(part) for part in split_unescaped(query, "|")]
    for system, code, _ in token_atoms(value):
        if not code:
            continue
        if len(parts) == 1 and code == parts[0]:
            return True
        if len(parts) == 2 and parts[0] == "" and system is None and code == parts[1]:
            return True
        if len(parts) == 2 and parts[0] and system == parts[0] and parts[1] in ("", code):
            return True
    return False


def _of_type_matches(value: Any, query: str) -> bool:
    parts = [unescape(part) for part in split_unescaped(query, "|")]
    if len(parts) != 3 or not isinstance(value, dict) or value.get("value") != parts[2]:
        return False
    codings = value.get("type", {}).get("coding", [])
    return any(coding.get("system") == parts[0] and coding.get("code") == parts[1] for coding in codings)


# --- date -------------------------------------------------------------------------------------


def date_range(text: str) -> tuple[datetime, datetime]:
    """[low, high) of a FHIR date, dateTime or instant at the precision it is written with."""
    found = _DATE.match(text)
    if found is None:
        raise ValueError(f"not a FHIR date: {text!r}")
    parts = found.groupdict()
    zone = _zone(parts["zone"])
    year, month, day = int(parts["year"]), int(parts["month"] or 1), int(parts["day"] or 1)
    if parts["month"] is None:
        return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    if parts["day"] is None:
        low = datetime(year, month, 1, tzinfo=UTC)
        return low, (low + timedelta(days=32)).replace(day=1)
    if parts["hour"] is None:
        low = datetime(year, month, day, tzinfo=UTC)
        return low, low + timedelta(days=1)
    second = int(parts["second"] or 0)
    fraction = parts["fraction"] or ""
    low = datetime(year, month, day, int(parts["hour"]), int(parts["minute"]), second, tzinfo=zone)
    low += timedelta(microseconds=int(Decimal(fraction or "0") * 1_000_000))
    if parts["second"] is None:
        step = timedelta(minutes=1)
    else:
        step = timedelta(seconds=1) / 10 ** (len(fraction) - 1) if fraction else timedelta(seconds=1)
    return low.astimezone(UTC), (low + max(step, timedelta(microseconds=1))).astimezone(UTC)


def _zone(text: str | None) -> timezone:
    if text is None or text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    return timezone(sign * timedelta(hours=int(text[1:3]), minutes=int(text[4:6])))


def value_date_range(value: Any) -> tuple[datetime, datetime] | None:
    """The range a date-typed value covers: a date string, a Period (open ends are infinite)
    or a Timing (from its first to its last event)."""
    if isinstance(value, str):
        return date_range(value)
    if not isinstance(value, dict):
        return None
    if "start" in value or "end" in value:
        low = date_range(value["start"])[0] if "start" in value else EARLIEST
        high = date_range(value["end"])[1] if "end" in value else LATEST
        return low, high
    events = [date_range(event) for event in value.get("event", [])]
    if events:
        return min(low for low, _ in events), max(high for _, high in events)
    return None


def date_matches(value: Any, query: str, now: datetime | None = None) -> bool:
    """The R4 date table: ranges of the search value (its precision) against the value's range."""
    target = value_date_range(value)
    if target is None:
        return False
    prefix, text = split_prefix(query)
    search_low, search_high = date_range(text)
    if prefix == "ap":
        gap = abs((now or datetime.now(UTC)) - search_low) / 10
        search_low, search_high = search_low - gap, search_high + gap
    return ranges_compare(prefix, (search_low, search_high), target)


def ranges_compare(prefix: str, search: tuple[Any, Any], target: tuple[Any, Any]) -> bool:
    """`prefix` between the search range and the target range, both [low, high)."""
    (search_low, search_high), (low, high) = search, target
    contains = search_low <= low and high <= search_high
    above = high > search_high  # the range above the search value overlaps the target
    below = low < search_low
    overlaps = low < search_high and search_low < high
    return {
        "eq": contains,
        "ne": not contains,
        "gt": above,
        "lt": below,
        "ge": above or contains,
        "le": below or contains,
        "sa": low >= search_high,
        "eb": high <= search_low,
        "ap": overlaps,
    }[prefix]


# --- number and quantity ----------------------------------------------------------------------


def precision_range(text: str) -> tuple[Decimal, Decimal]:
    """[low, high) implied by the digits written: "100" is [99.5, 100.5), "1.50" [1.495, 1.505)."""
    number = Decimal(text)
    half = Decimal(1).scaleb(number.as_tuple().exponent) / 2  # type: ignore[arg-type]
    return number - half, number + half


def number_compare(number: Decimal, query: str) -> bool:
    """A point value against `[prefix]number`."""
    prefix, text = split_prefix(query)
    try:
        searched = Decimal(text)
    except InvalidOperation as failure:
        raise ValueError(f"not a number: {text!r}") from failure
    low, high = precision_range(text)
    if prefix == "ap":
        margin = abs(searched) / 10
        return min(low, searched - margin) <= number < max(high, searched + margin)
    return {
        "eq": low <= number < high,
        "ne": not low <= number < high,
        "gt": number > searched,
        "sa": number >= high,
        "lt": number < searched,
        "eb": number < low,
        "ge": number >= searched,
        "le": number <= searched,
    }[prefix]


def number_matches(value: Any, query: str) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return False
    return number_compare(Decimal(str(value)), query)


def quantity_matches(value: Any, query: str) -> bool:
    """`[prefix]number|system|code`: the number as for numbers; an empty system matches any
    system and then the code may also match the unit; no unit part matches any unit."""
    if not isinstance(value, dict) or "value" not in value:
        return False
    parts = [unescape(part) for part in split_unescaped(query, "|")]
    if not number_compare(Decimal(str(value["value"])), parts[0]):
        return False
    if len(parts) == 1:
        return True
    system, code = parts[1], parts[2] if len(parts) > 2 else ""
    if system:
        return value.get("system") == system and value.get("code") == code
    return code in (value.get("code"), value.get("unit"))


# --- reference and uri ------------------------------------------------------------------------


def reference_key(reference: str, base_url: str) -> str:
    """ "Type/id" of a reference to this server (relative or absolute, version dropped); other
    references (external URLs, canonicals) unchanged."""
    local = reference[len(base_url) + 1 :] if reference.startswith(base_url + "/") else reference
    parts = local.split("/")
    if len(parts) in (2, 4) and "://" not in local and (len(parts) == 2 or parts[2] == "_history"):
        return f"{parts[0]}/{parts[1]}"
    return reference


def reference_keys(value: Any, base_url: str) -> Iterator[str]:
    """Every key a Reference (or a canonical string) points to."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict) and isinstance(value.get("reference"), str):
        yield reference_key(value["reference"], base_url)


def reference_matches(value: Any, query: str, modifier: str | None, base_url: str) -> bool:
    """Type/id, a bare id (with the :Type modifier restricting the type), an absolute URL on this
    server, any other URL literally, and :identifier on Reference.identifier."""
    if modifier == "identifier":
        identifier = value.get("identifier") if isinstance(value, dict) else None
        return identifier is not None and token_matches(identifier, query, None)
    wanted = reference_key(query, base_url)
    for key in reference_keys(value, base_url):
        if "/" in wanted and key == wanted:
            return True
        if "/" not in wanted and "://" not in key and key.split("/")[-1] == wanted:
            return modifier is None or key.split("/")[0] == modifier
    return False


def uri_matches(value: Any, query: str, modifier: str | None) -> bool:
    """Exact by default; :below (the value starts with the search uri), :above (the search uri
    starts with the value)."""
    if not isinstance(value, str):
        return False
    if modifier == "below":
        return value.startswith(query)
    if modifier == "above":
        return query.startswith(value)
    return value == query


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
