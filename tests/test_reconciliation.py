"""Reconciliation through the stack: orders, payments, cancellations and refunds Shopify never
delivered by webhook become their Fortnox documents and payments exactly once (ingest, mapper,
writer; both simulators)."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from libs.common.service import STATE
from services.ingest.reconcile.runner import FINISHED, Reconciler
from services.mapper.accounting import ShopSettings, plan_event
from simulators.shopify.payloads import LineSpec, order_payload
from tests.conftest import StackFactory
from tests.services.mapper.builders import refund_payload
from tests.support.settle import settled as settle_stack
from tests.support.stack import Stack

LINES = [
    LineSpec("Mugg", "129.00", 3, "0.25", "MUG-BLUE"),
    LineSpec("Kokbok", "249.00", 2, "0.06", "BOOK-COOK-1"),
]


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory(
        services=("ingest", "mapper", "fortnox_writer"), reconcile_interval_seconds=0
    )


def replica(stack: Stack) -> Reconciler:
    """A reconciler as another ingest replica has it (same database, same broker)."""
    return Reconciler(stack.apps["ingest"][STATE].require_runtime())


def new_order(minutes: int = 1, financial_status: str = "paid") -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    return order_payload(
        lines=LINES,
        created_at=now,
        updated_at=now + timedelta(minutes=minutes),
        financial_status=financial_status,
    )


async def deliver_paid(stack: Stack, order: dict[str, Any]) -> None:
    """A paid order as Shopify delivers it: orders/create and orders/paid."""
    assert await stack.send_order(order) == [200]
    assert await stack.send_webhook("orders/paid", order) == [200]


def cancel_in_shopify(stack: Stack, order: dict[str, Any], financial_status: str) -> None:
    """Cancel the order in Shopify without a webhook: cancelled_at set, updated_at moved on."""
    cancelled = copy.deepcopy(stack.shopify.shop(stack.shop).orders[order["id"]])
    moment = datetime.fromisoformat(cancelled["updated_at"]) + timedelta(minutes=5)
    cancelled.update(
        cancelled_at=moment.isoformat(),
        cancel_reason="customer",
        updated_at=moment.isoformat(),
        financial_status=financial_status,
    )
    stack.shopify.add_order(stack.shop, cancelled)


def original_of(stack: Stack, order: dict[str, Any]) -> Any:
    [invoice] = [i for i in stack.invoices_for(order["id"]) if not i.credit]
    return invoice


def payments_on(stack: Stack, invoice: Any) -> list[Any]:
    tenant = stack.fortnox.tenant(stack.tenant_id)
    return [p for p in tenant.payments.values() if p.invoice_number == invoice.document_number]


def credits_of(stack: Stack, invoice: Any) -> list[Any]:
    return [
        i for i in stack.invoices() if i.credit and i.invoice_reference == invoice.document_number
    ]


async def stored_events(stack: Stack) -> list[tuple[str, str | None]]:
    rows = await stack.pool.fetch(
        "SELECT topic, source FROM ingest.webhook_events WHERE shop = $1 ORDER BY received_at",
        stack.shop,
    )
    return [(row["topic"], row["source"]) for row in rows]


def credits_for(stack: Stack, refund_id: int) -> list[Any]:
    reference = f"shopify-refund-{refund_id}"
    return [i for i in stack.invoices() if i.get("ExternalInvoiceReference1") == reference]


def refunded(refund: dict[str, Any]) -> Decimal:
    return sum((Decimal(line["subtotal"]) for line in refund["refund_line_items"]), Decimal(0))


async def settled(stack: Stack) -> None:
    """Let the pipeline finish whatever it was given (documents are made asynchronously)."""
    await settle_stack(stack)


async def test_an_order_without_its_webhook_becomes_one_invoice_once(stack: Stack) -> None:
    order = new_order()
    stack.shopify.add_order(stack.shop, order)  # Shopify never delivers its webhook

    assert await replica(stack).reconcile_shop(stack.shop) == FINISHED
    await stack.wait_for(lambda: len(stack.invoices_for(order["id"])) == 1, timeout=30)
    [invoice] = stack.invoices_for(order["id"])
    assert invoice.total == Decimal(order["total_price"])
    await stack.wait_for(lambda: original_of(stack, order).balance == 0, timeout=30)
    recovered = [("orders/create", "reconciliation"), ("orders/paid", "reconciliation")]
    assert await stored_events(stack) == recovered

    # A second round, then two replicas at once: nothing new is stored or made.
    assert await replica(stack).reconcile_shop(stack.shop) == FINISHED
    outcomes = await asyncio.gather(
        replica(stack).reconcile_shop(stack.shop), replica(stack).reconcile_shop(stack.shop)
    )
    assert FINISHED in outcomes
    await settled(stack)
    assert await stored_events(stack) == recovered
    assert len(stack.invoices_for(order["id"])) == 1
    assert len(payments_on(stack, invoice)) == 1


async def test_an_order_whose_webhooks_came_is_not_stored_again(stack: Stack) -> None:
    order = new_order()
    await deliver_paid(stack, order)
    await stack.wait_for(lambda: len(stack.invoices_for(order["id"])) == 1, timeout=30)
    assert await replica(stack).reconcile_shop(stack.shop) == FINISHED
    await settled(stack)
    assert await stored_events(stack) == [("orders/create", None), ("orders/paid", None)]
    assert len(stack.invoices_for(order["id"])) == 1


async def test_a_missed_refund_becomes_its_negative_invoice_once(stack: Stack) -> None:
    order = new_order()
    await deliver_paid(stack, order)
    await stack.wait_for(lambda: len(stack.invoices_for(order["id"])) == 1, timeout=30)
    refund = refund_payload(order, 7_700_000_000_101, lines=[(0, 1)])
    stack.shopify.add_refund(stack.shop, order["id"], refund)  # refunds/create never comes

    assert await replica(stack).reconcile_shop(stack.shop) == FINISHED
    await stack.wait_for(lambda: len(credits_for(stack, refund["id"])) == 1, timeout=30)
    [credit] = credits_for(stack, refund["id"])
    assert credit.total == -refunded(refund)
    assert await stored_events(stack) == [
        ("orders/create", None),
        ("orders/paid", None),
        ("orders/updated", "reconciliation"),  # the order moved on in Shopify
        ("refunds/create", "reconciliation"),
    ]

    assert await replica(stack).reconcile_shop(stack.shop) == FINISHED
    await settled(stack)
    assert len(await stored_events(stack)) == 4
    assert len(credits_for(stack, refund["id"])) == 1
    [original] = stack.invoices_for(order["id"])
    assert original.total == Decimal(order["total_price"])  # the refund is not credited twice


async def test_a_refund_missed_while_orders_updated_came_is_still_found(stack: Stack) -> None:
    order = new_order()
    await deliver_paid(stack, order)
    refund = refund_payload(order, 7_700_000_000_201, lines=[(1, 1)])
    stack.shopify.add_refund(stack.shop, order["id"], refund)
    current = stack.shopify.shop(stack.shop).orders[order["id"]]
    assert await stack.send_webhook("orders/updated", current) == [200]  # came; the refund not

    assert await replica(stack).reconcile_shop(stack.shop) == FINISHED
    await stack.wait_for(lambda: len(credits_for(stack, refund["id"])) == 1, timeout=30)
    events = await stored_events(stack)
    assert events[-1] == ("refunds/create", "reconciliation")
    assert ("orders/updated", "reconciliation") not in events  # nothing newer than received


async def test_an_order_never_received_with_its_refund_makes_invoice_and_credit(
    stack: Stack,
) -> None:
    order = new_order()
    stack.shopify.add_order(stack.shop, order)
    refund = refund_payload(order, 7_700_000_000_301, lines=[(0, 2)])
    stack.shopify.add_refund(stack.shop, order["id"], refund)

    assert await replica(stack).reconcile_shop(stack.shop) == FINISHED
    await stack.wait_for(lambda: len(credits_for(stack, refund["id"])) == 1, timeout=30)
    [invoice] = stack.invoices_for(order["id"])
    assert invoice.total == Decimal(order["total_price"])
    assert credits_for(stack, refund["id"])[0].total == -refunded(refund)
    await stack.wait_for(lambda: original_of(stack, order).balance == 0, timeout=30)


async def test_a_missed_orders_paid_registers_the_payment_once(stack: Stack) -> None:
    order = new_order()
    assert await stack.send_order(order) == [200]  # orders/paid never comes
    await stack.wait_for(lambda: len(stack.invoices_for(order["id"])) == 1, timeout=30)
    invoice = original_of(stack, order)
    assert invoice.balance == invoice.total  # the invoice stays open without orders/paid

    assert await replica(stack).reconcile_shop(stack.shop) == FINISHED
    await stack.wait_for(lambda: original_of(stack, order).balance == 0, timeout=30)
    [payment] = payments_on(stack, invoice)
    assert payment.amount == Decimal(order["total_price"])
    assert await stored_events(stack) == [
        ("orders/create", None),
        ("orders/paid", "reconciliation"),
    ]

    assert await replica(stack).reconcile_shop(stack.shop) == FINISHED
    await settled(stack)
    assert len(await stored_events(stack)) == 2
    assert len(payments_on(stack, invoice)) == 1
    assert original_of(stack, order).balance == 0


async def test_a_missed_cancellation_of_an_unpaid_order_cancels_its_invoice_once(
    stack: Stack,
) -> None:
    order = new_order(financial_status="pending")
    assert await stack.send_order(order) == [200]
    await stack.wait_for(lambda: len(stack.invoices_for(order["id"])) == 1, timeout=30)
    cancel_in_shopify(stack, order, "voided")  # orders/cancelled never comes

    assert await replica(stack).reconcile_shop(stack.shop) == FINISHED
    await stack.wait_for(lambda: original_of(stack, order).cancelled, timeout=30)
    assert await stored_events(stack) == [
        ("orders/create", None),
        ("orders/updated", "reconciliation"),
        ("orders/cancelled", "reconciliation"),
    ]

    assert await replica(stack).reconcile_shop(stack.shop) == FINISHED
    await settled(stack)
    assert len(await stored_events(stack)) == 3
    invoice = original_of(stack, order)
    assert invoice.cancelled and credits_of(stack, invoice) == []


async def test_a_missed_cancellation_of_a_paid_order_credits_it_once(stack: Stack) -> None:
    order = new_order()
    await deliver_paid(stack, order)
    await stack.wait_for(
        lambda: bool(stack.invoices_for(order["id"])) and original_of(stack, order).balance == 0,
        timeout=30,
    )
    cancel_in_shopify(stack, order, "paid")  # cancelled, not refunded; no webhook

    assert await replica(stack).reconcile_shop(stack.shop) == FINISHED
    await stack.wait_for(lambda: len(credits_of(stack, original_of(stack, order))) == 1, timeout=30)
    invoice = original_of(stack, order)
    [credit] = credits_of(stack, invoice)
    assert credit.total == -invoice.total
    assert not invoice.cancelled  # a paid invoice is credited, never cancelled
    events = await stored_events(stack)
    assert events[2:] == [
        ("orders/updated", "reconciliation"),
        ("orders/cancelled", "reconciliation"),
    ]

    assert await replica(stack).reconcile_shop(stack.shop) == FINISHED
    await settled(stack)
    assert len(await stored_events(stack)) == 4
    assert len(credits_of(stack, original_of(stack, order))) == 1


def test_the_mapper_plans_the_same_documents_when_events_come_twice() -> None:
    """The events reconciliation stores may also come as webhooks (late), or twice: the
    planner's per-order state makes the second time change nothing and make no new document."""
    order = order_payload(lines=LINES, created_at="2026-11-20T10:00:00+01:00")
    refund = refund_payload(order, 7_700_000_000_401, lines=[(0, 1)])
    updated = copy.deepcopy(order)
    updated["updated_at"] = "2026-11-20T11:00:00+01:00"
    updated["refunds"] = [refund]
    events = [("orders/create", order), ("refunds/create", refund), ("orders/updated", updated)]
    settings = ShopSettings()

    state = None
    first: list[tuple[str, str]] = []
    for n, (topic, payload) in enumerate(events):
        plan = plan_event("s.myshopify.com", topic, payload, settings, state, event_uid=f"a{n}")
        first += [(c.action, c.document_key) for c in plan.commands]
        state = plan.state
    after_first = state
    assert [key for _, key in first] == [
        f"s.myshopify.com:order:{order['id']}:invoice",
        f"s.myshopify.com:refund:{refund['id']}:credit",
    ]

    again: list[tuple[str, str]] = []
    for n, (topic, payload) in enumerate(events):
        plan = plan_event("s.myshopify.com", topic, payload, settings, state, event_uid=f"b{n}")
        again += [(c.action, c.document_key) for c in plan.commands]
        state = plan.state
    assert state == after_first
    # No new document: at most a create planned again under its key (the writer makes it once).
    assert set(again) <= {first[0]}
