"""The auth-on app of tests/auth, for the consent tests."""

from tests.auth.conftest import auth_app, auth_settings  # noqa: F401  (pytest finds fixtures by name)
