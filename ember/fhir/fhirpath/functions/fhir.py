"""FHIR-specific and utility functions: extension, resolve, memberOf/subsumes/subsumedBy, types, tree,
time."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from ..context import Context, Terminology
from ..errors import FhirPathEvaluationError
from ..model import Node, fhir_model
from ..navigation import children as child_nodes
from ..navigation import descendants as descendant_nodes
from ..registry import LAZY, TYPE, function
from ..syntax import TypeSpec
from ..temporal import DATE, DATETIME, TIME, Temporal
from ..type_checks import TypeMatcher, type_info
from ..values import plain, singleton
from .common import Collection, string_argument
from .resolve import resolve_reference

_LOG = logging.getLogger("ember.fhirpath")
_CORE_PROFILE = "http://hl7.org/fhir/StructureDefinition/"


@function("extension", 1)
def extension(focus: Collection, ctx: Context, url: Collection) -> Collection:
    wanted = string_argument(url, "extension")
    out: Collection = []
    for item in focus:
        if type(item) is not Node:
            continue
        container = item.value if type(item.value) is dict else item.ext
        if type(container) is not dict:
            continue
        for candidate in container.get("extension") or ():
            if candidate.get("url") == wanted:
                out.append(Node(candidate, "Extension"))
    return out


def _primitive_value(item: Any) -> Any:
    value = plain(item)
    return None if isinstance(value, (dict, list)) else value


@function("hasValue")
def has_value(focus: Collection, ctx: Context) -> Collection:
    return [len(focus) == 1 and _primitive_value(focus[0]) is not None]


@function("getValue")
def get_value(focus: Collection, ctx: Context) -> Collection:
    value = _primitive_value(focus[0]) if len(focus) == 1 else None
    return [] if value is None else [value]


@function("resolve")
def resolve(focus: Collection, ctx: Context) -> Collection:
    out: Collection = []
    for item in focus:
        value = plain(item)
        reference = value.get("reference") if isinstance(value, dict) else value
        if isinstance(reference, str) and reference:
            target = resolve_reference(reference, ctx)
            if target is not None:
                out.append(Node(target, target.get("resourceType")))
    return out


@function("memberOf", 1)
def member_of(focus: Collection, ctx: Context, value_set: Collection) -> Collection:
    url = string_argument(value_set, "memberOf")
    item = singleton(focus, "memberOf()")
    if item is None or url is None:
        return []
    answer = _terminology(ctx, "memberOf").member_of(plain(item), url)
    return [] if answer is None else [answer]


@function("subsumes", 1)
def subsumes(focus: Collection, ctx: Context, code: Collection) -> Collection:
    """True when the input Coding (one of a CodeableConcept's) is equivalent to or subsumes the
    argument's; empty unless both are single items, or when the code system is unknown."""
    if len(focus) != 1 or len(code) != 1:
        return []
    answer = _terminology(ctx, "subsumes").subsumes(plain(focus[0]), plain(code[0]))
    return [] if answer is None else [answer]


@function("subsumedBy", 1)
def subsumed_by(focus: Collection, ctx: Context, code: Collection) -> Collection:
    """subsumes() the other way round: the input is equivalent to or below the argument."""
    if len(focus) != 1 or len(code) != 1:
        return []
    answer = _terminology(ctx, "subsumedBy").subsumes(plain(code[0]), plain(focus[0]))
    return [] if answer is None else [answer]


def _terminology(ctx: Context, name: str) -> Terminology:
    if ctx.terminology is None:
        raise FhirPathEvaluationError(f"{name}() needs a terminology service (terminology=...)")
    return ctx.terminology


@function("conformsTo", 1)
def conforms_to(focus: Collection, ctx: Context, profile: Collection) -> Collection:
    url = string_argument(profile, "conformsTo")
    if url is None:
        return []
    type_name = url[len(_CORE_PROFILE) :] if url.startswith(_CORE_PROFILE) else ""
    if type_name not in fhir_model().types:
        raise FhirPathEvaluationError(f"conformsTo() cannot check profile {url!r}")
    matcher = TypeMatcher(TypeSpec("FHIR", type_name))
    return [matcher.matches(item) for item in focus[:1]]


@function("htmlChecks")
def html_checks(focus: Collection, ctx: Context) -> Collection:
    return [True]


@function("children")
def children(focus: Collection, ctx: Context) -> Collection:
    return child_nodes(focus)


@function("descendants")
def descendants(focus: Collection, ctx: Context) -> Collection:
    return descendant_nodes(focus)


@function("type")
def type_(focus: Collection, ctx: Context) -> Collection:
    return [Node(type_info(item), None) for item in focus]


@function("is", 1, 1, TYPE)
def is_(focus: Collection, ctx: Context, matcher: TypeMatcher) -> Collection:
    item = singleton(focus, "is()")
    return [] if item is None else [matcher.matches(item)]


@function("as", 1, 1, TYPE)
def as_(focus: Collection, ctx: Context, matcher: TypeMatcher) -> Collection:
    matcher.check_known()
    item = singleton(focus, "as()")
    return [item] if item is not None and matcher.matches(item, exact=True) else []


@function("trace", 1, 2, LAZY)
def trace(
    focus: Collection,
    ctx: Context,
    name: Callable[..., Collection],
    projection: Callable[..., Collection] | None = None,
) -> Collection:
    label = string_argument(name(ctx.this, ctx), "trace") or ""
    shown = projection(focus, ctx) if projection is not None else focus
    if ctx.tracer is not None:
        ctx.tracer(label, [plain(item) for item in shown])
    elif _LOG.isEnabledFor(logging.DEBUG):
        _LOG.debug("trace %s: %r", label, [plain(item) for item in shown])
    return focus


def _now() -> dt.datetime:
    return dt.datetime.now().astimezone()


@function("now")
def now(focus: Collection, ctx: Context) -> Collection:
    moment = ctx.cache.setdefault("now", _now())
    offset = moment.utcoffset() or dt.timedelta(0)
    parts = (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
    return [Temporal(DATETIME, parts, moment.microsecond // 1000, int(offset.total_seconds() // 60))]


@function("today")
def today(focus: Collection, ctx: Context) -> Collection:
    moment = ctx.cache.setdefault("now", _now())
    return [Temporal(DATE, (moment.year, moment.month, moment.day))]


@function("timeOfDay")
def time_of_day(focus: Collection, ctx: Context) -> Collection:
    moment = ctx.cache.setdefault("now", _now())
    return [Temporal(TIME, (moment.hour, moment.minute, moment.second), moment.microsecond // 1000)]
