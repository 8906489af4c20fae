"""The bridge as the server runs it: one Ingestor for the HTTP route and the MLLP listener.

`ember serve` builds one per worker process. With several workers each binds the MLLP port with
SO_REUSEPORT, so the kernel spreads connections over them; every worker writes through the same
store, and the control-id record keeps a message applied once whichever worker receives it.
"""

from __future__ import annotations

from starlette.routing import Route

from ember.hl7v2 import http, outbound
from ember.hl7v2.ingest import Ingestor
from ember.hl7v2.listener import MllpListener
from ember.hl7v2.mapper import CodeTranslator
from ember.settings import Settings
from ember.store.base import Store

#: The site's code translation (a terminology service) for OBX-3/OBR-4; None: no translation.
code_translator: CodeTranslator | None = None


class Bridge:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.settings = settings
        self.ingestor = Ingestor(store, code_translator, settings.base_url or "http://localhost/fhir")
        self._listener: MllpListener | None = None
        outbound.install()

    def routes(self) -> list[Route]:
        return http.routes(self.ingestor, self.settings.max_body_bytes)

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
