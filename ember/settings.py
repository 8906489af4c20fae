"""One settings object for the whole server.

Values come, in increasing priority, from the defaults here, an optional TOML file named by
EMBER_CONFIG, environment variables EMBER_<NAME>, and command-line options. docs/configuration.md
lists every setting; keep the two in step.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = "sqlite:///ember.db"
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    #: Public base URL of the FHIR API; derived from the request when empty.
    base_url: str = ""
    max_body_bytes: int = 32 * 1024 * 1024
    #: SQLite durability: FULL syncs the WAL on every commit (survives power loss), NORMAL only
    #: guarantees survival of a process crash.
    sqlite_synchronous: str = "FULL"
    #: PostgreSQL connections per worker process (opened at start). On a small machine a few
    #: busy connections beat many: every backend competes for the same cores.
    postgres_pool_size: int = 4
    log_level: str = "info"
    #: HL7 v2 MLLP listener port started by `ember serve`; 0 keeps it off (the usual port is 2575).
    hl7_mllp_port: int = 0
    hl7_mllp_host: str = "127.0.0.1"
    #: Canonical url of a ConceptMap that translates OBX-3/OBR-4 codes (local -> LOINC); "" = none.
    hl7_concept_map: str = ""
    #: Search page size when the client sends no _count, and the largest it may ask for.
    search_default_count: int = 50
    search_max_count: int = 1000
    #: A search statement running longer is stopped and answered 400 too-costly; 0: no limit.
    search_timeout_ms: int = 20_000
    #: "on": every FHIR request needs a SMART access token; "off": every caller is trusted
    #: (local development only; `ember serve` warns on every start).
    auth: str = "on"
    #: OAuth issuer (`iss` of tokens); the FHIR base URL when empty.
    auth_issuer: str = ""
    access_token_seconds: int = 300
    #: Lifetime of an `offline_access` refresh token; `online_access` ones live
    #: `online_refresh_token_seconds` (Ember has no login session to tie them to).
    refresh_token_seconds: int = 30 * 24 * 3600
    online_refresh_token_seconds: int = 8 * 3600
    auth_code_seconds: int = 60
    #: Empty: the token signing key is generated on first start and kept in the database (a
    #: record). A path: a private JWK file, generated there when missing.
    signing_key_file: str = ""
    #: "on" lets anyone register a client at /auth/register (RFC 7591).
    dynamic_registration: str = "off"
    login_max_failures: int = 5
    login_lockout_seconds: int = 900
    #: How stale a worker's list of revoked access tokens may be (other workers' revocations).
    revocation_refresh_seconds: int = 2
    #: Audit records of reads, logins and refusals wait in memory at most this long before they
    #: are flushed to the durable outbox (writes are audited in their own transaction).
    audit_flush_ms: int = 200

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Defaults, then the TOML file in EMBER_CONFIG, then EMBER_* variables, then `overrides`."""
        settings = cls()
        config_file = os.environ.get("EMBER_CONFIG")
        if config_file:
            with open(config_file, "rb") as handle:
                settings = settings.merged(tomllib.load(handle))
        from_env = {
            field.name: os.environ[f"EMBER_{field.name.upper()}"]
            for field in fields(cls)
            if f"EMBER_{field.name.upper()}" in os.environ
        }
        return settings.merged(from_env).merged({k: v for k, v in overrides.items() if v is not None})

    def merged(self, values: dict[str, Any]) -> Settings:
        """A copy with `values` applied, converted to each field's type; unknown keys are errors."""
        known = {field.name: field for field in fields(self)}
        converted: dict[str, Any] = {}
        for name, value in values.items():
            if name not in known:
                raise ValueError(f"Unknown setting '{name}'")
            converted[name] = int(value) if isinstance(getattr(self, name), int) else str(value)
        return replace(self, **converted)
