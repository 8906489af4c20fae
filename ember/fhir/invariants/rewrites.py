"""R4 constraint expressions that Ember's FHIRPath engine cannot evaluate as written.

Each entry maps a key to (the R4 text, the equivalent text evaluated instead); a rewrite applies
only while the definitions carry exactly that R4 text.
"""

from __future__ import annotations

#: R4 expressions the engine cannot evaluate as written, and the equivalent it evaluates instead.
#: dom-3 reads `descendants().reference` (an error in Ember's engine when no descendant's type has
#: a `reference` element) and `descendants().as(uri)` (as() wants one item): as written it fails
#: on every resource with contained resources. The rewrite selects the same values by type.
REWRITTEN: dict[str, tuple[str, str]] = {
    "dom-3": (
        "contained.where((('#'+id in (%resource.descendants().reference | "
        "%resource.descendants().as(canonical) | %resource.descendants().as(uri) | "
        "%resource.descendants().as(url))) or descendants().where(reference = '#').exists() or "
        "descendants().where(as(canonical) = '#').exists() or descendants().where(as(canonical) = "
        "'#').exists()).not()).trace('unmatched', id).empty()",
        "contained.where((('#'+id in (%resource.descendants().ofType(Reference).reference | "
        "%resource.descendants().ofType(canonical) | %resource.descendants().ofType(uri) | "
        "%resource.descendants().ofType(url))) or descendants().ofType(Reference).where(reference = '#')"
        ".exists() or descendants().ofType(canonical).where($this = '#').exists()).not()).empty()",
    ),
}
