"""Settings precedence: defaults < TOML file (EMBER_CONFIG) < EMBER_* variables < overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from ember.settings import Settings


def test_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "ember.toml"
    config.write_text('port = 9000\nworkers = 3\ndatabase_url = "sqlite:///from-file.db"\n')
    monkeypatch.setenv("EMBER_CONFIG", str(config))
    monkeypatch.setenv("EMBER_WORKERS", "4")
    settings = Settings.load(database_url="sqlite:///from-cli.db", host=None)
    assert (settings.port, settings.workers, settings.database_url) == (9000, 4, "sqlite:///from-cli.db")
    assert settings.host == "127.0.0.1"


def test_unknown_setting_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "ember.toml"
    config.write_text("prot = 1\n")
    monkeypatch.setenv("EMBER_CONFIG", str(config))
    with pytest.raises(ValueError, match="prot"):
        Settings.load()
