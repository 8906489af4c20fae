"""The search index tables: one per parameter type, each row (resource_type, id, param, ...,
grp), holding the current version of every resource that is not deleted.

Written in one place so both stores insert the same columns the extraction produces
(ember/fhir/search_index.py) and the query planner reads.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IndexTable:
    kind: str
    #: (column, PostgreSQL type) between `param` and `grp`, in row order.
    columns: tuple[tuple[str, str], ...]

    @property
    def name(self) -> str:
        return f"{self.kind}_index"

    @property
    def column_names(self) -> tuple[str, ...]:
        return ("resource_type", "id", "param", *(name for name, _ in self.columns), "grp")


INDEX_TABLES = (
    IndexTable("token", (("system", "text"), ("code", "text"))),
    IndexTable("string", (("value", "text"), ("exact", "text"))),
    IndexTable("number", (("low", "float8"), ("high", "float8"))),
    IndexTable("date", (("low", "int8"), ("high", "int8"))),
    IndexTable(
        "quantity",
        (
            ("system", "text"),
            ("code", "text"),
            ("low", "float8"),
            ("high", "float8"),
            ("canonical_code", "text"),
            ("canonical_low", "float8"),
            ("canonical_high", "float8"),
        ),
    ),
    IndexTable("reference", (("target_type", "text"), ("target_id", "text"), ("url", "text"), ("version", "text"))),
    IndexTable("uri", (("uri", "text"),)),
    # `_text` and `_content`: long normalised texts, only ever searched by :contains (a LIKE no
    # B-tree can answer), so they have no value index to pay for on every write.
    IndexTable("text", (("value", "text"),)),
)
