"""The interaction registry: what the edge dispatches to and what the CapabilityStatement
declares. One line per interaction, so the server can never claim what it does not do."""

from __future__ import annotations

from dataclasses import dataclass

from ember.interactions import (
    conditional_write,
    create,
    delete,
    history,
    patch,
    read,
    search,
    transaction,
    update,
    vread,
)
from ember.interactions.request import Handler


@dataclass(frozen=True, slots=True)
class Interaction:
    """`code` is the CapabilityStatement interaction code, `level` "type" or "system"."""

    code: str
    handler: Handler
    level: str


INTERACTIONS: dict[str, Interaction] = {
    entry.code: entry
    for entry in (
        Interaction("read", read.handle, "type"),
        Interaction("vread", vread.handle, "type"),
        Interaction("update", update.handle, "type"),
        Interaction("patch", patch.handle, "type"),
        Interaction("delete", delete.handle, "type"),
        Interaction("history-instance", history.handle, "type"),
        Interaction("history-type", history.handle, "type"),
        Interaction("create", create.handle, "type"),
        Interaction("conditional-update", conditional_write.handle_update, "type"),
        Interaction("conditional-delete", conditional_write.handle_delete, "type"),
        Interaction("transaction", transaction.handle, "system"),
        Interaction("batch", transaction.handle, "system"),
        Interaction("history-system", history.handle, "system"),
        Interaction("search-type", search.handle, "type"),
        Interaction("search-compartment", search.handle, "type"),
        Interaction("search-system", search.handle, "system"),
    )
}
