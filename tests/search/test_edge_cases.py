"""The spec's edge cases on the loaded data (tests/search/fixtures/edge_cases.json adds the
resources Synthea lacks): date precision and Periods, :missing, escaping, chains with includes,
_revinclude, _has, _sort, _total, _summary=count, strict and lenient handling, POST _search,
system and compartment search. Where the answer can be worked out by hand it is written down;
everything is also checked against the oracle."""

from __future__ import annotations

import pytest

from ember.fhir.xml import xml_to_json
from tests.search.client import BASE, SearchClient
from tests.search.ordering import check_sorted

pytestmark = pytest.mark.anyio

P1, P2 = "urn:uuid:5e0b7a0e-0001-4000-8000-000000000001", "urn:uuid:5e0b7a0e-0001-4000-8000-000000000002"
OPEN_ENCOUNTER, DAY_ENCOUNTER = (
    "urn:uuid:5e0b7a0e-0001-4000-8000-000000000009",
    "urn:uuid:5e0b7a0e-0001-4000-8000-000000000010",
)
ESCAPED = "urn:uuid:5e0b7a0e-0001-4000-8000-000000000011"  # 2021-03-04T10:00:00Z, 1.50 mmol/L
YEAR, DAY, PERIOD = (f"urn:uuid:5e0b7a0e-0001-4000-8000-0000000000{n}" for n in (12, 13, 14))
PRECISION = ("code", "http://example.org/codes|precision,http://example.org/codes|x\\,y\\|z\\$w")


async def _matches(ember: SearchClient, resource_type: str, params: list[tuple[str, str]]) -> set[str]:
    """Ember's matches, after checking they are the oracle's."""
    params = ember.resolved(params)
    got = await ember.search(resource_type, params)
    assert set(got.matches) == ember.oracle.matches(resource_type, params)
    return set(got.matches)


def _keys(ember: SearchClient, *full_urls: str) -> set[str]:
    return {ember.data.identities[url] for url in full_urls}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2021", {ESCAPED, YEAR, DAY, PERIOD}),
        ("2021-03", {ESCAPED, DAY, PERIOD}),
        ("2021-03-04", {ESCAPED, DAY, PERIOD}),
        ("2021-03-04T10:00Z", {ESCAPED}),
        ("2021-03-04T10:00:00Z", {ESCAPED}),
        ("gt2021-03-04T09:59Z", {ESCAPED, YEAR, DAY, PERIOD}),  # the period ends at 10:00:00Z (its second)
        ("lt2021-03-04T09:00Z", {YEAR, DAY, PERIOD}),  # the period starts at 08:30Z
        ("sa2021-03-04", set()),  # the year starts before the day
        ("eb2021-03-04", set()),
        ("ge2022", set()),  # the year 2021 ends where 2022 starts
        ("le2020", set()),
        ("ne2021-03-04", {YEAR}),
    ],
)
async def test_date_precision(ember: SearchClient, value: str, expected: set[str]) -> None:
    """Observations dated 2021 (a year), 2021-03-04 (a day), 2021-03-04T10:00:00Z and a Period
    08:30Z-10:00Z that day; each search value covers the range its precision implies."""
    found = await _matches(ember, "Observation", [PRECISION, ("date", value)])
    assert found == _keys(ember, *expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("gt2030-01-01", {OPEN_ENCOUNTER}),  # an open Period goes on for ever
        ("eq2021-03-04", set()),  # the open one is not inside the day; the other ends on the 5th
        ("eq2021-03", {DAY_ENCOUNTER}),
        ("sa2021-03-03", {OPEN_ENCOUNTER, DAY_ENCOUNTER}),
        ("eb2021-03-06", {DAY_ENCOUNTER}),
    ],
)
async def test_period_ranges(ember: SearchClient, value: str, expected: set[str]) -> None:
    subject = ("subject", f"{{ref:{P1}}}")
    assert await _matches(ember, "Encounter", [subject, ("date", value)]) == _keys(ember, *expected)


async def test_missing(ember: SearchClient) -> None:
    missing = await _matches(ember, "Patient", [("birthdate:missing", "true")])
    assert _keys(ember, P2) == missing
    present = await _matches(ember, "Patient", [("birthdate:missing", "false")])
    assert not present & missing and len(present) == 8


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ([("code", "http://example.org/codes|x\\,y\\|z\\$w")], {ESCAPED}),
        ([("code", "x\\,y\\|z\\$w")], {ESCAPED}),
        ([("code", "x,y")], set()),  # two codes, neither exists
        ([("code", "x\\,y")], set()),  # one code "x,y": not the whole code
        ([("code-value-quantity", "http://example.org/codes|x\\,y\\|z\\$w$gt1.000")], {ESCAPED}),
        ([("code-value-quantity", "x\\,y\\|z\\$w$lt1.000")], set()),
    ],
)
async def test_escaping(ember: SearchClient, params: list[tuple[str, str]], expected: set[str]) -> None:
    assert await _matches(ember, "Observation", params) == _keys(ember, *expected)


async def test_escaped_identifier(ember: SearchClient) -> None:
    found = await _matches(ember, "Patient", [("identifier", "http://example.org/ids|a\\|b\\,c\\$d")])
    assert found == _keys(ember, P1)


async def test_accents_and_case(ember: SearchClient) -> None:
    for value in ("angstrom", "ÅNGSTRÖM", "Ångström-Ñúñez"):
        assert await _matches(ember, "Patient", [("family", value)]) == _keys(ember, P1)
    assert await _matches(ember, "Patient", [("family:exact", "Angstrom-Nunez")]) == set()
    assert await _matches(ember, "Patient", [("name:contains", "ÑÚÑ")]) == _keys(ember, P1)


async def test_quantity_precision(ember: SearchClient) -> None:
    """1.50 means [1.495, 1.505): 1.50 matches, 1.51 and 1.4 do not; 1.5 is [1.45, 1.55)."""
    found = await _matches(
        ember, "Observation", [PRECISION, ("value-quantity", "1.50|http://unitsofmeasure.org|mmol/L")]
    )
    assert found == _keys(ember, ESCAPED)
    found = await _matches(ember, "Observation", [PRECISION, ("value-quantity", "1.5||mmol/L")])
    assert found == _keys(ember, ESCAPED, DAY)


async def test_chain_with_include(ember: SearchClient) -> None:
    params = ember.resolved([("subject:Patient.family", "angstrom"), ("_include", "Observation:subject")])
    got = await ember.search("Observation", params)
    matched = ember.oracle.matches("Observation", params)
    assert set(got.matches) == matched and _keys(ember, ESCAPED, YEAR) <= matched
    assert got.includes == ember.oracle.includes(matched, params) == _keys(ember, P1)
    modes = {entry["search"]["mode"] for bundle in got.bundles for entry in bundle.get("entry", [])}
    assert modes == {"match", "include"}


async def test_chain_two_levels(ember: SearchClient) -> None:
    found = await _matches(ember, "Observation", [("encounter.subject:Patient.family", "ångström")])
    assert found == _keys(ember, ESCAPED)


@pytest.mark.parametrize(
    "includes",
    [
        [("_include", "Observation:encounter"), ("_include:iterate", "Encounter:subject")],
        [("_include", "Observation:*")],
        [("_include", "Observation:subject:Patient"), ("_include", "Observation:performer")],
    ],
    ids=["iterate", "wildcard", "typed"],
)
async def test_includes(ember: SearchClient, includes: list[tuple[str, str]]) -> None:
    params = [PRECISION, *includes]
    got = await ember.search("Observation", params)
    matched = ember.oracle.matches("Observation", params)
    assert set(got.matches) == matched
    assert got.includes == ember.oracle.includes(matched, params)


async def test_revinclude(ember: SearchClient) -> None:
    params = ember.resolved(
        [("_id", f"{{id:{P1}}}"), ("_revinclude", "Observation:subject"), ("_revinclude", "Encounter:subject")]
    )
    got = await ember.search("Patient", params)
    assert got.matches == [ember.data.identities[P1]]
    expected = ember.oracle.includes({ember.data.identities[P1]}, params)
    assert got.includes == expected and _keys(ember, ESCAPED, YEAR, OPEN_ENCOUNTER, DAY_ENCOUNTER) <= expected


@pytest.mark.parametrize(
    "has",
    [
        ("_has:Observation:subject:code", "http://loinc.org|8302-2"),
        ("_has:Observation:patient:code", "precision"),
        ("_has:Encounter:subject:_has:Observation:encounter:code", "x\\,y\\|z\\$w"),
        ("_has:Observation:subject:code", "no-such-code"),
        ("_has:Observation:subject:encounter:Encounter.class", "AMB"),
        ("_has:Observation:subject:value-quantity", "gt150|http://unitsofmeasure.org|cm"),
        ("_has:Observation:subject:_tag:not", "synthea-5-2019"),
    ],
)
async def test_has(ember: SearchClient, has: tuple[str, str]) -> None:
    await _matches(ember, "Patient", [has])


async def test_in_and_not_in_a_value_set_loaded_with_the_data(ember: SearchClient) -> None:
    inside = await _matches(ember, "Observation", [("code:in", "http://example.org/fhir/ValueSet/lipids")])
    assert inside
    outside = await _matches(ember, "Observation", [("code:not-in", "http://example.org/fhir/ValueSet/lipids")])
    assert not inside & outside and len(inside | outside) == len(ember.oracle.keys_of("Observation"))


@pytest.mark.parametrize(
    ("modifier", "code", "expected"),
    [
        ("below", "polygon", {16, 17, 19}),
        ("below", "shape", {16, 17, 18, 19}),
        ("above", "triangle", {16, 19}),
        ("below", "circle", {18}),
    ],
)
async def test_code_hierarchy_of_a_code_system_loaded_with_the_data(
    ember: SearchClient, modifier: str, code: str, expected: set[int]
) -> None:
    """shape > polygon > (triangle 16, square 17); shape > circle 18; one Observation each
    (polygon 19)."""
    query = f"http://example.org/fhir/CodeSystem/shapes|{code}"
    found = await _matches(ember, "Observation", [(f"code:{modifier}", query)])
    assert found == _keys(ember, *(f"urn:uuid:5e0b7a0e-0001-4000-8000-0000000000{n}" for n in expected))


async def test_reference_identifier(ember: SearchClient) -> None:
    found = await _matches(
        ember, "Observation", [("performer:identifier", "http://hl7.org/fhir/sid/us-npi|9999999999")]
    )
    assert found == _keys(ember, YEAR)


@pytest.mark.parametrize(
    "params",
    [
        [("gender", "male,female")],
        [("gender", "male"), ("birthdate", "lt1990")],
        [("birthdate", "ge1950"), ("birthdate", "lt1990")],
        [("_lastUpdated", "gt2000-01-01")],
        [("_lastUpdated", "lt2000-01-01")],
        [("_tag", "https://smarthealthit.org/tags|synthea-5-2019"), ("gender:not", "male")],
    ],
)
async def test_and_or(ember: SearchClient, params: list[tuple[str, str]]) -> None:
    await _matches(ember, "Patient", params)


@pytest.mark.parametrize(
    ("resource_type", "sort", "params"),
    [
        ("Patient", "birthdate", []),
        ("Patient", "-birthdate", []),
        ("Observation", "-date", [("code", "http://loinc.org|8302-2")]),
        ("Observation", "date", [("code", "http://loinc.org|8302-2")]),
        ("Encounter", "status,date", []),
        ("Immunization", "status,-date", []),
        ("Claim", "-created", []),
        ("Observation", "value-quantity", [("code", "http://loinc.org|8302-2")]),
        ("Observation", "-value-quantity,date", [("code", "http://loinc.org|8302-2")]),
        ("Observation", "combo-value-quantity", [("code", "http://loinc.org|85354-9")]),  # two values each
        ("Observation", "-combo-value-quantity", [("code", "http://loinc.org|85354-9")]),
        ("Observation", "combo-code,date", [("patient:missing", "false"), ("date", "ge2015")]),
        ("Observation", "-combo-code,date", [("patient:missing", "false"), ("date", "ge2015")]),
    ],
)
async def test_sort(ember: SearchClient, resource_type: str, sort: str, params: list[tuple[str, str]]) -> None:
    """Descending sorts are only asked of point dates here: R4 does not say which end of a
    Period a descending sort uses."""
    await check_sorted(ember, resource_type, params, sort)


async def test_total_accurate(ember: SearchClient) -> None:
    params = [("code", "http://loinc.org|8302-2")]
    expected = len(ember.oracle.matches("Observation", params))
    accurate = (
        await ember.client.get("Observation", params=[*params, ("_total", "accurate"), ("_count", "10")])
    ).json()
    assert accurate["total"] == expected and len(accurate["entry"]) == 10
    one_page = (await ember.client.get("Patient", params=[("gender", "male")])).json()
    assert one_page["total"] == len(ember.oracle.matches("Patient", [("gender", "male")]))


async def test_summary_count(ember: SearchClient) -> None:
    """Only the total: no entries at all (an empty `entry` array is not valid FHIR JSON)."""
    params = [("code", "http://loinc.org|8302-2")]
    counted = (await ember.client.get("Observation", params=[*params, ("_summary", "count")])).json()
    assert counted["total"] == len(ember.oracle.matches("Observation", params))
    assert "entry" not in counted


async def test_default_and_maximum_page_sizes(ember: SearchClient) -> None:
    first = (await ember.client.get("Observation")).json()
    assert len(first["entry"]) == 50
    largest = (await ember.client.get("Observation", params=[("_count", "5000")])).json()
    assert len(largest["entry"]) <= 1000


async def test_unknown_parameters_are_ignored_unless_strict(ember: SearchClient) -> None:
    lenient = await ember.client.get("Patient", params=[("gender", "male"), ("no-such-parameter", "x")])
    assert lenient.status_code == 200
    bundle = lenient.json()
    self_link = next(link["url"] for link in bundle["link"] if link["relation"] == "self")
    assert "no-such-parameter" not in self_link and "gender=male" in self_link
    got = await ember.follow(lenient)
    assert set(got.matches) == ember.oracle.matches("Patient", [("gender", "male")])
    strict = await ember.client.get(
        "Patient", params=[("no-such-parameter", "x")], headers={"Prefer": "handling=strict"}
    )
    assert strict.status_code == 400 and strict.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    "params",
    [
        [("gender:no-such-modifier", "male")],
        [("birthdate", "not-a-date")],
        [("birthdate", "xx2021")],
        [("_count", "-1")],
    ],
)
async def test_bad_values_are_400(ember: SearchClient, params: list[tuple[str, str]]) -> None:
    response = await ember.client.get("Patient", params=params)
    assert response.status_code == 400 and response.json()["resourceType"] == "OperationOutcome"


async def test_post_search_is_get_search(ember: SearchClient) -> None:
    params = [("code", "http://loinc.org|8302-2"), ("date", "ge2015")]
    posted = await ember.client.post("Observation/_search", data=dict(params))
    got = await ember.follow(posted)
    assert set(got.matches) == ember.oracle.matches("Observation", params)


async def test_system_search(ember: SearchClient) -> None:
    params = [("_type", "Patient,ValueSet"), ("_lastUpdated", "gt2000-01-01")]
    got = await ember.search(BASE, params)
    assert set(got.matches) == ember.oracle.matches(None, params)


async def test_compartment_search(ember: SearchClient) -> None:
    owner = ember.data.identities[P1]
    got = await ember.search(f"{owner}/Observation", [])
    assert set(got.matches) == ember.oracle.in_compartment(owner, "Observation")
    got = await ember.search(f"{owner}/Encounter", [("status", "finished")])
    assert set(got.matches) == ember.oracle.in_compartment(owner, "Encounter") & ember.oracle.matches(
        "Encounter", [("status", "finished")]
    )


@pytest.mark.parametrize(
    ("resource_type", "params"),
    [
        ("Patient", [("name", "%")]),
        ("Patient", [("name", "_")]),
        ("Patient", [("name:contains", "%")]),
        ("Patient", [("name:contains", "_")]),
        ("Patient", [("family", "\\\\")]),
        ("Patient", [("family", "' OR '1'='1")]),
        ("Patient", [("gender", "MALE")]),  # codes are case-sensitive
        ("Patient", [("identifier", "%")]),
        ("Observation", [("code", "8302%")]),
        ("ValueSet", [("url:below", "http://example.org/fhir/ValueSet/lipid_")]),
    ],
)
async def test_wildcards_and_quotes_are_plain_characters(
    ember: SearchClient, resource_type: str, params: list[tuple[str, str]]
) -> None:
    """SQL LIKE wildcards and quotes in a search value mean themselves: nothing here matches."""
    assert await _matches(ember, resource_type, params) == set()


@pytest.mark.parametrize(
    "value",
    ["2021-03-04T11:00:00+01:00", "ge2021-03-04T11:00+01:00", "lt2021-03-04T05:00:00-05:00", "2021-03-04T10:00"],
)
async def test_timezones_in_search_values(ember: SearchClient, value: str) -> None:
    await _matches(ember, "Observation", [PRECISION, ("date", value)])


@pytest.mark.parametrize(
    ("resource_type", "params"),
    [
        ("Patient", [("gender:not", "male,female")]),
        ("Patient", [("_id", "{id:" + P1 + "},{id:" + P2 + "}")]),
        ("Observation", [("subject:Patient.birthdate:missing", "true")]),
        ("Observation", [("subject.family", "angstrom")]),  # a chain without a type: every target type
        ("Observation", [("subject:Patient.identifier", "http://example.org/ids|a\\|b\\,c\\$d")]),
        ("Encounter", [("subject:Patient._has:Observation:subject:code", "precision")]),
        ("Patient", [("_has:Observation:subject:code:missing", "false"), ("gender", "male")]),
        # Parameters read through the rows of those they stand for (row_aliases): every form.
        ("Observation", [("combo-code", "http://loinc.org|8480-6,http://loinc.org|8302-2")]),
        ("Observation", [("combo-code:not", "http://loinc.org|8480-6"), ("category", "vital-signs")]),
        ("Observation", [("combo-code:text", "systolic")]),
        ("Observation", [("combo-code:missing", "false"), ("code", "http://loinc.org|85354-9")]),
        ("Observation", [("combo-value-quantity:missing", "true"), ("category", "vital-signs")]),
        ("Observation", [("combo-value-quantity", "gt130")]),
        ("Observation", [("combo-code-value-quantity:missing", "false"), ("code", "http://loinc.org|8302-2")]),
        ("Patient", [("_has:Observation:patient:combo-code", "http://loinc.org|8480-6")]),
        ("Patient", [("phonetic", "angs")]),
    ],
)
async def test_more_combinations(ember: SearchClient, resource_type: str, params: list[tuple[str, str]]) -> None:
    await _matches(ember, resource_type, params)


async def test_canonical_units_are_all_or_nothing(ember: SearchClient) -> None:
    """Metres against heights in centimetres: a server may compare canonical units (then it is
    exactly the heights over 170 cm) or not (then nothing); never a part of them."""
    height = ("code", "http://loinc.org|8302-2")
    # Many digits: the precision range of the search value is too narrow to hold any height.
    metres = "gt1.700000|http://unitsofmeasure.org|m"
    in_metres = await ember.search("Observation", [height, ("value-quantity", metres)])
    in_centimetres = ember.oracle.matches(
        "Observation", [height, ("value-quantity", "gt170|http://unitsofmeasure.org|cm")]
    )
    assert in_centimetres and set(in_metres.matches) in (set(), in_centimetres)


async def test_system_search_with_a_parameter_both_types_have(ember: SearchClient) -> None:
    params = [("_type", "Patient,Practitioner"), ("name", "a")]
    got = await ember.search(BASE, params)
    assert set(got.matches) == ember.oracle.matches(None, params)
    assert {key.split("/")[0] for key in got.matches} == {"Patient", "Practitioner"}


async def test_includes_on_every_page(ember: SearchClient) -> None:
    """With small pages, each page carries the includes of its own matches."""
    params = [("code", "http://loinc.org|8302-2"), ("_include", "Observation:subject"), ("_count", "7")]
    got = await ember.search("Observation", params)
    assert len(got.bundles) > 2
    for bundle in got.bundles:
        entries = bundle.get("entry", [])
        matched = {
            f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in entries if e["search"]["mode"] == "match"
        }
        included = {
            f"{e['resource']['resourceType']}/{e['resource']['id']}"
            for e in entries
            if e["search"]["mode"] == "include"
        }
        assert included == ember.oracle.includes(matched, params)


async def test_revinclude_iterate(ember: SearchClient) -> None:
    params = ember.resolved(
        [
            ("_id", f"{{id:{P1}}}"),
            ("_revinclude", "Encounter:subject"),
            ("_revinclude:iterate", "Observation:encounter"),
        ]
    )
    got = await ember.search("Patient", params)
    assert got.includes == ember.oracle.includes(set(got.matches), params)
    assert _keys(ember, ESCAPED) <= got.includes


async def test_elements_on_search_results(ember: SearchClient) -> None:
    bundle = (await ember.client.get("Patient", params=[("gender", "male"), ("_elements", "birthDate")])).json()
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert set(resource) <= {"resourceType", "id", "meta", "birthDate"}, sorted(resource)
        assert any(tag.get("code") == "SUBSETTED" for tag in resource["meta"].get("tag", []))


@pytest.mark.parametrize(
    ("resource_type", "code", "number"),
    [
        ("Observation", "value-quantity", 176),
        ("Observation", "value-quantity", 79),
        ("RiskAssessment", "probability", 0.5),
    ],
)
async def test_approximately_is_about_ten_percent(
    ember: SearchClient, resource_type: str, code: str, number: float
) -> None:
    """`ap`: at least everything within 10% of the value, nothing beyond 20% (the width is the
    server's choice within reason). Single-valued parameters: the bounds are two ANDed searches."""
    got = set((await ember.search(resource_type, [(code, f"ap{number}")])).matches)
    within = ember.oracle.matches(resource_type, [(code, f"ge{number * 0.9:.6f}"), (code, f"le{number * 1.1:.6f}")])
    beyond = ember.oracle.matches(resource_type, [(code, f"ge{number * 0.8:.6f}"), (code, f"le{number * 1.2:.6f}")])
    assert within and within <= got <= beyond


@pytest.mark.parametrize("prefix", ["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb"])
@pytest.mark.parametrize("precision", ["as stored", "seconds"])
async def test_last_updated_at_the_instant_of_a_write(ember: SearchClient, prefix: str, precision: str) -> None:
    """`_lastUpdated` with a resource's own meta.lastUpdated (microseconds as the server wrote
    them, or cut to seconds): the instant must compare exactly."""
    patients = sorted(
        ember.oracle.keys_of("Patient"), key=lambda key: ember.oracle.resources[key]["meta"]["lastUpdated"]
    )
    instant = ember.oracle.resources[patients[len(patients) // 2]]["meta"]["lastUpdated"]
    if precision == "seconds":
        instant = instant[:19] + "Z"
    await _matches(ember, "Patient", [("_lastUpdated", prefix + instant)])


async def test_search_in_xml(ember: SearchClient) -> None:
    """The same searchset in XML: the same entries in the same order."""
    params = [("gender", "male"), ("_sort", "birthdate")]
    as_json = (await ember.client.get("Patient", params=params)).json()
    as_xml = await ember.client.get("Patient", params=[*params, ("_format", "xml")])
    assert as_xml.status_code == 200 and "xml" in as_xml.headers["content-type"]
    converted = xml_to_json(as_xml.content)
    assert [entry["resource"]["id"] for entry in converted["entry"]] == [
        entry["resource"]["id"] for entry in as_json["entry"]
    ]


async def test_a_long_or_list(ember: SearchClient) -> None:
    """Three hundred ids in one OR list: more values than some SQL engines bind at once."""
    wanted = ember.oracle.keys_of("Observation")[:300]
    ids = ",".join(key.split("/")[1] for key in wanted)
    got = await ember.search("Observation", [("_id", ids), ("_count", "1000")])
    assert sorted(got.matches) == sorted(wanted)


async def test_iterate_through_a_cycle_ends(ember: SearchClient) -> None:
    params = ember.resolved(
        [
            ("_id", f"{{id:{P1}}}"),
            ("_revinclude:iterate", "Observation:subject"),
            ("_include:iterate", "Observation:subject"),
            ("_include:iterate", "Observation:encounter"),
        ]
    )
    got = await ember.search("Patient", params)
    assert got.includes == ember.oracle.includes(set(got.matches), params)


async def test_pages_of_one(ember: SearchClient) -> None:
    params = [("code", "http://loinc.org|8302-2"), ("_count", "1")]
    got = await ember.search("Observation", params)
    assert len(got.bundles) == len(got.matches) == len(set(got.matches))
    assert set(got.matches) == ember.oracle.matches("Observation", params)


async def test_summary_true_on_search_results(ember: SearchClient) -> None:
    bundle = (await ember.client.get("Patient", params=[("gender", "male"), ("_summary", "true")])).json()
    assert bundle["entry"]
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert not {"maritalStatus", "communication", "text"} & set(resource), sorted(resource)
        assert any(tag.get("code") == "SUBSETTED" for tag in resource["meta"].get("tag", []))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ge0.8", {5}),
        ("gt0.2", {3, 4, 5}),
        ("lt0.8", {3, 4}),
        ("le0.5", {3, 4}),
        ("gt99", {5}),
        ("lt0.3", {3}),
    ],
)
async def test_number_prefixes_compare_with_the_number_itself(
    ember: SearchClient, value: str, expected: set[int]
) -> None:
    """The spec's number table: `gt100` is "greater than exactly 100", not greater than the end
    of 100's precision range. Probabilities: 0.25 (3), 0.5 and 0.755 (4), 100 (5)."""
    found = await _matches(ember, "RiskAssessment", [("probability", value)])
    assert found == _keys(ember, *(f"urn:uuid:5e0b7a0e-0001-4000-8000-00000000000{n}" for n in expected))
