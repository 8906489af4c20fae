"""The searches the benchmark times, built from what the data set holds, and a first probe of each.

Every case cycles through many variants (patients, codes, months), so a figure is not the
latency of one hot cached answer. The token cases use the six vital-sign LOINC codes Synthea
records at every wellness visit (each on ~10% of Observations: a large result); the issue's
example code 8867-4 (heart rate) does not occur in the smart-synthea sample.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, replace
from urllib.parse import urlencode, urlsplit

import orjson

from bench._loadgen import HttpConnection, build_request

LOINC = "http://loinc.org"
VITAL_SIGN_CODES = ("8302-2", "29463-7", "55284-4", "72514-3", "72166-2", "39156-5")
PAGE = 50
#: Patients each case cycles through (at most).
VARIANTS = 200
DEEP_PAGE = 10
#: An idle server answers a search by id well within this.
IDLE_ANSWER_SECONDS = 0.1
#: A probe gives up after this long: a search can take minutes on a large data set.
PROBE_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class SearchCase:
    """One kind of search: `paths` are its variants; `single_parameter` cases fall under the
    target (an indexed single-parameter search under 50 ms p99 at one client)."""

    key: str
    example: str
    paths: list[str]
    single_parameter: bool


@dataclass(frozen=True)
class Probe:
    """What the first variant of a case answered: status, matches on the page, `total` if
    given, and an error text when the answer was not a searchset."""

    status: int
    matches: int = 0
    included: int = 0
    total: int | None = None
    problem: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.problem


def search_path(resource_type: str, params: list[tuple[str, str]]) -> str:
    return f"/fhir/{resource_type}?{urlencode(params)}"


def build_cases(
    patients: list[list[str]], base_families: list[str], months: list[tuple[int, int]], seed: int = 7
) -> list[SearchCase]:
    """The cases of the issue, over `patients` ([id, unique family] pairs); the date ranges are
    the calendar `months` (year, month), the first one probed and shown."""
    sample = random.Random(seed).sample(patients, min(VARIANTS, len(patients)))
    ids = [patient_id for patient_id, _ in sample]
    families = [family for _, family in sample]
    codes = [f"{LOINC}|{code}" for code in VITAL_SIGN_CODES]
    count = ("_count", str(PAGE))

    def by_code(*extra: tuple[str, str]) -> list[str]:
        return [search_path("Observation", [("code", code), *extra, count]) for code in codes]

    return [
        SearchCase("token", f"Observation?code={codes[0]}", by_code(), True),
        SearchCase(
            "reference",
            "Observation?subject=Patient/<id>",
            [search_path("Observation", [("subject", f"Patient/{i}"), count]) for i in ids],
            True,
        ),
        SearchCase(
            "date range",
            f"Observation?date=ge{months[0][0]}-{months[0][1]:02d}-01&date={_month_end(*months[0])}",
            [
                search_path("Observation", [("date", f"ge{y}-{m:02d}-01"), ("date", _month_end(y, m)), count])
                for y, m in months
            ],
            True,
        ),
        SearchCase(
            "string prefix",
            f"Patient?name={base_families[0]} (every copy)",
            [search_path("Patient", [("name", family), count]) for family in base_families],
            True,
        ),
        SearchCase(
            "chained",
            "Observation?subject.name=<unique family>",
            [search_path("Observation", [("subject.name", family), count]) for family in families],
            False,
        ),
        SearchCase(
            "_include",
            "Observation?code=...&_include=Observation:subject",
            by_code(("_include", "Observation:subject")),
            False,
        ),
        SearchCase(
            "_revinclude",
            "Patient?_id=<id>&_revinclude=Encounter:subject",
            [search_path("Patient", [("_id", i), ("_revinclude", "Encounter:subject"), count]) for i in ids],
            False,
        ),
        SearchCase(
            "_has",
            "Patient?_has:Observation:subject:code=...",
            [search_path("Patient", [("_has:Observation:subject:code", code), count]) for code in codes],
            False,
        ),
        SearchCase("_sort", "Observation?code=...&_sort=-date", by_code(("_sort", "-date")), False),
    ]


def _month_end(year: int, month: int) -> str:
    return f"lt{year + month // 12}-{month % 12 + 1:02d}-01"


def read_paths(patients: list[list[str]], seed: int = 7) -> list[str]:
    """Reads by id of the same patients the searches use: the ceiling of a search."""
    sample = random.Random(seed).sample(patients, min(VARIANTS, len(patients)))
    return [f"/fhir/Patient/{patient_id}" for patient_id, _ in sample]


def idle_probe_path(patients: list[list[str]]) -> str:
    """A search every store answers from one index lookup: prompt answers mean an idle server."""
    return search_path("Patient", [("_id", patients[0][0])])


async def wait_until_idle(host: str, port: int, path: str, connections: int, seconds: float) -> bool:
    """Whether `connections` concurrent `path` searches all came back promptly within `seconds`.
    A slow search leaves work queued in the server after the load generator stops; it would be
    charged to the next phase."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        answers = await asyncio.gather(*(probe(host, port, path) for _ in range(connections)))
        if all(answer.ok and answer.seconds < IDLE_ANSWER_SECONDS for answer, _ in answers):
            return True
        await asyncio.sleep(0.5)
    return False


async def probe(host: str, port: int, path: str) -> tuple[Probe, str | None]:
    """The first answer to `path`, and the path of its `next` link; status 0 when none came
    within PROBE_TIMEOUT_SECONDS (the server may still be working on it)."""
    connection = await HttpConnection.open(host, port)
    try:
        started = time.perf_counter()
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            status, body = await connection.send(build_request(host, port, "GET", path))
        seconds = time.perf_counter() - started
    except TimeoutError:
        return Probe(0, problem=f"no answer within {PROBE_TIMEOUT_SECONDS:g} s", seconds=PROBE_TIMEOUT_SECONDS), None
    finally:
        await connection.close()
    answer, next_path = _examine(status, body)
    return replace(answer, seconds=seconds), next_path


def _examine(status: int, body: bytes) -> tuple[Probe, str | None]:
    try:
        bundle = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        return Probe(status, problem="not JSON"), None
    if status != 200:
        issues = bundle.get("issue") or [{}]
        return Probe(status, problem=str(issues[0].get("diagnostics", "")) or f"HTTP {status}"), None
    if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "searchset":
        return Probe(status, problem="not a searchset Bundle"), None
    modes = [entry.get("search", {}).get("mode") for entry in bundle.get("entry", [])]
    next_links = [link["url"] for link in bundle.get("link", []) if link.get("relation") == "next"]
    next_path = None
    if next_links:
        parts = urlsplit(next_links[0])
        next_path = parts.path + (f"?{parts.query}" if parts.query else "")
    return Probe(status, modes.count("match"), modes.count("include"), bundle.get("total")), next_path


async def deep_page(host: str, port: int, first_path: str, page: int = DEEP_PAGE) -> tuple[Probe, str | None]:
    """Follow `next` links from `first_path` to page `page`: that page's path, or a failed probe."""
    path: str | None = first_path
    for number in range(1, page):
        answer, path = await probe(host, port, path)
        if not answer.ok:
            return answer, None
        if path is None:
            return Probe(answer.status, problem=f"no next link after page {number}"), None
    answer, _ = await probe(host, port, path)
    return answer, path
