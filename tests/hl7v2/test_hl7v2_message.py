"""Parsing: declared encoding characters, escapes, repetitions, components, sub-components."""

from __future__ import annotations

import pytest

from ember.hl7v2.message import MessageError, decode, parse_message


def test_standard_message_reads_fields_repetitions_components_subcomponents() -> None:
    message = parse_message(
        "MSH|^~\\&|APP|FAC|||20240101||ADT^A01^ADT_A01|42|P|2.5\r"
        "PID|1||111^^^AUTH&1.2.3&ISO^MR~222^^^SSA^SS||Doe^John\r"
    )
    pid = message.segments[1]
    assert (message.message_code, message.trigger_event, message.control_id) == ("ADT", "A01", "42")
    assert pid.value(3) == "111" and pid.value(3, 4, 2) == "1.2.3"
    assert pid.value(3, 1, 1, 2) == "222" and pid.value(3, 4, 1, 2) == "SSA"
    assert len(pid.field(3)) == 2
    assert pid.value(5, 2) == "John" and pid.value(9) == "" and pid.value(3, 9) == ""


def test_any_declared_encoding_characters_are_honoured() -> None:
    # Field '#', component '@', repetition '*', escape '!', sub-component '%'.
    message = parse_message("MSH#@*!%#APP#FAC###20240101##ADT@A04#7#P#2.3\rPID#1##9@@@A%1.2%ISO*8##Roe@Ann!F!x\r")
    pid = message.segments[1]
    assert message.trigger_event == "A04" and message.version == "2.3"
    assert pid.value(3, 4, 2) == "1.2" and pid.value(3, 1, 1, 2) == "8"
    assert pid.value(5, 2) == "Ann#x"  # \\F\\ (here !F!) is the field separator, unescaped


@pytest.mark.parametrize(
    ("escaped", "text"),
    [("a\\F\\b", "a|b"), ("a\\S\\b", "a^b"), ("a\\T\\b", "a&b"), ("a\\R\\b", "a~b"), ("a\\E\\b", "a\\b")],
)
def test_escape_sequences_are_unescaped(escaped: str, text: str) -> None:
    message = parse_message(f"MSH|^~\\&|A|B|||20240101||ADT^A08|1|P|2.8\rPID|1||1||{escaped}\r")
    assert message.segments[1].value(5) == text


@pytest.mark.parametrize("version", ["2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8"])
def test_versions_2_3_to_2_8(version: str) -> None:
    assert parse_message(f"MSH|^~\\&|A|B|||20240101||ADT^A01|1|P|{version}\r").version == version


def test_line_endings_bom_and_z_segments() -> None:
    text = "\ufeffMSH|^~\\&|A|B|||20240101||ADT^A01|1|P|2.5\r\nPID|1||5\nZPI|custom|data\r"
    message = parse_message(decode(text.encode()))
    assert [s.name for s in message.segments] == ["MSH", "PID", "ZPI"]


def test_v27_truncation_character_is_accepted() -> None:
    message = parse_message("MSH|^~\\&#|A|B|||20240101||ORU^R01|1|P|2.7\rPID|1||5\r")
    assert message.header.value(2) == "^~\\&#" and message.segments[1].value(3) == "5"


def test_latin1_bytes_are_read() -> None:
    message = parse_message(decode("MSH|^~\\&|A|B|||20240101||ADT^A01|1|P|2.5\rPID|1||5||Müller\r".encode("latin-1")))
    assert message.segments[1].value(5) == "Müller"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "PID|1",
        "MSH|^~|A",
        "MSH|^^^^|A|B",
        "MSH|^~\\&|A|B|||x|||1|P\r",
        "MSH|^~\\&|A\r0|x",
    ],
)
def test_unreadable_messages_are_refused(text: str) -> None:
    with pytest.raises(MessageError):
        parse_message(text)
