"""Ember: an HL7 FHIR R4 server with an embedded SQLite store and a PostgreSQL store."""

__version__ = "0.1.0"
FHIR_VERSION = "4.0.1"
