"""Who is asking: the one value every entry point builds and every read path receives.

It lives at the root of the package because every layer speaks it: the edge builds it from the
request (and later from the SMART token), services pass it on, and the store turns it into the
filter it adds to each query, so no route can forget to apply it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class AccessContext:
    """The caller of one request.

    `patient` set means the caller may only see that patient's compartment; `None` with
    `unrestricted` means a trusted caller (local development without auth, the CLI loader).
    """

    subject: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    patient: str | None = None
    purpose: str | None = None
    source_ip: str | None = None
    unrestricted: bool = False

    @classmethod
    def system(cls, subject: str = "ember") -> AccessContext:
        """A trusted in-process caller such as `ember load` or a background job."""
        return cls(subject=subject, unrestricted=True)
