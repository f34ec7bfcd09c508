"""Reconciliation of a missed orders/paid or orders/cancelled: what ingest's summary of an
order holds (stored.py), when an order is behind (recover.behind), what the listing gives for
it, and what a round stores (ingest alone, real database and broker, the Shopify simulator)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from libs.common.service import STATE
from services.ingest.reconcile.listing import PAID_STATUSES, OrderMark, _mark
from services.ingest.reconcile.recover import behind
from services.ingest.reconcile.runner import FINISHED, Reconciler
from services.ingest.reconcile.stored import StoredOrder, stored_orders
from services.mapper.accounting import triggers
from simulators.shopify.payloads import LineSpec, order_payload
from tests.conftest import StackFactory
from tests.services.mapper.builders import refund_payload
from tests.support.stack import Stack

LINES = [LineSpec("Ullsockor", "199.00", 2, "0.25", "SOCK-WOOL-001")]
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory(services=("ingest",), reconcile_interval_seconds=0)


def reconciler(stack: Stack) -> Reconciler:
    return Reconciler(stack.apps["ingest"][STATE].require_runtime())


def new_order(financial_status: str = "paid") -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    return order_payload(
        lines=LINES,
        created_at=now,
        updated_at=now + timedelta(minutes=1),
        financial_status=financial_status,
    )


def cancel_in_shopify(stack: Stack, order: dict[str, Any]) -> dict[str, Any]:
    """Cancel the order in Shopify (no webhook): cancelled_at set, updated_at moved on."""
    cancelled = copy.deepcopy(stack.shopify.shop(stack.shop).orders[order["id"]])
    moment = datetime.fromisoformat(cancelled["updated_at"]) + timedelta(minutes=5)
    cancelled.update(
        cancelled_at=moment.isoformat(),
        cancel_reason="customer",
        updated_at=moment.isoformat(),
        financial_status="voided" if cancelled["financial_status"] == "pending" else "refunded",
    )
    stack.shopify.add_order(stack.shop, cancelled)
    return cancelled


async def stored(stack: Stack) -> list[tuple[str, str | None, str | None]]:
    rows = await stack.pool.fetch(
        "SELECT topic, webhook_id, source FROM ingest.webhook_events WHERE shop = $1"
        " ORDER BY received_at",
        stack.shop,
    )
    return [(r["topic"], r["webhook_id"], r["source"]) for r in rows]


def orders_read(stack: Stack) -> int:
    """Full order reads (the fetcher) Shopify answered for the shop."""
    return sum(
        1
        for r in stack.shopify.requests
        if r.shop == stack.shop and r.operation == "fortbridgeOrder"
    )


# --- behind(): pure ----------------------------------------------------------------------


def mark(**changes: Any) -> OrderMark:
    base: dict[str, Any] = {
        "order_id": "1",
        "created_at": T0,
        "updated_at": T0 + timedelta(minutes=1),
        "financial_status": "pending",
    }
    return OrderMark(**{**base, **changes})


def known(*topics: str, refund_ids: tuple[str, ...] = ()) -> StoredOrder:
    return StoredOrder(
        updated_at=T0 + timedelta(minutes=1), refund_ids=set(refund_ids), topics=set(topics)
    )


def test_a_paid_order_without_a_stored_orders_paid_is_behind() -> None:
    for status in ("paid", "partially_refunded", "refunded"):
        assert behind(mark(financial_status=status), known("orders/create"))
        assert behind(mark(financial_status=status), known("orders/create", "orders/updated"))
        assert not behind(mark(financial_status=status), known("orders/create", "orders/paid"))
    for status in ("pending", "authorized", "partially_paid", "voided", "expired", None):
        assert not behind(mark(financial_status=status), known("orders/create"))


def test_a_cancelled_order_without_a_stored_orders_cancelled_is_behind() -> None:
    cancelled = mark(cancelled_at=T0 + timedelta(minutes=1), financial_status="voided")
    assert behind(cancelled, known("orders/create", "orders/updated"))
    assert not behind(cancelled, known("orders/create", "orders/cancelled"))
    paid_and_cancelled = mark(cancelled_at=T0, financial_status="refunded")
    assert behind(paid_and_cancelled, known("orders/create", "orders/cancelled"))
    assert not behind(paid_and_cancelled, known("orders/create", "orders/paid", "orders/cancelled"))


def test_the_other_reasons_to_be_behind_stay() -> None:
    assert behind(mark(), None)
    assert behind(mark(), StoredOrder(topics={"refunds/create"}, refund_ids={"9"}))
    assert behind(mark(updated_at=T0 + timedelta(minutes=2)), known("orders/create"))
    assert behind(mark(refund_ids=frozenset({"9"})), known("orders/create"))
    assert not behind(mark(refund_ids=frozenset({"9"})), known("orders/create", refund_ids=("9",)))
    assert not behind(mark(), known("orders/create"))


def test_ingest_and_the_mapper_agree_on_what_is_paid() -> None:
    assert PAID_STATUSES == triggers.PAID_STATUSES


def test_the_listing_node_gives_the_financial_status_and_the_cancellation() -> None:
    node = {
        "id": "gid://shopify/Order/42",
        "createdAt": "2026-11-20T09:00:00Z",
        "updatedAt": "2026-11-20T10:00:00Z",
        "displayFinancialStatus": "PARTIALLY_REFUNDED",
        "cancelledAt": "2026-11-20T10:00:00Z",
        "refunds": [{"id": "gid://shopify/Refund/7"}],
    }
    listed = _mark(node)
    assert listed is not None
    assert listed.financial_status == "partially_refunded" and listed.paid
    assert listed.cancelled_at == datetime(2026, 11, 20, 10, tzinfo=UTC) and listed.cancelled
    assert listed.refund_ids == {"7"}
    plain = _mark({**node, "displayFinancialStatus": "AUTHORIZED", "cancelledAt": None})
    assert plain is not None and not plain.paid and not plain.cancelled


# --- the stored summary, on the database ---------------------------------------------------


async def test_the_stored_summary_holds_the_topics_of_every_event(stack: Stack) -> None:
    order = new_order()
    stack.shopify.add_order(stack.shop, order)
    refund = refund_payload(order, 7_700_000_000_501, lines=[(0, 1)])
    later = {**order, "updated_at": (T0 + timedelta(days=400)).isoformat()}
    for topic, payload in [
        ("orders/create", order),
        ("orders/paid", later),
        ("refunds/create", refund),
    ]:
        assert await stack.send_webhook(topic, payload) == [200]
    other = new_order()
    assert await stack.send_webhook("orders/create", other) == [200]

    found = await stored_orders(stack.pool, stack.shop, [str(order["id"]), str(other["id"]), "0"])
    assert set(found) == {str(order["id"]), str(other["id"])}
    summary = found[str(order["id"])]
    assert summary.topics == {"orders/create", "orders/paid", "refunds/create"}
    assert summary.refund_ids == {str(refund["id"])}
    assert summary.updated_at == datetime.fromisoformat(later["updated_at"]).astimezone(UTC)
    assert found[str(other["id"])].topics == {"orders/create"}


# --- a round ------------------------------------------------------------------------------


async def test_a_paid_order_whose_orders_paid_never_came_gets_one_once(stack: Stack) -> None:
    order = new_order("paid")
    assert await stack.send_order(order) == [200]  # orders/create came, orders/paid never

    assert await reconciler(stack).reconcile_shop(stack.shop) == FINISHED
    events = await stored(stack)
    assert [(t, source) for t, _, source in events] == [
        ("orders/create", None),
        ("orders/paid", "reconciliation"),
    ]
    assert events[1][1] == f"reconcile:orders/paid:{order['id']}"
    reads = orders_read(stack)
    assert reads == 1
    assert await reconciler(stack).reconcile_shop(stack.shop) == FINISHED
    assert len(await stored(stack)) == 2
    assert orders_read(stack) == reads  # caught up: the listing alone shows nothing missed


async def test_orders_whose_webhooks_all_came_are_not_read(stack: Stack) -> None:
    paid = new_order("paid")
    assert await stack.send_order(paid) == [200]
    assert await stack.send_webhook("orders/paid", paid) == [200]
    pending = new_order("pending")
    assert await stack.send_order(pending) == [200]
    assert await reconciler(stack).reconcile_shop(stack.shop) == FINISHED
    assert orders_read(stack) == 0
    assert [source for _, _, source in await stored(stack)] == [None, None, None]


async def test_a_cancellation_that_never_came_is_stored_once(stack: Stack) -> None:
    order = new_order("pending")
    assert await stack.send_order(order) == [200]
    cancelled = cancel_in_shopify(stack, order)

    assert await reconciler(stack).reconcile_shop(stack.shop) == FINISHED
    recovered = [(t, w) for t, w, source in await stored(stack) if source]
    version = datetime.fromisoformat(cancelled["updated_at"]).astimezone(UTC).isoformat()
    assert recovered == [
        ("orders/updated", f"reconcile:orders/updated:{order['id']}@{version}"),
        ("orders/cancelled", f"reconcile:orders/cancelled:{order['id']}"),
    ]
    assert await reconciler(stack).reconcile_shop(stack.shop) == FINISHED
    assert len(await stored(stack)) == 3


async def test_a_never_received_paid_cancelled_order_comes_in_shopify_order(stack: Stack) -> None:
    order = new_order("paid")
    stack.shopify.add_order(stack.shop, order)
    refund = refund_payload(order, 7_700_000_000_601, lines=[(0, 2)])
    stack.shopify.add_refund(stack.shop, order["id"], refund)
    cancel_in_shopify(stack, order)

    assert await reconciler(stack).reconcile_shop(stack.shop) == FINISHED
    assert [(t, w) for t, w, _ in await stored(stack)] == [
        ("orders/create", f"reconcile:orders/create:{order['id']}"),
        ("orders/paid", f"reconcile:orders/paid:{order['id']}"),
        ("orders/cancelled", f"reconcile:orders/cancelled:{order['id']}"),
        ("refunds/create", f"reconcile:refunds/create:{refund['id']}"),
    ]
    assert await reconciler(stack).reconcile_shop(stack.shop) == FINISHED
    assert len(await stored(stack)) == 4
