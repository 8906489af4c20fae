"""Turning `:in`, `:not-in`, `:below` and `:above` on codes into plain code sets.

The store cannot call the terminology service (it sits above the store), so the parser leaves
these modifiers as ValueSetCondition / HierarchyCondition and this module asks the terminology
service for their codes before the query goes down, anywhere in the condition tree (inside OR
lists, chains, `_has` and composites).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ember.access import AccessContext
from ember.fhir.outcome import error
from ember.store.base import Store
from ember.store.search_query import (
    AllOf,
    AnyOf,
    ChainCondition,
    CodeSetCondition,
    CompositeCondition,
    Condition,
    HasCondition,
    HierarchyCondition,
    Not,
    ValueSetCondition,
)


async def resolve_code_sets(ctx: AccessContext, store: Store, condition: Condition) -> Condition:
    """`condition` with every value set and code hierarchy replaced by its codes; 400 for an
    unknown value set or code."""
    # Imported here: the terminology service imports the interaction layer's write observers.
    from ember import terminology

    if isinstance(condition, ValueSetCondition):
        codes = await terminology.value_set_codes(ctx, store, condition.url)
        if codes is None:
            raise error(400, "not-found", f"The value set '{condition.url[:100]}' is not known here", condition.param)
        return CodeSetCondition(condition.param, tuple(codes))
    if isinstance(condition, HierarchyCondition):
        walk = terminology.descendants if condition.direction == "below" else terminology.ancestors
        related = await walk(store, condition.system, condition.code)
        if not related:
            message = f"The code {condition.system[:80]}|{condition.code[:40]} is not known here"
            raise error(400, "not-found", message, condition.param)
        return CodeSetCondition(condition.param, tuple((condition.system, code) for code in related))
    if isinstance(condition, AnyOf | AllOf | CompositeCondition):
        field = "parts" if isinstance(condition, CompositeCondition) else "conditions"
        parts = tuple([await resolve_code_sets(ctx, store, part) for part in getattr(condition, field)])
        return dataclasses.replace(condition, **{field: parts})
    if isinstance(condition, Not | HasCondition):
        return dataclasses.replace(condition, condition=await resolve_code_sets(ctx, store, condition.condition))
    if isinstance(condition, ChainCondition):
        targets = tuple([(kind, await resolve_code_sets(ctx, store, inner)) for kind, inner in condition.targets])
        return dataclasses.replace(condition, targets=targets)
    return condition


def needs_terminology(condition: Any) -> bool:
    """Whether resolving `condition` would call the terminology service."""
    if isinstance(condition, ValueSetCondition | HierarchyCondition):
        return True
    if dataclasses.is_dataclass(condition):
        return any(needs_terminology(getattr(condition, f.name)) for f in dataclasses.fields(condition))
    if isinstance(condition, tuple):
        return any(needs_terminology(item) for item in condition)
    return False
