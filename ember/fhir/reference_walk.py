"""Finding every Reference in a resource without recursion.

The walk runs on every write, so it builds no location strings: `location_of` works out the
FHIRPath of a node only when an error has to name it.
"""

from __future__ import annotations

from typing import Any


def references_in(resource: Any) -> list[dict[str, Any]]:
    """Each object with a string `reference` anywhere in `resource`."""
    found = []
    stack = [resource]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("reference"), str):
                found.append(node)
            stack.extend(value for value in node.values() if isinstance(value, (dict, list)))
        elif isinstance(node, list):
            stack.extend(value for value in node if isinstance(value, (dict, list)))
    return found


def location_of(resource: Any, target: Any, where: str) -> str:
    """The FHIRPath of `target` (found by identity) inside `resource`, which sits at `where`."""
    stack: list[tuple[Any, str]] = [(resource, where)]
    while stack:
        node, path = stack.pop()
        if node is target:
            return path
        if isinstance(node, dict):
            stack.extend((value, f"{path}.{key}") for key, value in node.items() if isinstance(value, (dict, list)))
        elif isinstance(node, list):
            stack.extend(
                (value, f"{path}[{index}]") for index, value in enumerate(node) if isinstance(value, (dict, list))
            )
    return where
