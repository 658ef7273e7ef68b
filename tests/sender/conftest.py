"""Fixtures for the sender tests: async tests run on asyncio (aiohttp needs it)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
