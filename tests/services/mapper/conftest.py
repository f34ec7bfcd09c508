"""The mapper's database fixtures: its schema and the shared ones, and a shop of the test's own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from libs.common import database
from libs.common.shared_schemas import migrate_shared
from services.mapper.service import definition


@pytest.fixture
async def mapper_pool(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    assert definition.migrations is not None
    await migrate_shared(pool)
    await database.migrate(pool, "mapper", definition.migrations)
    yield pool


@pytest.fixture
def shop() -> str:
    return f"h{uuid.uuid4().hex[:8]}.myshopify.com"
