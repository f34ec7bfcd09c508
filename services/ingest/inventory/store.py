"""The inventory sync's tables (ingest schema) and the shop's inventory settings.

The settings belong to the mapper (``mapper.shop_settings``, the versioned settings API); ingest
reads the three inventory fields from it, read-only (docs/architecture.md, cross-schema reads).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeAlias

import asyncpg

Db: TypeAlias = asyncpg.Pool | asyncpg.Connection
MAX_PROBLEMS_LISTED = 200


@dataclass(frozen=True)
class InventoryConfig:
    shop: str
    source: str  # shopify | fortnox | none
    locations: dict[int, str] = field(default_factory=dict)  # Shopify location -> stock point
    sku_policy: str = "variant_id"


def _config(shop: str, raw: Any) -> InventoryConfig:
    settings = raw if isinstance(raw, dict) else json.loads(raw or "{}")
    locations = {
        int(k): str(v)
        for k, v in (settings.get("inventory_locations") or {}).items()
        if str(k).isdigit()
    }
    return InventoryConfig(
        shop=shop,
        source=str(settings.get("inventory_source") or "none"),
        locations=locations,
        sku_policy=str(settings.get("sku_policy") or "variant_id"),
    )


async def syncing_shops(conn: Db) -> list[InventoryConfig]:
    """Installed shops whose inventory source is Shopify or Fortnox."""
    rows = await conn.fetch(
        """
        SELECT s.shop, s.settings FROM mapper.shop_settings s
        JOIN shops.installations i ON i.shop = s.shop AND i.status = 'installed'
        WHERE s.settings->>'inventory_source' IN ('shopify', 'fortnox')
        ORDER BY s.shop
        """
    )
    return [_config(row["shop"], row["settings"]) for row in rows]


async def config_of(conn: Db, shop: str) -> InventoryConfig:
    raw = await conn.fetchval("SELECT settings FROM mapper.shop_settings WHERE shop = $1", shop)
    return _config(shop, raw)


async def state(conn: Db, shop: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM ingest.inventory_shops WHERE shop = $1", shop)


async def ensure(conn: Db, shop: str, source: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        """
        INSERT INTO ingest.inventory_shops (shop, source) VALUES ($1, $2)
        ON CONFLICT (shop) DO UPDATE SET source = EXCLUDED.source
        RETURNING *
        """,
        shop,
        source,
    )
    assert row is not None
    return row


async def update(conn: Db, shop: str, **values: Any) -> None:
    """Set columns; ``<column>__add`` adds to a counter."""
    sets, args = ["updated_at = now()"], [shop]
    for name, value in values.items():
        args.append(value)
        if name.endswith("__add"):
            column = name.removesuffix("__add")
            sets.append(f"{column} = {column} + ${len(args)}")
        else:
            sets.append(f"{name} = ${len(args)}")
    await conn.execute(
        f"UPDATE ingest.inventory_shops SET {', '.join(sets)} WHERE shop = $1",
        *args,
    )


async def written(conn: Db, shop: str, target: str, keys: list[str]) -> dict[str, Decimal]:
    rows = await conn.fetch(
        "SELECT key, value FROM ingest.inventory_written"
        " WHERE shop = $1 AND target = $2 AND key = ANY($3::text[])",
        shop,
        target,
        keys,
    )
    return {row["key"]: row["value"] for row in rows}


async def remember(conn: Db, shop: str, target: str, values: dict[str, Decimal]) -> None:
    if not values:
        return
    await conn.executemany(
        """
        INSERT INTO ingest.inventory_written (shop, target, key, value) VALUES ($1, $2, $3, $4)
        ON CONFLICT (shop, target, key) DO UPDATE SET value = EXCLUDED.value, written_at = now()
        """,
        [(shop, target, key, value) for key, value in values.items()],
    )


async def forget(conn: Db, shop: str, target: str, keys: list[str]) -> None:
    await conn.execute(
        "DELETE FROM ingest.inventory_written WHERE shop = $1 AND target = $2"
        " AND key = ANY($3::text[])",
        shop,
        target,
        keys,
    )


@dataclass(frozen=True)
class Problem:
    key: str
    reason: str
    sku: str | None = None
    shopify_quantity: Decimal | None = None
    fortnox_quantity: Decimal | None = None


async def record_problems(conn: Db, shop: str, problems: list[Problem]) -> None:
    if not problems:
        return
    await conn.executemany(
        """
        INSERT INTO ingest.inventory_problems
            (shop, key, sku, reason, shopify_quantity, fortnox_quantity)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (shop, key) DO UPDATE SET sku = EXCLUDED.sku, reason = EXCLUDED.reason,
            shopify_quantity = EXCLUDED.shopify_quantity,
            fortnox_quantity = EXCLUDED.fortnox_quantity, seen_at = now()
        """,
        [
            (shop, p.key, p.sku, p.reason[:1000], p.shopify_quantity, p.fortnox_quantity)
            for p in problems
        ],
    )


async def clear_problems(conn: Db, shop: str, keys: list[str]) -> None:
    if keys:
        await conn.execute(
            "DELETE FROM ingest.inventory_problems WHERE shop = $1 AND key = ANY($2::text[])",
            shop,
            keys,
        )


async def problems(conn: Db, shop: str) -> tuple[int, list[dict[str, Any]]]:
    total = await conn.fetchval(
        "SELECT count(*) FROM ingest.inventory_problems WHERE shop = $1", shop
    )
    rows = await conn.fetch(
        "SELECT key, sku, reason, shopify_quantity, fortnox_quantity, seen_at"
        " FROM ingest.inventory_problems WHERE shop = $1 ORDER BY key LIMIT $2",
        shop,
        MAX_PROBLEMS_LISTED,
    )
    return int(total or 0), [
        {
            "key": row["key"],
            "sku": row["sku"],
            "reason": row["reason"],
            "shopify_quantity": _text(row["shopify_quantity"]),
            "fortnox_quantity": _text(row["fortnox_quantity"]),
            "seen_at": row["seen_at"].isoformat(),
        }
        for row in rows
    ]


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


async def new_level_events(
    conn: Db,
    shop: str,
    after_at: datetime | None,
    after_uid: Any,
    limit: int,
) -> list[asyncpg.Record]:
    """inventory_levels/update deliveries stored after the cursor, oldest first."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT event_uid, received_at, body FROM ingest.webhook_events
        WHERE shop = $1 AND topic = 'inventory_levels/update'
          AND ($2::timestamptz IS NULL
               OR (received_at, event_uid) > ($2::timestamptz, $3::uuid))
        ORDER BY received_at, event_uid LIMIT $4
        """,
        shop,
        after_at,
        after_uid,
        limit,
    )
    return rows
