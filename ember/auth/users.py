"""People who log in: admins, practitioners and patients, as records of kind `auth_user`.

A user's `fhir_user` is the FHIR resource that is that person (`Practitioner/12`,
`Patient/7`); a patient user is always in their own patient context. After
`login_max_failures` wrong passwords in a row an account is locked for `login_lockout_seconds`,
so a password cannot be guessed online; the counter resets on success.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from ember.auth.passwords import hash_secret, secret_matches
from ember.store.base import Store

ROLES = ("admin", "practitioner", "patient")
_KIND = "auth_user"
_FHIR_USER = re.compile(r"(Patient|Practitioner|PractitionerRole|RelatedPerson|Person)/[A-Za-z0-9\-.]{1,64}")


@cache
def _dummy_hash() -> str:
    return hash_secret("not a password anyone has")


class UserError(ValueError):
    """A user that cannot be created; the message says why."""


@dataclass(frozen=True, slots=True)
class User:
    username: str
    role: str
    fhir_user: str | None

    @property
    def patient(self) -> str | None:
        """The Patient id of a patient user."""
        if self.role == "patient" and self.fhir_user and self.fhir_user.startswith("Patient/"):
            return self.fhir_user.removeprefix("Patient/")
        return None


async def add_user(store: Store, username: str, password: str, role: str, fhir_user: str | None) -> User:
    if role not in ROLES:
        raise UserError(f"Unknown role '{role}': one of {', '.join(ROLES)}")
    if fhir_user is not None and not _FHIR_USER.fullmatch(fhir_user):
        raise UserError(f"fhirUser '{fhir_user}' must be a reference such as Practitioner/12")
    if role == "patient" and not (fhir_user or "").startswith("Patient/"):
        raise UserError("A patient user needs --fhir-user Patient/<id>")
    if not username or len(password) < 8:
        raise UserError("A user needs a name and a password of at least 8 characters")
    value = {"role": role, "fhir_user": fhir_user, "password_hash": hash_secret(password), "failures": 0}
    async with store.transaction() as tx:
        if not await tx.insert_record(_KIND, username, value):
            raise UserError(f"User '{username}' already exists")
    return User(username, role, fhir_user)


async def list_users(store: Store) -> list[User]:
    async with store.transaction() as tx:
        return [User(name, value["role"], value.get("fhir_user")) for name, value in await tx.list_records(_KIND)]


class LoginRefused(Exception):
    """Wrong name or password, or a locked account; the message is safe to show."""


async def authenticate(store: Store, username: str, password: str, max_failures: int, lockout_seconds: int) -> User:
    """The user, when the password is right and the account is not locked."""
    async with store.transaction() as tx:
        value = await tx.get_record(_KIND, username)
    if value is None:
        secret_matches(_dummy_hash(), password)  # as slow as a known user: names cannot be probed by timing
        raise LoginRefused("Unknown user name or wrong password")
    if value.get("locked_until", 0) > time.time():
        raise LoginRefused("This account is locked after too many failed logins; try again later")
    # Hash outside the store transaction: argon2 takes tens of milliseconds.
    matched = secret_matches(value["password_hash"], password)
    await _record_attempt(store, username, matched, max_failures, lockout_seconds)
    if not matched:
        raise LoginRefused("Unknown user name or wrong password")
    return User(username, value["role"], value.get("fhir_user"))


async def _record_attempt(store: Store, username: str, matched: bool, max_failures: int, lockout: int) -> None:
    async with store.transaction() as tx:
        value: dict[str, Any] | None = await tx.get_record(_KIND, username)
        if value is None:
            return
        failures = 0 if matched else value.get("failures", 0) + 1
        value["failures"] = failures
        if failures >= max_failures:
            value["locked_until"] = time.time() + lockout
            value["failures"] = 0
        await tx.put_record(_KIND, username, value)
