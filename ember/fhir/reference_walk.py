"""Finding every Reference in a resource, with its FHIRPath location, without recursion."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def iter_references(resource: Any, where: str) -> Iterator[tuple[dict[str, Any], str]]:
    """Each object with a string `reference` anywhere in `resource`, and its location."""
    stack: list[tuple[Any, str]] = [(resource, where)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("reference"), str):
                yield node, path
            stack.extend((value, f"{path}.{key}") for key, value in node.items() if isinstance(value, (dict, list)))
        elif isinstance(node, list):
            stack.extend(
                (value, f"{path}[{index}]") for index, value in enumerate(node) if isinstance(value, (dict, list))
            )
