"""Ember's SMART on FHIR authorization server (OAuth 2.0 / OpenID Connect) and the bearer-token
check at the FHIR edge. See docs/auth.md."""
