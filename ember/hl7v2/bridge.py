"""The bridge as the server runs it: one Ingestor for the HTTP route and the MLLP listener.

`ember serve` builds one per worker process. With several workers each binds the MLLP port with
SO_REUSEPORT, so the kernel spreads connections over them; every worker writes through the same
store, and the control-id record keeps a message applied once whichever worker receives it.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from ember.access import AccessContext
from ember.auth.server import AuthServer
from ember.hl7v2 import delivery, http
from ember.hl7v2.datatypes import compact
from ember.hl7v2.ingest import Ingestor
from ember.hl7v2.listener import MllpListener
from ember.hl7v2.mapper import CodeTranslator
from ember.settings import Settings
from ember.store.base import Store
from ember.terminology import translate_code

#: A site's own code translation for OBX-3/OBR-4, replacing the ConceptMap of the settings.
code_translator: CodeTranslator | None = None
_CONTEXT = AccessContext.system("hl7v2")


def concept_map_translator(store: Store, concept_map_url: str) -> CodeTranslator:
    """Translation through the terminology service: the first match of the code in the
    ConceptMap `concept_map_url` (a local lab code to LOINC, say)."""

    async def translate(system: str, code: str) -> dict[str, Any] | None:
        matches = await translate_code(_CONTEXT, store, concept_map_url, system, code)
        found = next((match for match in matches if match.code), None)
        return (
            None if found is None else compact({"system": found.system, "code": found.code, "display": found.display})
        )

    return translate


def translator_for(store: Store, settings: Settings) -> CodeTranslator | None:
    """`code_translator` when a site set one, else the ConceptMap named by `hl7_concept_map`."""
    if code_translator is not None:
        return code_translator
    return concept_map_translator(store, settings.hl7_concept_map) if settings.hl7_concept_map else None


def ingestor_for(store: Store, settings: Settings) -> Ingestor:
    return Ingestor(store, translator_for(store, settings), settings.base_url or "http://localhost/fhir")


class Bridge:
    def __init__(self, store: Store, settings: Settings, auth: AuthServer | None = None) -> None:
        self.settings = settings
        self.auth = auth
        self.ingestor = ingestor_for(store, settings)
        self._listener: MllpListener | None = None
        delivery.install()

    def routes(self) -> list[Route]:
        return http.routes(self.ingestor, self.settings.max_body_bytes, self.auth)

    async def start(self) -> None:
        """Start the MLLP listener when `hl7_mllp_port` is set."""
        if self.settings.hl7_mllp_port:
            self._listener = MllpListener(
                self.ingestor, self.settings.hl7_mllp_host, self.settings.hl7_mllp_port, reuse_port=True
            )
            await self._listener.start()

    async def stop(self) -> None:
        if self._listener is not None:
            await self._listener.stop()
