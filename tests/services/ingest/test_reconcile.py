"""Reconciliation's checkpoint, failures and shop selection, on the real database and broker
(ingest alone; the Shopify simulator in front)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from libs.common.crypto import TokenCipher
from libs.common.service import STATE
from libs.common.shops import ShopRegistry
from services.ingest.reconcile import checkpoints
from services.ingest.reconcile.listing import search_query
from services.ingest.reconcile.runner import BUSY, FAILED, FINISHED, NOT_INSTALLED, Reconciler
from simulators.shopify.payloads import LineSpec, order_payload
from tests.conftest import StackFactory
from tests.support.stack import Stack

LINES = [LineSpec("Ullsockor", "199.00", 2, "0.25", "SOCK-WOOL-001")]


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory(services=("ingest",), reconcile_interval_seconds=0)


def reconciler(stack: Stack, page_size: int = 2) -> Reconciler:
    return Reconciler(stack.apps["ingest"][STATE].require_runtime(), page_size=page_size)


def orders_in_shopify(stack: Stack, count: int, *, start: int = 1) -> list[dict[str, Any]]:
    """Orders only Shopify has (no webhook), updated a minute apart, oldest first; not paid
    (a paid order's orders/paid is a missed webhook of its own, test_reconcile_topics.py)."""
    now = datetime.now(UTC).replace(microsecond=0)
    orders = []
    for n in range(start, start + count):
        order = order_payload(
            lines=LINES,
            created_at=now,
            updated_at=now + timedelta(minutes=n),
            financial_status="pending",
        )
        stack.shopify.add_order(stack.shop, order)
        orders.append(order)
    return orders


def moment(order: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(order["updated_at"]).astimezone(UTC)


async def stored(stack: Stack, shop: str | None = None) -> list[tuple[str, str, str | None]]:
    rows = await stack.pool.fetch(
        "SELECT topic, order_id, source FROM ingest.webhook_events WHERE shop = $1"
        " ORDER BY received_at",
        shop or stack.shop,
    )
    return [(row["topic"], row["order_id"], row["source"]) for row in rows]


async def test_the_checkpoint_moves_per_page_and_stops_before_a_failed_page(stack: Stack) -> None:
    orders = orders_in_shopify(stack, 5)
    for order in orders[:2]:  # the first page: delivered by webhook, nothing to fetch
        assert await stack.send_webhook("orders/create", order) == [200]
    stack.shopify.faults.add(
        "status", status=503, times=None, shop=stack.shop, operation="fortbridgeOrder"
    )

    assert await reconciler(stack).reconcile_shop(stack.shop) == FAILED
    status = await checkpoints.status(stack.pool, stack.shop)
    assert status is not None
    assert status["checkpoint"] == moment(orders[1]).isoformat()  # after page 1, not page 2
    assert "could not be reached" in status["last_error"]
    assert status["last_run"]["status"] == "failed"
    assert status["last_run"]["orders_checked"] == 2
    assert [topic for topic, _, source in await stored(stack) if source] == []

    stack.shopify.faults.clear()
    assert await reconciler(stack).reconcile_shop(stack.shop) == FINISHED
    status = await checkpoints.status(stack.pool, stack.shop)
    assert status is not None
    assert status["checkpoint"] == moment(orders[4]).isoformat()
    assert status["last_error"] is None
    assert status["last_run"]["orders_recovered"] == 3
    recovered = [(t, o) for t, o, source in await stored(stack) if source == "reconciliation"]
    assert recovered == [("orders/create", str(order["id"])) for order in orders[2:]]


async def test_shopify_throttling_keeps_the_checkpoint_and_the_next_round_catches_up(
    stack: Stack,
) -> None:
    [order] = orders_in_shopify(stack, 1)
    bucket = stack.shopify.shop(stack.shop).bucket
    bucket.restore_rate = 0.0
    bucket.drain(to=10.0)  # a page of 2 costs 4, an order read 183: never restored
    assert await reconciler(stack).reconcile_shop(stack.shop) == FAILED
    status = await checkpoints.status(stack.pool, stack.shop)
    assert status is not None
    installation = await ShopRegistry(stack.pool, cipher(stack)).installation(stack.shop)
    assert installation is not None
    assert status["checkpoint"] == installation.installed_at.replace(microsecond=0).isoformat()
    assert "throttled" in status["last_error"]
    assert await stored(stack) == []

    bucket.restore_rate = 1000.0
    assert await reconciler(stack).reconcile_shop(stack.shop) == FINISHED
    assert await stored(stack) == [("orders/create", str(order["id"]), "reconciliation")]


def cipher(stack: Stack) -> TokenCipher:
    return TokenCipher(stack.settings.token_encryption_keys.get_secret_value())


async def test_uninstalled_shops_are_not_reconciled(stack: Stack) -> None:
    registry = ShopRegistry(stack.pool, cipher(stack))
    gone = "gone-shop.myshopify.com"
    stack.shopify.add_shop(gone, access_token="simtok_gone_0001")
    await registry.install(gone, "simtok_gone_0001")
    stack.shopify.add_order(gone, order_payload(lines=LINES))
    await registry.uninstall(gone)

    runner = reconciler(stack)
    assert gone not in await runner.shops()
    assert stack.shop in await runner.shops()
    assert await runner.reconcile_shop(gone) == NOT_INSTALLED
    outcomes = await runner.round()  # (the test database holds other tests' shops too)
    assert outcomes[stack.shop] == FINISHED
    assert gone not in outcomes
    assert not [r for r in stack.shopify.requests if r.shop == gone]
    assert await stored(stack, gone) == []
    assert await checkpoints.status(stack.pool, gone) is None


async def test_orders_from_before_the_install_are_left_alone(stack: Stack) -> None:
    old = order_payload(
        lines=LINES,
        created_at=datetime.now(UTC) - timedelta(days=3),
        updated_at=datetime.now(UTC) + timedelta(minutes=1),  # touched since: listed
    )
    stack.shopify.add_order(stack.shop, old)
    [new] = orders_in_shopify(stack, 1, start=2)
    assert await reconciler(stack).reconcile_shop(stack.shop) == FINISHED
    assert await stored(stack) == [("orders/create", str(new["id"]), "reconciliation")]
    status = await checkpoints.status(stack.pool, stack.shop)
    assert status is not None
    assert status["last_run"]["orders_checked"] == 2
    assert status["last_run"]["orders_recovered"] == 1


async def test_a_shop_held_by_another_replica_is_left_to_it(stack: Stack) -> None:
    orders_in_shopify(stack, 1)
    async with stack.pool.acquire() as other_replica:
        await other_replica.execute(
            "SELECT pg_advisory_lock(hashtextextended($1, 0))", f"reconcile:{stack.shop}"
        )
        assert await reconciler(stack).reconcile_shop(stack.shop) == BUSY
        await other_replica.execute(
            "SELECT pg_advisory_unlock(hashtextextended($1, 0))", f"reconcile:{stack.shop}"
        )
    assert await stored(stack) == []
    assert await reconciler(stack).reconcile_shop(stack.shop) == FINISHED
    assert len(await stored(stack)) == 1


async def test_recovered_events_are_published_marked_as_reconciliation(stack: Stack) -> None:
    [order] = orders_in_shopify(stack, 1)
    assert await reconciler(stack).reconcile_shop(stack.shop) == FINISHED
    row = await stack.pool.fetchrow(
        "SELECT webhook_id, published_at, body FROM ingest.webhook_events WHERE shop = $1",
        stack.shop,
    )
    assert row is not None
    assert row["webhook_id"] == f"reconcile:orders/create:{order['id']}"
    assert row["published_at"] is not None
    body = json.loads(row["body"])
    assert body["id"] == order["id"] and body["total_price"] == order["total_price"]


def test_the_search_query_is_whole_utc_seconds() -> None:
    since = datetime(2026, 11, 20, 10, 0, 5, 999_000, tzinfo=UTC) + timedelta(hours=0)
    assert search_query(since) == "updated_at:>='2026-11-20T10:00:05Z'"


async def test_orders_updated_within_the_settle_time_wait_for_the_next_round(
    stack_factory: StackFactory,
) -> None:
    stack = await stack_factory(
        services=("ingest",), reconcile_interval_seconds=0, reconcile_settle_seconds=60
    )
    # Installed an hour ago, so an order updated minutes ago is after the install.
    await stack.pool.execute(
        "UPDATE shops.installations SET installed_at = now() - interval '1 hour' WHERE shop = $1",
        stack.shop,
    )
    now = datetime.now(UTC).replace(microsecond=0)
    settled, fresh = (
        order_payload(
            lines=LINES,
            created_at=now - timedelta(minutes=10),
            updated_at=now - age,
            financial_status="pending",
        )
        for age in (timedelta(minutes=5), timedelta(seconds=5))
    )
    for order in (settled, fresh):
        stack.shopify.add_order(stack.shop, order)
    assert await reconciler(stack).reconcile_shop(stack.shop) == FINISHED
    # The fresh order's webhook may be on the way: neither stored nor counted as checked.
    assert await stored(stack) == [("orders/create", str(settled["id"]), "reconciliation")]
    status = await checkpoints.status(stack.pool, stack.shop)
    assert status is not None and status["last_run"]["orders_checked"] == 1
    assert status["checkpoint"] == moment(settled).isoformat()
