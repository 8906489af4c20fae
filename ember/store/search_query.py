"""A parsed FHIR search, as plain values: what the interaction layer hands the store.

The interaction layer turns `?code=http://loinc.org|8867-4&date=ge2021` into these conditions
(knowing the parameter types and the spec's rules for prefixes, modifiers and escaping); the
store turns them into SQL (search_sql.py) and adds the caller's access filter. Nothing here
knows HTTP or SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

Prefix = Literal["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"]


@dataclass(frozen=True, slots=True)
class TokenCondition:
    """`system|code` forms: `system` None means any system ('' means none); `code` None any code."""

    param: str
    system: str | None
    code: str | None


@dataclass(frozen=True, slots=True)
class CodeSetCondition:
    """The coded value is one of `codes` ((system, code) pairs): `:in`, `:below`, `:above`."""

    param: str
    codes: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ValueSetCondition:
    """`:in`: the coded value is in the value set `url`. The service layer replaces it with a
    CodeSetCondition from the terminology service before the store sees the query."""

    param: str
    url: str


@dataclass(frozen=True, slots=True)
class HierarchyCondition:
    """`:below` / `:above` on a code: replaced with a CodeSetCondition like ValueSetCondition."""

    param: str
    system: str
    code: str
    direction: Literal["above", "below"]


@dataclass(frozen=True, slots=True)
class StringCondition:
    """`value` is normalised for prefix and contains, as written for exact."""

    param: str
    mode: Literal["prefix", "exact", "contains"]
    value: str


@dataclass(frozen=True, slots=True)
class RangeCondition:
    """A number, date or quantity compared with a prefix. `low`/`high` is the range the search
    value covers given its precision; quantities may also name a unit (`canonical` when the unit
    was converted to UCUM base units, compared against the canonical columns)."""

    table: Literal["number", "date", "quantity"]
    param: str
    prefix: Prefix
    low: float | int
    high: float | int
    system: str | None = None
    code: str | None = None
    canonical: bool = False
    #: The number as written (scaled to canonical units), which gt/lt/ge/le/sa/eb compare with
    #: on numbers and quantities (search.html#number); None for dates, whose prefixes compare ranges.
    exact: float | None = None


@dataclass(frozen=True, slots=True)
class ReferenceCondition:
    param: str
    target_type: str | None = None
    target_id: str | None = None
    url: str | None = None
    version: str | None = None


@dataclass(frozen=True, slots=True)
class UriCondition:
    param: str
    mode: Literal["eq", "above", "below"]
    value: str


@dataclass(frozen=True, slots=True)
class MissingCondition:
    table: str
    param: str
    missing: bool


@dataclass(frozen=True, slots=True)
class IdCondition:
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ChainCondition:
    """`param` refers to a resource of one of the types in `targets` matching that type's
    condition (`subject:Patient.name=x`)."""

    param: str
    targets: tuple[tuple[str, Condition], ...]


@dataclass(frozen=True, slots=True)
class HasCondition:
    """Some `source_type` resource refers to this one through `source_param` and matches
    `condition` (`_has:Observation:patient:code=x`)."""

    source_type: str
    source_param: str
    condition: Condition


@dataclass(frozen=True, slots=True)
class CompositeCondition:
    """Every part matches within the same composite value (the same `grp`)."""

    parts: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class CompartmentCondition:
    """The resource is in the compartment of `compartment_type/compartment_id`: it is that
    resource, or refers to it through one of `params` (the CompartmentDefinition's)."""

    compartment_type: str
    compartment_id: str
    params: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ListCondition:
    """The resource is an item of List/`list_id`."""

    list_id: str


@dataclass(frozen=True, slots=True)
class NearCondition:
    """Location.position within `kilometres` of the point (search.html#special)."""

    latitude: float
    longitude: float
    kilometres: float


@dataclass(frozen=True, slots=True)
class AnyOf:
    """OR of the conditions (a comma-separated value list)."""

    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AllOf:
    """AND of the conditions (a SMART scope restriction with several parameters)."""

    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    condition: Condition


Condition: TypeAlias = (
    TokenCondition
    | CodeSetCondition
    | ValueSetCondition
    | HierarchyCondition
    | StringCondition
    | RangeCondition
    | ReferenceCondition
    | UriCondition
    | MissingCondition
    | IdCondition
    | ChainCondition
    | HasCondition
    | CompositeCondition
    | CompartmentCondition
    | ListCondition
    | NearCondition
    | AnyOf
    | AllOf
    | Not
)


@dataclass(frozen=True, slots=True)
class SortKey:
    """Order by an indexed parameter (`table`/`param`), or by `_id` / `_lastUpdated` (table None)."""

    param: str
    table: str | None
    descending: bool = False
    #: The parameters whose index rows hold its values, when it has none of its own (a
    #: parameter that stands for others: see row_aliases).
    rows_of: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IncludeSpec:
    """`_include=Source:param[:Target]` / `_revinclude=...` (`param` '*' for every reference)."""

    source_type: str
    param: str
    target_type: str | None = None
    iterate: bool = False


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """One search over `resource_types` (several for a system search)."""

    resource_types: tuple[str, ...]
    conditions: tuple[Condition, ...] = ()
    sort: tuple[SortKey, ...] = ()
    count: int = 50
    #: The keyset position to continue from (the sort values and the resource key of a row),
    #: and whether to page backwards from it.
    after: tuple[object, ...] | None = None
    backwards: bool = False
    with_total: bool = False
    include: tuple[IncludeSpec, ...] = field(default=())
    revinclude: tuple[IncludeSpec, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class SearchMatch:
    """A matching resource and its position in the order (what a cursor resumes from)."""

    resource_type: str
    id: str
    body: bytes
    position: tuple[object, ...]
