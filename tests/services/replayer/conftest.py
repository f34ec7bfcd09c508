"""Fixtures for the replayer's tests: its schema migrated, a publisher that records."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from libs.common import database
from services.replayer.service import definition
from tests.services.replayer.support import RecordingPublisher


@pytest.fixture
async def replayer_pool(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    assert definition.migrations is not None
    await database.migrate(pool, "replayer", definition.migrations)
    yield pool


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()
