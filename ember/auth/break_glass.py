"""The purpose of use a request declares, and who may declare "break the glass".

A client states why it acts in the `X-Purpose-Of-Use` header (a v3-ActReason code such as
TREAT, HRESCH or BTG). Consent denials that name a purpose apply to requests declaring it, and
BTG overrides every consent denial, so only a logged-in user whose account holds the
break-the-glass right may declare it: anyone else gets 403. Such requests are always audited.
"""

from __future__ import annotations

import dataclasses
import re

from ember.access import AccessContext
from ember.auth.users import may_break_glass
from ember.fhir.outcome import error
from ember.store.base import Store
from ember.store.consent_rules import BREAK_THE_GLASS

PURPOSE_HEADER = "x-purpose-of-use"
_CODE = re.compile(r"[A-Za-z0-9_\-]{1,32}")


async def with_purpose(ctx: AccessContext, declared: str | None, store: Store) -> AccessContext:
    """`ctx` acting for the `declared` purpose (unchanged when none is declared)."""
    if declared is None or ctx.unrestricted:
        return ctx
    purpose = declared.strip()
    if not _CODE.fullmatch(purpose):
        raise error(400, "invalid", f"{PURPOSE_HEADER} must be a purpose-of-use code such as TREAT or BTG")
    if purpose == BREAK_THE_GLASS and not await _may_break_glass(ctx, store):
        raise error(403, "forbidden", "This user may not break the glass (purpose of use BTG)")
    return dataclasses.replace(ctx, purpose=purpose)


async def _may_break_glass(ctx: AccessContext, store: Store) -> bool:
    """Only a user (not an app acting as itself) with the right; a backend service's subject is
    its client id, which must never be mistaken for a user name."""
    if ctx.subject is None or ctx.subject == ctx.client_id:
        return False
    return await may_break_glass(store, ctx.subject)
