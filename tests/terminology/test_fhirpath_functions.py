"""FHIRPath memberOf(), subsumes() and subsumedBy() through the terminology service: users' value
sets (with filters) and code systems from the store, core ones from memory, in the engine, in the
invariants checked on write, and in `ember fhirpath --database`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from ember import terminology
from ember.cli import app
from ember.fhir import fhirpath, terminology_hooks
from ember.fhir.fhirpath.model import resource_node
from ember.fhir.invariants import check_invariants, walk
from ember.fhir.invariants.rules import Rule, compile_expression
from ember.store.base import Store
from ember.terminology.snapshot import settle
from tests.terminology.test_expand import LAB, LAB_SYSTEM, include, value_set
from tests.terminology.test_spec_examples import put

pytestmark = pytest.mark.anyio

CHEMISTRY = value_set("chemistry", include(("concept", "is-a", "chem")))
CHEMISTRY_URL = CHEMISTRY["url"]
ACT_MOOD = "http://terminology.hl7.org/CodeSystem/v3-ActMood"


def observation(code: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LAB, "code": code}]},
        "category": [{"coding": [{"system": LAB, "code": "chem"}]}],
    }


def evaluate(resource: dict[str, Any], expression: str) -> list[Any]:
    return fhirpath.evaluate(resource, expression, terminology=terminology_hooks.installed())


async def test_member_of_a_users_value_set_with_a_filter(client: httpx.AsyncClient, store: Store) -> None:
    await put(client, LAB_SYSTEM)
    await put(client, CHEMISTRY)
    expression = f"code.memberOf('{CHEMISTRY_URL}')"
    await terminology.keep_current(store)
    # Not fetched ahead (no binding names it): unknown on first use, then fetched.
    assert evaluate(observation("glu"), expression) == []
    assert await settle(store, lambda: evaluate(observation("glu"), expression)) == [True]
    assert evaluate(observation("hgb"), expression) == [False]
    assert evaluate(observation("chem"), f"code.coding.code.memberOf('{CHEMISTRY_URL}')") == [True]


async def test_subsumes_and_subsumed_by_in_a_users_code_system(client: httpx.AsyncClient, store: Store) -> None:
    await put(client, LAB_SYSTEM)
    above = "category[0].coding.subsumes(%resource.code.coding)"
    below = "code.coding.subsumedBy(%resource.category[0].coding)"
    assert await settle(store, lambda: evaluate(observation("glu"), above)) == [True]
    assert evaluate(observation("glu"), below) == [True]
    assert evaluate(observation("hgb"), above) == [False]
    assert evaluate(observation("hgb"), below) == [False]
    assert evaluate(observation("chem"), above) == [True]  # equivalent
    assert evaluate(observation("unknown-code"), above) == []


def test_subsumes_in_a_core_code_system() -> None:
    terminology.install()
    expectation = {"system": ACT_MOOD, "code": "EXPEC"}
    goal = {"system": ACT_MOOD, "code": "GOL"}
    hooks = {"terminology": terminology_hooks.installed()}
    assert fhirpath.evaluate(expectation, "subsumes(%goal)", {"goal": goal}, **hooks) == [True]
    assert fhirpath.evaluate(expectation, "subsumedBy(%goal)", {"goal": goal}, **hooks) == [False]
    assert fhirpath.evaluate(goal, "subsumedBy(%expectation)", {"expectation": expectation}, **hooks) == [True]
    # No shared code system, a system that is not a string, an unknown code: it cannot tell.
    for other in ({"system": "http://x", "code": "GOL"}, {"system": 5, "code": "GOL"}, dict(goal, code="nope")):
        assert fhirpath.evaluate(expectation, "subsumes(%other)", {"other": other}, **hooks) == []


def test_invariants_on_write_ask_the_installed_terminology(monkeypatch: pytest.MonkeyPatch) -> None:
    terminology.install()
    seen: list[Any] = []
    original = walk.violated

    def spy(rule: Rule, focus: Any, scope: walk.Scope) -> bool:
        seen.append(scope.terminology)
        return original(rule, focus, scope)

    monkeypatch.setattr(walk, "violated", spy)
    check_invariants({"resourceType": "Organization", "name": "x", "telecom": [{"system": "phone", "value": "1"}]})
    assert seen and all(service is terminology_hooks.installed() for service in seen)
    rule = Rule("x-1", "error", "chemistry only", "", compile_expression(f"code.memberOf('{CHEMISTRY_URL}')"))
    node = resource_node(observation("hgb"))
    assert walk.violated(rule, node, walk.Scope(node, {}, FalseForAll())) is True


class FalseForAll:
    def member_of(self, coded: Any, value_set: str) -> bool | None:
        return False

    def subsumes(self, coded_a: Any, coded_b: Any) -> bool | None:
        return False


def test_fhirpath_command_reads_users_value_sets_from_the_database(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'ember.db'}"
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
            for r in (LAB_SYSTEM, CHEMISTRY)
        ],
    }
    (tmp_path / "terminology.json").write_text(json.dumps(bundle))
    (tmp_path / "glucose.json").write_text(json.dumps(observation("glu")))
    runner = CliRunner()
    assert runner.invoke(app, ["load", str(tmp_path / "terminology.json"), "--database", database]).exit_code == 0
    expression = f"code.memberOf('{CHEMISTRY_URL}')"
    found = runner.invoke(app, ["fhirpath", expression, str(tmp_path / "glucose.json"), "--database", database])
    assert found.exit_code == 0, found.output
    assert json.loads(found.output) == [True]
    offline = runner.invoke(app, ["fhirpath", expression, str(tmp_path / "glucose.json")])
    assert json.loads(offline.output) == []  # without the database the value set is unknown
    status = "status.memberOf('http://hl7.org/fhir/ValueSet/observation-status')"
    core = runner.invoke(app, ["fhirpath", status, str(tmp_path / "glucose.json")])
    assert json.loads(core.output) == [True]
