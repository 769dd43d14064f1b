"""Fixtures for the image tests: the cached local bases and the engine."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "engine: needs the real Docker engine (run under the lock)")
