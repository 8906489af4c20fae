"""Patient consent enforcement: active patient-privacy Consents that deny an actor, a purpose
of use, resource types or security labels hide those resources from that actor on every read
path. See docs/audit-and-consent.md.

Public hooks:

* `keep_current(store)`: called by the dispatcher before each request; keeps the denials the
  store's access filter applies (ember/store/consent_rules.py) in step with the stored Consents.
* `denials_of(consent)`: the ConsentDenials one Consent resource yields.
"""

from ember.consent.directory import keep_current, load_denials
from ember.consent.provisions import CLIENT_ID_SYSTEM, denials_of

__all__ = ["CLIENT_ID_SYSTEM", "denials_of", "keep_current", "load_denials"]
