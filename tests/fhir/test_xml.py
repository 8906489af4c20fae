"""FHIR XML both ways: lossless round trips, agreement with the official examples, and refusal of
hostile or malformed documents with a 400 OperationOutcome (never another exception)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from ember.fhir import jsonio
from ember.fhir.outcome import FhirError
from ember.fhir.xml import json_to_xml, parsing, xml_to_json
from tests.conformance import CONFORMANCE

CONFORMANCE = CONFORMANCE
SYNTHEA_BUNDLES = sorted((CONFORMANCE / "synthea").glob("*/*.json"))
FHIRPATH_INPUT = CONFORMANCE / "fhirpath" / "input"
FHIR = "http://hl7.org/fhir"


def exact(value: Any) -> Any:
    """`value` with JSON types made significant: 1.50 differs from 1.5, true from 1."""
    if isinstance(value, dict):
        return {key: exact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [exact(item) for item in value]
    if isinstance(value, bool):
        return ("boolean", value)
    if isinstance(value, float):
        return ("number", repr(value))
    if isinstance(value, int | Decimal):
        return ("number", str(value))
    return value


def round_trip(resource: dict[str, Any], pretty: bool = False) -> dict[str, Any]:
    return xml_to_json(json_to_xml(resource, pretty=pretty))


def rejection(data: bytes) -> FhirError:
    with pytest.raises(FhirError) as caught:
        xml_to_json(data)
    failure = caught.value
    assert failure.status == 400
    assert [issue.code for issue in failure.issues] == ["structure"]
    return failure


def expression(failure: FhirError) -> tuple[str, ...]:
    return failure.issues[0].expression


# --- lossless round trips ---------------------------------------------------------------------


@pytest.mark.parametrize("path", SYNTHEA_BUNDLES, ids=lambda path: path.stem[:40])
def test_every_synthea_resource_and_bundle_survives_json_xml_json(path: Path) -> None:
    bundle = jsonio.loads(path.read_bytes())
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert exact(round_trip(resource)) == exact(resource), resource["id"]
        assert exact(round_trip(resource, pretty=True)) == exact(resource), resource["id"]
    assert exact(round_trip(bundle)) == exact(bundle)


def test_synthea_material_is_present() -> None:
    assert len(SYNTHEA_BUNDLES) >= 10


PRIMITIVE_EXTENSIONS = {
    "resourceType": "Patient",
    "id": "p1",
    "_id": {"extension": [{"url": "http://example.org/on-id", "valueBoolean": True}]},
    "birthDate": "1974-12-25",
    "_birthDate": {
        "id": "bd",
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                "valueDateTime": "1974-12-25T14:35:45-05:00",
            }
        ],
    },
    "name": [
        {
            "id": "n1",
            "family": "Chalmers",
            "given": ["Peter", None, "James"],
            "_given": [
                None,
                {"extension": [{"url": "http://example.org/x", "valueString": "only an extension"}]},
                {"id": "g3"},
            ],
        },
        {"given": ["Jim"], "_given": [{"id": "only-id"}]},
        {"_given": [{"extension": [{"url": "http://example.org/y", "valueCode": "masked"}]}]},
    ],
    "gender": "male",
    "_gender": {"id": "no-value-is-fine-too"},
    "multipleBirthInteger": 2,
    "extension": [
        {"url": "http://example.org/nested", "extension": [{"url": "part", "valueDecimal": Decimal("1.50")}]},
        {"url": "http://example.org/quantity", "valueQuantity": {"value": 1e2, "unit": "mg", "_unit": {"id": "u"}}},
    ],
    "modifierExtension": [{"id": "m", "url": "http://example.org/modifier", "valueInteger": -3}],
}


def test_primitive_extensions_ids_and_null_array_slots_survive() -> None:
    assert exact(round_trip(PRIMITIVE_EXTENSIONS)) == exact(PRIMITIVE_EXTENSIONS)
    assert exact(round_trip(PRIMITIVE_EXTENSIONS, pretty=True)) == exact(PRIMITIVE_EXTENSIONS)


def test_primitive_extension_is_written_as_the_spec_shows() -> None:
    root = etree.fromstring(json_to_xml(PRIMITIVE_EXTENSIONS))
    birth_date = root.find(f"{{{FHIR}}}birthDate")
    assert (birth_date.get("id"), birth_date.get("value")) == ("bd", "1974-12-25")
    assert birth_date[0].tag == f"{{{FHIR}}}extension"
    assert birth_date[0].get("url") == "http://hl7.org/fhir/StructureDefinition/patient-birthTime"
    given = root.find(f"{{{FHIR}}}name").findall(f"{{{FHIR}}}given")
    assert [g.get("value") for g in given] == ["Peter", None, "James"]
    assert root.find(f"{{{FHIR}}}name").get("id") == "n1"
    assert root.find(f"{{{FHIR}}}id").get("value") == "p1"  # Resource.id is an element, not an attribute


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.50", Decimal("1.50")),
        ("1.5", 1.5),
        ("5", 5),
        ("-0.0", -0.0),
        ("1e2", Decimal("1e2")),
        ("0.1000000000000000055511", Decimal("0.1000000000000000055511")),
    ],
)
def test_decimals_keep_their_exact_text_as_jsonio_does(text: str, expected: Any) -> None:
    xml = f'<Observation xmlns="{FHIR}"><status value="final"/><valueQuantity><value value="{text}"/></valueQuantity></Observation>'
    value = xml_to_json(xml.encode())["valueQuantity"]["value"]
    assert exact(value) == exact(expected)
    assert exact(value) == exact(jsonio.loads(f'{{"v": {text}}}'.encode())["v"])
    as_json = jsonio.dumps(value).decode()  # 1e2 is written 1E+2 by both
    assert f'<value value="{as_json}"/>'.encode() in json_to_xml(xml_to_json(xml.encode()))


def test_contained_bundle_and_parameters_resources_are_wrapped_in_their_type() -> None:
    patient = {"resourceType": "Patient", "id": "c1", "active": False}
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "p", "resource": {"resourceType": "Observation", "status": "final", "contained": [patient]}}
        ],
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": "urn:uuid:1", "resource": parameters}],
    }
    xml = json_to_xml(bundle)
    assert b'<resource><Parameters><parameter><name value="p"/><resource><Observation><contained><Patient>' in xml
    assert xml.count(b"xmlns=") == 1
    assert exact(round_trip(bundle)) == exact(bundle)


def test_elements_are_written_in_definition_order_whatever_the_json_order() -> None:
    patient = {"gender": "female", "name": [{"given": ["A"], "family": "B"}], "id": "x", "resourceType": "Patient"}
    root = etree.fromstring(json_to_xml(patient))
    assert [child.tag.split("}")[1] for child in root] == ["id", "name", "gender"]
    assert [child.tag.split("}")[1] for child in root[1]] == ["family", "given"]


def test_narrative_div_keeps_its_markup_and_namespace() -> None:
    div = '<div xmlns="http://www.w3.org/1999/xhtml"><p class="x">a &amp; b &lt;c&gt; &quot;q&quot;<br/>é</p><a href="#"></a></div>'
    patient = {"resourceType": "Patient", "text": {"status": "generated", "div": div}}
    xml = json_to_xml(patient, pretty=True)
    assert div.encode() in xml
    assert round_trip(patient)["text"]["div"] == div


def test_narrative_with_a_prefixed_namespace_becomes_the_default_namespace_in_json() -> None:
    xml = (
        f'<Patient xmlns="{FHIR}" xmlns:h="http://www.w3.org/1999/xhtml"><text><status value="generated"/>'
        "<h:div><h:p>hi</h:p></h:div></text></Patient>"
    )
    assert xml_to_json(xml.encode())["text"]["div"] == '<div xmlns="http://www.w3.org/1999/xhtml"><p>hi</p></div>'


def test_strings_with_markup_whitespace_and_unicode_survive() -> None:
    text = 'a<b>&"c"\'\n\t\r  end  é \u2028 😀'
    patient = {"resourceType": "Patient", "name": [{"text": text}]}
    assert round_trip(patient) == patient
    assert round_trip(patient, pretty=True) == patient


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\ufffe\uffff", min_codepoint=0x20)
        | st.sampled_from("\t\n\r"),
        min_size=1,
    )
)
def test_any_xml_representable_string_survives(text: str) -> None:
    resource = {"resourceType": "Basic", "code": {"text": text}}
    assert round_trip(resource) == resource


@settings(max_examples=200, deadline=None)
@given(
    st.decimals(allow_nan=False, allow_infinity=False)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(-(10**30), 10**30)
)
def test_any_decimal_survives_with_its_text(number: Any) -> None:
    resource = {"resourceType": "Observation", "status": "final", "valueQuantity": {"value": number}}
    assert exact(round_trip(resource)) == exact(resource)


# --- the official FHIR XML examples -----------------------------------------------------------


@pytest.mark.parametrize("name", ["patient-example", "questionnaire-example"])
def test_official_xml_equals_its_json_twin(name: str) -> None:
    ours = xml_to_json((FHIRPATH_INPUT / f"{name}.xml").read_bytes())
    twin = jsonio.loads((FHIRPATH_INPUT / "json-companions" / f"{name}.json").read_bytes())
    assert exact(ours) == exact(twin)


def test_official_observation_equals_its_twin_but_for_the_extension_the_suite_added() -> None:
    # conformance/README.md: the suite's XML moved `status`; it also carries a patient-age
    # extension that r4/examples/observation-example.json lacks.
    ours = xml_to_json((FHIRPATH_INPUT / "observation-example.xml").read_bytes())
    twin = jsonio.loads((FHIRPATH_INPUT / "json-companions" / "observation-example.json").read_bytes())
    assert [extension["url"] for extension in ours.pop("extension")] == [
        "http://example.com/fhir/StructureDefinition/patient-age"
    ]
    assert exact(ours) == exact(twin)


@pytest.mark.parametrize("path", sorted(FHIRPATH_INPUT.glob("*.xml")), ids=lambda path: path.stem)
def test_official_xml_is_stable_through_json_and_back(path: Path) -> None:
    first = xml_to_json(path.read_bytes())
    assert exact(round_trip(first)) == exact(first)
    assert exact(round_trip(first, pretty=True)) == exact(first)


def test_schema_location_comments_and_xml_declaration_are_accepted() -> None:
    parameters = xml_to_json((FHIRPATH_INPUT / "parameters-example-types.xml").read_bytes())
    assert parameters["parameter"][1] == {"name": "integer", "valueInteger": 1}
    assert exact(parameters["parameter"][3]["valueDecimal"]) == exact(Decimal("1.0"))


# --- hostile and malformed input --------------------------------------------------------------

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE Patient [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Patient xmlns="http://hl7.org/fhir"><id value="&secret;"/></Patient>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Patient xmlns="http://hl7.org/fhir"><id value="&lol3;"/></Patient>"""

EXTERNAL_DTD = b"""<!DOCTYPE Patient SYSTEM "http://example.org/evil.dtd"><Patient xmlns="http://hl7.org/fhir"/>"""


@pytest.mark.parametrize("document", [XXE, BILLION_LAUGHS, EXTERNAL_DTD], ids=["xxe", "billion-laughs", "external-dtd"])
def test_doctypes_and_entities_are_refused(document: bytes) -> None:
    assert "DOCTYPE" in rejection(document).issues[0].diagnostics


def test_undeclared_entity_is_malformed() -> None:
    rejection(b'<Patient xmlns="http://hl7.org/fhir"><id value="&secret;"/></Patient>')


def test_deep_nesting_is_refused_by_the_parser() -> None:
    depth = 300
    document = (
        b'<Patient xmlns="http://hl7.org/fhir">'
        + b'<extension url="x">' * depth
        + b"</extension>" * depth
        + b"</Patient>"
    )
    assert "depth" in rejection(document).issues[0].diagnostics


def test_deep_nesting_below_the_parser_limit_is_refused_by_the_reader() -> None:
    depth = 220
    document = (
        b'<Patient xmlns="http://hl7.org/fhir">'
        + b'<extension url="x">' * depth
        + b"</extension>" * depth
        + b"</Patient>"
    )
    assert "nested more than" in rejection(document).issues[0].diagnostics


def test_deep_json_is_refused_by_the_writer() -> None:
    extension: dict[str, Any] = {"url": "x", "valueString": "bottom"}
    for _ in range(300):
        extension = {"url": "x", "extension": [extension]}
    with pytest.raises(FhirError) as caught:
        json_to_xml({"resourceType": "Patient", "extension": [extension]})
    assert caught.value.status == 400


def test_huge_documents_are_refused_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parsing, "MAX_DOCUMENT_BYTES", 100)
    rejection(b'<Patient xmlns="http://hl7.org/fhir">' + b" " * 200 + b"</Patient>")


def test_unknown_element_is_located_by_fhirpath() -> None:
    failure = rejection(
        b'<Patient xmlns="http://hl7.org/fhir"><name><given value="a"/></name><name><nickname value="b"/></name></Patient>'
    )
    assert expression(failure) == ("Patient.name[1].nickname",)
    assert "line 1" in failure.issues[0].diagnostics


def test_unknown_element_inside_a_bundle_entry_is_located() -> None:
    document = (
        b'<Bundle xmlns="http://hl7.org/fhir"><type value="collection"/><entry><resource>'
        b'<Patient><birthDate value="2000"><extension url="u"><valueFoo value="1"/></extension></birthDate></Patient>'
        b"</resource></entry></Bundle>"
    )
    assert expression(rejection(document)) == ("Bundle.entry[0].resource.birthDate.extension[0].valueFoo",)


@pytest.mark.parametrize(
    "document",
    [
        b"<Patient><active value='true'/></Patient>",
        b'<Patient xmlns="http://example.org/not-fhir"/>',
        b'<Patient xmlns="http://hl7.org/fhir"><x:active xmlns:x="http://example.org" value="true"/></Patient>',
        b'<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><div><p>fhir namespace</p></div></text></Patient>',
    ],
    ids=["no-namespace", "other-root-namespace", "other-child-namespace", "div-in-fhir-namespace"],
)
def test_wrong_namespaces_are_refused(document: bytes) -> None:
    rejection(document)


@pytest.mark.parametrize(
    ("document", "where"),
    [
        (b'<Patient xmlns="http://hl7.org/fhir">hello</Patient>', "Patient"),
        (b'<Patient xmlns="http://hl7.org/fhir"><active value="true"/>tail</Patient>', "Patient"),
        (
            b'<Patient xmlns="http://hl7.org/fhir"><name><family>Smith</family></name></Patient>',
            "Patient.name[0].family",
        ),
    ],
)
def test_text_content_is_refused_where_fhir_has_none(document: bytes, where: str) -> None:
    assert expression(rejection(document)) == (where,)


@pytest.mark.parametrize(
    ("document", "where"),
    [
        (b'<Patient xmlns="http://hl7.org/fhir"><active value="yes"/></Patient>', "Patient.active"),
        (
            b'<Patient xmlns="http://hl7.org/fhir"><multipleBirthInteger value="1.5"/></Patient>',
            "Patient.multipleBirthInteger",
        ),
        (
            b'<Patient xmlns="http://hl7.org/fhir"><active value="true"/><active value="false"/></Patient>',
            "Patient.active",
        ),
        (b'<Patient xmlns="http://hl7.org/fhir"><name><given/></name></Patient>', "Patient.name[0].given[0]"),
        (b'<Patient xmlns="http://hl7.org/fhir"><active value="true" colour="red"/></Patient>', "Patient.active"),
        (
            b'<Patient xmlns="http://hl7.org/fhir"><contained><Patient/><Patient/></contained></Patient>',
            "Patient.contained[0]",
        ),
        (b'<Patient xmlns="http://hl7.org/fhir"><contained><HumanName/></contained></Patient>', "Patient.contained[0]"),
        (
            b'<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml"><svg:svg xmlns:svg="http://www.w3.org/2000/svg"/></div></text></Patient>',
            "Patient.text.div",
        ),
    ],
    ids=[
        "boolean",
        "integer",
        "repeated-singleton",
        "empty-primitive",
        "unknown-attribute",
        "two-contained",
        "not-a-resource",
        "svg-in-div",
    ],
)
def test_invalid_shapes_are_located(document: bytes, where: str) -> None:
    assert expression(rejection(document)) == (where,)


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"   ",
        b"<Patient xmlns='http://hl7.org/fhir'><active value='true'></Patient>",
        b"<Patient xmlns='http://hl7.org/fhir'/><Patient xmlns='http://hl7.org/fhir'/>",
        b"<Patient xmlns='http://hl7.org/fhir'><name><family value='M\xfcller'/></name></Patient>",
        b"\xff\xfe<\x00P\x00a\x00t\x00i\x00e\x00n\x00t\x00/\x00>\x00",
        b"<Patient xmlns='http://hl7.org/fhir'><id value='\x01'/></Patient>",
        b'<?xml version="1.0" encoding="ISO-8859-1"?><Patient xmlns="http://hl7.org/fhir"><id value="\xe9"/></Patient>',
        b'<HumanName xmlns="http://hl7.org/fhir"/>',
        b"not xml at all",
    ],
    ids=[
        "empty",
        "blank",
        "unclosed",
        "two-roots",
        "latin1-bytes",
        "utf16",
        "control-char",
        "declared-latin1",
        "not-a-resource",
        "text",
    ],
)
def test_malformed_documents_and_invalid_utf8_are_refused(document: bytes) -> None:
    rejection(document)


def test_non_bytes_input_is_refused() -> None:
    with pytest.raises(FhirError):
        xml_to_json("<Patient xmlns='http://hl7.org/fhir'/>")  # type: ignore[arg-type]


SAMPLE = (FHIRPATH_INPUT / "patient-example.xml").read_bytes() if FHIRPATH_INPUT.exists() else b"<x/>"


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(SAMPLE)), st.binary(max_size=8))
def test_corrupted_documents_raise_only_fhir_errors(cut: int, noise: bytes) -> None:
    try:
        xml_to_json(SAMPLE[:cut] + noise + SAMPLE[cut:])
    except FhirError as failure:
        assert failure.status == 400


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_fhir_errors(data: bytes) -> None:
    try:
        xml_to_json(data)
    except FhirError as failure:
        assert failure.status == 400


# --- what the writer refuses ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "where"),
    [
        ({"resourceType": "Patient", "nickname": "x"}, "Patient.nickname"),
        ({"resourceType": "Patient", "name": [{"given": "not-an-array"}]}, "Patient.name[0].given"),
        ({"resourceType": "Patient", "active": "true"}, "Patient.active"),
        ({"resourceType": "Patient", "name": {"family": "x"}}, "Patient.name"),
        ({"resourceType": "Patient", "name": [{"family": "a\x00b"}]}, "Patient.name[0].family"),
        (
            {"resourceType": "Patient", "text": {"status": "generated", "div": "<div>no namespace</div>"}},
            "Patient.text.div",
        ),
        (
            {
                "resourceType": "Patient",
                "text": {"status": "generated", "div": "<div xmlns='http://www.w3.org/1999/xhtml'>&nbsp;</div>"},
            },
            "Patient.text.div",
        ),
        ({"resourceType": "Patient", "contained": [{"resourceType": "Nothing"}]}, "Patient.contained[0]"),
        ({"resourceType": "Patient", "name": [{"given": [None]}]}, "Patient.name[0].given[0]"),
    ],
    ids=[
        "unknown",
        "scalar-for-array",
        "string-for-boolean",
        "object-for-array",
        "nul-char",
        "div-namespace",
        "undefined-entity",
        "unknown-type",
        "null-item",
    ],
)
def test_json_that_xml_cannot_carry_faithfully_is_refused_with_a_location(resource: dict[str, Any], where: str) -> None:
    with pytest.raises(FhirError) as caught:
        json_to_xml(resource)
    assert caught.value.status == 400
    assert caught.value.issues[0].expression == (where,)


def test_unknown_root_resource_type_is_refused() -> None:
    with pytest.raises(FhirError):
        json_to_xml({"resourceType": "HumanName"})
