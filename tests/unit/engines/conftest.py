"""Fixtures for the bundled engine tests: converted weights and one loaded engine per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def bundled_engine(bundled_settings):
    """One loaded :class:`BundledEngine` (CPU) for the whole session."""
    from common.engines.bundled import load_engine

    return load_engine(bundled_settings)
