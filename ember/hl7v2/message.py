"""An HL7 v2 message as plain, uniform values, parsed by python-hl7.

python-hl7 gives a tree whose shape depends on the text (a field without separators is a string,
one with components is a list), and leaves escape sequences in place. The mappers want one shape:
every field is a list of repetitions, each a list of components, each a list of sub-components,
all unescaped text. Normalising once here keeps every segment map a plain lookup.

Whatever the sender declared in MSH-1/MSH-2 (field, component, repetition, escape and
sub-component characters; a fifth, truncation, character of v2.7+ is ignored) is honoured.
Segments may end in CR, LF or CRLF: all become CR before python-hl7 sees them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import hl7
from hl7.exceptions import ParseException

Component = list[str]
Repetition = list[Component]
Field = list[Repetition]

#: C0 controls (but tab) and lone surrogates: FHIR text cannot carry them.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")
_SEGMENT_NAME = re.compile("[A-Z][A-Z0-9]{2}")
_LINE_BREAKS = re.compile("\r\n|\n|\r")


class MessageError(Exception):
    """The bytes are not an HL7 v2 message we can read: answered with an AR acknowledgement."""


class Segment:
    """One segment: its name and fields numbered as in the standard (`field(3)` is PID-3).

    A field is normalised the first time a map asks for it: a map reads a few fields of each
    segment, and normalising all of them cost a third of the parse."""

    __slots__ = ("name", "_parsed", "_raw", "_fields")

    def __init__(self, name: str, parsed: hl7.Message, raw: list[object]) -> None:
        self.name = name
        self._parsed = parsed
        self._raw = raw
        self._fields: dict[int, Field] = {}

    def field(self, number: int) -> Field:
        """All repetitions of field `number` (empty when absent)."""
        found = self._fields.get(number)
        if found is None:
            raw = self._raw[number] if 0 < number < len(self._raw) else ""
            found = _field(self._parsed, raw if isinstance(raw, str | Sequence) else str(raw))
            self._fields[number] = found
        return found

    def value(self, number: int, component: int = 1, subcomponent: int = 1, repetition: int = 1) -> str:
        """One atomic value, '' when absent (HL7 v2 does not distinguish absent from empty)."""
        reps = self.field(number)
        if len(reps) < repetition:
            return ""
        return component_value(reps[repetition - 1], component, subcomponent)


def component_value(repetition: Repetition, component: int = 1, subcomponent: int = 1) -> str:
    """A sub-component of one repetition of a field, '' when absent."""
    if len(repetition) < component:
        return ""
    subs = repetition[component - 1]
    return subs[subcomponent - 1] if len(subs) >= subcomponent else ""


@dataclass(slots=True)
class Message:
    """A parsed message: its segments in order, and the header values every step needs."""

    segments: list[Segment]
    raw: str

    @property
    def header(self) -> Segment:
        return self.segments[0]

    @property
    def control_id(self) -> str:
        return self.header.value(10)

    @property
    def idempotency_key(self) -> str:
        """Sender and control id (unique per sender, HL7 2.8 ch. 2); a message without MSH-10
        is known by a digest of its text, so an identical resend is still recognised."""
        control_id = self.control_id or "#" + hashlib.sha256(self.raw.encode()).hexdigest()[:32]
        return f"{self.sender_key}|{control_id}"

    @property
    def message_code(self) -> str:
        return self.header.value(9, 1)

    @property
    def trigger_event(self) -> str:
        return self.header.value(9, 2)

    @property
    def version(self) -> str:
        return self.header.value(12)

    @property
    def sender_key(self) -> str:
        """Sending application and facility: control ids are unique per sender only."""
        return f"{self.header.value(3)}|{self.header.value(4)}"

    def first(self, name: str) -> Segment | None:
        return next((segment for segment in self.segments if segment.name == name), None)


def decode(data: bytes) -> str:
    """Message bytes as text: UTF-8 (the v2.8 default), else Latin-1 (never fails), no BOM."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return text.removeprefix("\ufeff")


def parse_message(text: str) -> Message:
    """A normalised message, or MessageError when the text is not a readable HL7 v2 message."""
    text = _LINE_BREAKS.sub("\r", text.removeprefix("\ufeff").strip())
    if not text.startswith("MSH") or len(text) < 8:
        raise MessageError("The message does not start with an MSH segment")
    separator = text[3]
    encoding = text[4 : text.find(separator, 4)] if text.find(separator, 4) > 0 else ""
    if encoding == "^~\\\\&":
        # A doubled escape character: senders that wrote MSH-2 from a source-code string literal.
        text, encoding = text.replace(encoding, "^~\\&", 1), "^~\\&"
    declared = encoding[:4] + separator
    if len(encoding) < 4 or len(set(declared)) != 5 or not declared.isprintable():
        raise MessageError("MSH-1/MSH-2 do not declare five distinct encoding characters")
    try:
        parsed = hl7.parse(text)
    except (ParseException, IndexError, ValueError, AssertionError) as failure:
        # python-hl7 checks its separator plan with assert statements.
        raise MessageError(f"Unreadable message: {failure}") from None
    segments = [_segment(parsed, raw_segment) for raw_segment in parsed]
    bad = next((s.name for s in segments if not _SEGMENT_NAME.fullmatch(s.name)), None)
    if bad is not None:
        raise MessageError(f"'{bad[:10]}' is not a segment name")
    message = Message(segments, text)
    if not message.message_code:
        raise MessageError("MSH-9 (message type) is required")
    return message


def _segment(parsed: hl7.Message, raw: hl7.Segment) -> Segment:
    fields: list[object] = list(raw)
    name = str(fields[0])
    segment = Segment(name, parsed, fields)
    if name == "MSH":
        # MSH-1 is the field separator itself and MSH-2 the encoding characters: never split.
        segment._fields.update({1: [[[str(fields[1])]]], 2: [[[str(fields[2])]]]})
    return segment


def _field(parsed: hl7.Message, field: str | Sequence[object]) -> Field:
    if isinstance(field, str):
        return [[[_text(parsed, field)]]] if field else []
    repetitions = [_repetition(parsed, rep) for rep in field]
    return [] if repetitions == [[[""]]] else repetitions


def _repetition(parsed: hl7.Message, rep: object) -> Repetition:
    """python-hl7 gives a plain string where a repetition (or component) has no separators."""
    if isinstance(rep, str):
        return [[_text(parsed, rep)]]
    assert isinstance(rep, Sequence)
    return [[_text(parsed, c)] if isinstance(c, str) else [_text(parsed, s) for s in c] for c in rep]


def _text(parsed: hl7.Message, value: str) -> str:
    """Unescaped text, stripped of what FHIR cannot carry (controls, edge whitespace)."""
    if parsed.esc in value:
        value = parsed.unescape(value)
    return _CONTROL.sub(" ", value).strip() if value else value
