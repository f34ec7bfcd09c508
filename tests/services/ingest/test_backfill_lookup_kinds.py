"""Where a backfill dry run looks orders up in Fortnox (services/ingest/backfill/runner.py,
``lookup_kinds``): among the document kind of the shop's settings, and the other kind too when
an enabled rule of the shop's current rules sets it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import pytest

from libs.common import database
from services.ingest.backfill.runner import lookup_kinds
from services.mapper.service import definition as mapper
from services.mapper.store import save_shop_settings


@pytest.fixture
async def mapper_tables(pool: asyncpg.Pool) -> asyncpg.Pool:
    assert mapper.migrations is not None
    await database.migrate(pool, "mapper", mapper.migrations)
    return pool


async def rules(pool: asyncpg.Pool, shop: str, version: int, stored: list[dict[str, Any]]) -> None:
    await pool.execute(
        "INSERT INTO mapper.rule_sets (shop, version, rules, change) VALUES ($1, $2, $3, 'test')",
        shop,
        version,
        json.dumps(stored),
    )


def a_shop() -> str:
    return f"k{uuid.uuid4().hex[:8]}.myshopify.com"


async def test_a_shop_without_settings_or_rules_looks_among_invoices(
    mapper_tables: asyncpg.Pool,
) -> None:
    async with mapper_tables.acquire() as conn:
        assert await lookup_kinds(conn, a_shop()) == ["invoice"]


async def test_the_settings_kind_comes_first(mapper_tables: asyncpg.Pool) -> None:
    shop = a_shop()
    async with mapper_tables.acquire() as conn:
        await save_shop_settings(conn, shop, {"document_kind": "order"})
        assert await lookup_kinds(conn, shop) == ["order"]


async def test_an_enabled_rule_of_the_current_version_adds_the_other_kind(
    mapper_tables: asyncpg.Pool,
) -> None:
    shop = a_shop()
    orders = {"id": 1, "name": "B2B", "enabled": True, "actions": {"document_kind": "order"}}
    await rules(mapper_tables, shop, 1, [orders])
    async with mapper_tables.acquire() as conn:
        assert await lookup_kinds(conn, shop) == ["invoice", "order"]
    # The rule disabled in a later version: invoices only again.
    await rules(mapper_tables, shop, 2, [{**orders, "enabled": False}])
    async with mapper_tables.acquire() as conn:
        assert await lookup_kinds(conn, shop) == ["invoice"]
    # A shop making orders whose rule makes invoices for some: orders first, then invoices.
    other = a_shop()
    invoices = {"id": 2, "name": "Retail", "actions": {"document_kind": "invoice"}}
    await rules(mapper_tables, other, 1, [invoices])
    async with mapper_tables.acquire() as conn:
        await save_shop_settings(conn, other, {"document_kind": "order"})
        assert await lookup_kinds(conn, other) == ["order", "invoice"]
