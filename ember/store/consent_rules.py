"""Patients' consent denials, as the access filter needs them.

A patient's active privacy Consent can deny some recipients (a practitioner, an organization,
an app), some purposes of use, and narrow that to some resource types or security labels. The
consent service (ember/consent/) reads the Consent resources, turns each deny provision into a
`ConsentDenial` and installs the set here; `AccessRules` asks `denials_for(ctx)` for the ones
that apply to a caller and turns each into "not this patient's (matching) resources". Keeping
the set in memory, indexed by whom it names, keeps callers no Consent names at one dict lookup.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from ember.access import AccessContext

#: The purpose of use that overrides a denial (v3-ActReason "break the glass"). The edge only
#: lets a user with that right declare it, and such requests are always audited.
BREAK_THE_GLASS = "BTG"


def client_actor(client_id: str) -> str:
    """The actor key of an app (OAuth client), as Consent actors name it by identifier."""
    return f"client:{client_id}"


@dataclass(frozen=True, slots=True)
class ConsentDenial:
    """One deny provision of `patient`'s Consent `consent`.

    Empty `actors` / `purposes` mean any; empty `resource_types` / `labels` mean every resource
    of the patient. `actors` holds actor keys: resource references ("Practitioner/7",
    "Organization/3" already expanded to that organization's practitioners) and `client:<id>`.
    `start`/`end` (epoch seconds) bound the provision's period when it has one.
    """

    consent: str
    patient: str
    actors: frozenset[str] = frozenset()
    purposes: frozenset[str] = frozenset()
    resource_types: frozenset[str] = frozenset()
    labels: tuple[tuple[str | None, str], ...] = ()
    start: float | None = None
    end: float | None = None

    def applies(self, actor_keys: frozenset[str], purpose: str | None, moment: float) -> bool:
        """Whether the provision covers a caller known by `actor_keys` acting for `purpose`."""
        if self.actors and not self.actors & actor_keys:
            return False
        if self.purposes and purpose not in self.purposes:
            return False
        return (self.start is None or self.start <= moment) and (self.end is None or moment <= self.end)


class ConsentDenials:
    """The active denials of one database, indexed by the actor or purpose they name."""

    def __init__(self, denials: Iterable[ConsentDenial] = ()) -> None:
        self.by_actor: dict[str, list[ConsentDenial]] = {}
        self.by_purpose: dict[str, list[ConsentDenial]] = {}
        self.general: list[ConsentDenial] = []
        self.count = 0
        for denial in denials:
            self.count += 1
            if denial.actors:
                for actor in denial.actors:
                    self.by_actor.setdefault(actor, []).append(denial)
            elif denial.purposes:
                for purpose in denial.purposes:
                    self.by_purpose.setdefault(purpose, []).append(denial)
            else:
                self.general.append(denial)

    def for_caller(self, ctx: AccessContext) -> tuple[ConsentDenial, ...]:
        """The denials that hold for `ctx` now: none under break-the-glass, and none of a
        patient's own Consent for that patient acting as themselves."""
        if not self.count or ctx.purpose == BREAK_THE_GLASS:
            return ()
        keys = frozenset(key for key in (ctx.fhir_user, ctx.client_id and client_actor(ctx.client_id)) if key)
        candidates = [*self.general, *self.by_purpose.get(ctx.purpose or "", ())]
        for key in keys:
            candidates += self.by_actor.get(key, ())
        moment = time.time()
        found = {
            denial
            for denial in candidates
            if denial.applies(keys, ctx.purpose, moment) and ctx.fhir_user != f"Patient/{denial.patient}"
        }
        return tuple(sorted(found, key=lambda denial: (denial.patient, denial.consent)))


_installed = ConsentDenials()


def install(denials: ConsentDenials) -> None:
    """Make `denials` the set every access filter of this process applies from now on."""
    global _installed
    _installed = denials


def denials_for(ctx: AccessContext) -> tuple[ConsentDenial, ...]:
    """The installed denials that apply to `ctx` (see ConsentDenials.for_caller)."""
    return _installed.for_caller(ctx)
