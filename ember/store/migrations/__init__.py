"""Versioned schema migrations: numbered SQL files per back end, applied in order once each."""

from __future__ import annotations

from importlib import resources


def migration_scripts(backend: str) -> list[tuple[int, str]]:
    """(version, SQL) pairs for `backend` ("sqlite" or "postgres"), in the order to apply them."""
    folder = resources.files(__package__) / backend
    scripts = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            scripts.append((int(entry.name.split("_", 1)[0]), entry.read_text()))
    return sorted(scripts)
