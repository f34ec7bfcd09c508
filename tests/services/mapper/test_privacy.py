"""Privacy webhooks and uninstalled shops in the mapper (real database)."""

from __future__ import annotations

import asyncpg

from libs.common.crypto import TokenCipher
from libs.common.shops import ShopRegistry
from simulators.shopify.payloads import order_payload
from tests.services.mapper.test_handler import Recorder, delivery, handler


async def payloads(pool: asyncpg.Pool, shop: str) -> int:
    return int(
        await pool.fetchval("SELECT count(*) FROM mapper.order_payloads WHERE shop = $1", shop)
    )


async def test_customer_redact_deletes_the_stored_order_payloads(
    mapper_pool: asyncpg.Pool, shop: str
) -> None:
    recorder = Recorder()
    kept, redacted = order_payload(), order_payload()
    for order in (kept, redacted):
        await handler(mapper_pool, recorder)(delivery(shop, "orders/create", order))
    assert await payloads(mapper_pool, shop) == 2
    request = {"customer": {"id": 1}, "orders_requested": [redacted["id"], kept["id"]]}
    await handler(mapper_pool, recorder)(delivery(shop, "customers/data_request", request))
    redact = {"customer": {"id": 1}, "orders_to_redact": [redacted["id"]]}
    await handler(mapper_pool, recorder)(delivery(shop, "customers/redact", redact, uid="r1"))
    assert await payloads(mapper_pool, shop) == 1
    reason = await mapper_pool.fetchval(
        "SELECT reason FROM mapper.processed_events WHERE event_uid = 'r1'"
    )
    assert reason == "customers/redact: 1 stored order payload(s) deleted"
    # Privacy webhooks make no Fortnox commands.
    assert len(recorder.commands()) == 2


async def test_shop_redact_deletes_everything_and_uninstalled_shops_sync_nothing(
    mapper_pool: asyncpg.Pool, shop: str
) -> None:
    recorder = Recorder()
    await handler(mapper_pool, recorder)(delivery(shop, "orders/create", order_payload()))
    registry = ShopRegistry(mapper_pool, TokenCipher(TokenCipher.generate_key()))
    await registry.install(shop, "shpat_test")
    assert await registry.uninstall(shop)
    await handler(mapper_pool, recorder)(
        delivery(shop, "orders/create", order_payload(), uid=f"late-{shop}")
    )
    assert len(recorder.commands()) == 1
    reason = await mapper_pool.fetchval(
        "SELECT reason FROM mapper.processed_events WHERE event_uid = $1", f"late-{shop}"
    )
    assert "uninstalled" in reason
    await handler(mapper_pool, recorder)(delivery(shop, "shop/redact", {"shop_domain": shop}))
    for table in ("order_payloads", "order_state"):
        count = await mapper_pool.fetchval(
            f"SELECT count(*) FROM mapper.{table} WHERE shop = $1", shop
        )
        assert count == 0, table
