"""Compact, generated forms of the official FHIR R4 definitions (see generate.py)."""
