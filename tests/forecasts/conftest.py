"""Fixtures for the forecast tests: a loopback provider server and an isolated cache."""

from __future__ import annotations

import pytest

from tests.helpers.provider_server import ProviderServer


@pytest.fixture
def server():
    srv = ProviderServer()
    yield srv
    srv.close()


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """No test reads or writes the user's real cache, nor sees real provider keys."""
    monkeypatch.setenv("GREENSLOT_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("ELECTRICITYMAPS_API_KEY", "WATTTIME_USERNAME", "WATTTIME_PASSWORD",
                 "ENTSOE_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "cache"
