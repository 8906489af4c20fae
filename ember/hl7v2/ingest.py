"""Receiving one message: parse, map, apply as one FHIR transaction, acknowledge.

The order is what makes the feed safe. The ACK with AA is built only after the transaction that
holds the message's writes has committed; the record of the message's control id (MSH-10, per
sender) is written in that same transaction, so a resent message finds it and is acknowledged
again without being applied twice, and a crash before the commit leaves neither writes nor
record, so the sender's resend applies it once. A message that cannot be parsed (AR) or mapped
or stored (AE) goes to the dead-letter store with its error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ember.access import AccessContext
from ember.fhir.outcome import FhirError
from ember.hl7v2 import dead_letters
from ember.hl7v2.ack import ACCEPT, ERROR, REJECT, ErrorDetail, acknowledgement
from ember.hl7v2.context import MappingError
from ember.hl7v2.mapper import CodeTranslator, map_message
from ember.hl7v2.message import Message, MessageError, decode, parse_message
from ember.interactions.bundle_entries import read_bundle
from ember.interactions.prefer import MINIMAL
from ember.interactions.transaction import execute_transaction
from ember.store.base import Store, Transaction

log = logging.getLogger("ember.hl7v2")

PROCESSED = "hl7v2-message"
_CONTEXT = AccessContext.system("hl7v2")


class _AlreadyProcessed(FhirError):
    """Raised inside the transaction when a concurrent copy of the message won: roll back."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The ACK to send back and what happened, for logs and tests."""

    ack: str
    code: str
    dead_letter: str | None = None
    duplicate: bool = False
    #: `Type/id/_history/version` of each resource the message wrote.
    written: tuple[str, ...] = ()


@dataclass(slots=True)
class Ingestor:
    """Turns inbound messages into FHIR writes on `store`."""

    store: Store
    translator: CodeTranslator | None = None
    base_url: str = "http://localhost/fhir"

    async def receive(self, data: bytes) -> Outcome:
        """Process one message (bytes as framed) and return its acknowledgement."""
        text = decode(data)
        try:
            message = parse_message(text)
        except MessageError as failure:
            control_id = _readable_control_id(text)
            return await self._reject(None, text, REJECT, ErrorDetail(str(failure), "102"), control_id)
        return await self.apply(message)

    async def apply(self, message: Message) -> Outcome:
        key = message.idempotency_key
        if await self._seen(key):
            return Outcome(acknowledgement(message, ACCEPT), ACCEPT, duplicate=True)
        try:
            bundle = await map_message(message, self.translator)
            _, entries = read_bundle(bundle, self.base_url)
            response = await execute_transaction(
                _CONTEXT, entries, self.store, MINIMAL, alongside=_record(key, len(entries))
            )
        except _AlreadyProcessed:
            return Outcome(acknowledgement(message, ACCEPT), ACCEPT, duplicate=True)
        except MappingError as failure:
            detail = ErrorDetail(failure.text, failure.code, failure.segment, failure.sequence, failure.field_number)
            return await self._reject(message, message.raw, ERROR, detail)
        except FhirError as failure:
            return await self._reject(message, message.raw, ERROR, ErrorDetail(_describe(failure), "207"))
        written = tuple(entry["response"]["location"] for entry in (response.resource or {}).get("entry", []))
        return Outcome(acknowledgement(message, ACCEPT), ACCEPT, written=written)

    async def _seen(self, key: str) -> bool:
        """Whether the message was applied already, from the committed state: no turn of the
        store's writer (on SQLite, a lock shared by every worker, and the wait for its group's
        COMMIT). A resend that slips past (its first copy commits meanwhile) meets the record
        inside its own transaction, which then rolls back (`_record`)."""
        return await self.store.lookups().get_record(PROCESSED, key) is not None

    async def _reject(
        self, message: Message | None, text: str, code: str, detail: ErrorDetail, control_id: str = ""
    ) -> Outcome:
        control_id = message.control_id if message else control_id
        letter = await dead_letters.add(self.store, text, code, detail.text, control_id)
        log.warning("HL7 v2 message %r answered %s (dead letter %s): %s", control_id, code, letter, detail.text)
        return Outcome(acknowledgement(message, code, detail, control_id), code, dead_letter=letter)


def _record(key: str, resources: int) -> Callable[[Transaction], Awaitable[None]]:
    """The work run inside the message's transaction: its control-id record, or a rollback
    when a concurrent copy of the message committed first."""

    async def alongside(tx: Transaction) -> None:
        if not await tx.insert_record(PROCESSED, key, {"processed": time.time(), "resources": resources}):
            raise _AlreadyProcessed(409)

    return alongside


def _describe(failure: FhirError) -> str:
    """A FHIR error as one line for ERR-8 and the dead letter: what and where."""
    parts = [
        f"{issue.diagnostics} ({', '.join(issue.expression)})" if issue.expression else issue.diagnostics
        for issue in failure.issues[:3]
    ]
    return "; ".join(parts) or str(failure)


def _readable_control_id(text: str) -> str:
    """MSH-10 of a message that failed to parse, if it can be read at all (for MSA-2)."""
    if not text.startswith("MSH") or len(text) < 4:
        return ""
    fields = text.split("\r", 1)[0].split("\n", 1)[0].split(text[3])
    return fields[9][:64] if len(fields) > 9 else ""
