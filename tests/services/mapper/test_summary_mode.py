"""Summary mode: 2,000 orders of a day become a handful of Fortnox documents (one per day,
currency and VAT profile) whose totals per VAT rate equal the orders' sums; a refund the next
day goes in the next day's refunds summary; every order says which summary holds it; and the
whole day costs Fortnox well under 0.1 requests per order."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from libs.common import database
from libs.common.messages import FortnoxCommand, Message
from libs.common.messaging import Topology
from services.mapper.handler import EventHandler
from services.mapper.service import definition
from services.mapper.store import save_shop_settings
from services.mapper.summary import close_due
from simulators.shopify.payloads import LineSpec, order_payload
from tests.services.fortnox_writer.actions_support import SERVICES, ledger_row, send
from tests.services.mapper.builders import refund_payload
from tests.services.mapper.test_handler import delivery
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.slow
D = Decimal
ORDERS = 2_000
DAY = date(2026, 11, 30)
PRODUCTS = [
    LineSpec("Ullsockor", "199.00", 1, "0.25", "SOCK-WOOL-001"),
    LineSpec("Kaffe", "89.00", 1, "0.12", "COFFEE-500"),
    LineSpec("Kokbok", "249.00", 1, "0.06", "BOOK-COOK-1"),
]


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[Message, str]] = []

    async def publish(self, message: Message, routing_key: str, **_: Any) -> None:
        self.sent.append((message, routing_key))


@pytest.fixture
async def stack(amqp_url: str, database_url: str, broker_cleanup: Topology) -> AsyncIterator[Stack]:
    async with running_stack(
        amqp_url=amqp_url,
        database_url=database_url,
        namespace=broker_cleanup.namespace,
        services=SERVICES,
    ) as stack:
        assert definition.migrations is not None
        await database.migrate(stack.pool, "mapper", definition.migrations)
        yield stack


def day_orders(rng: random.Random) -> list[dict[str, Any]]:
    orders = []
    start = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)  # 01:30 in Stockholm
    for n in range(ORDERS):
        lines = [
            LineSpec(p.title, p.price, rng.randint(1, 3), p.tax_rate, p.sku)
            for p in rng.sample(PRODUCTS, rng.randint(1, 3))
        ]
        created = start + timedelta(seconds=n * 30)  # within the day, up to 17:10 UTC
        orders.append(order_payload(5_300_000_000_000 + n, lines=lines, created_at=created))
    return orders


def per_rate(orders: list[dict[str, Any]]) -> dict[Decimal, Decimal]:
    """What Shopify charged per VAT rate (prices include VAT): lines and shipping."""
    out: dict[Decimal, Decimal] = defaultdict(lambda: D(0))
    for order in orders:
        for line in order["line_items"]:
            rate = D(str(line["tax_lines"][0]["rate"])) * 100
            out[rate.normalize()] += D(line["price"]) * line["quantity"]
        for ship in order["shipping_lines"]:
            rate = D(str(ship["tax_lines"][0]["rate"])) * 100
            out[rate.normalize()] += D(ship["price"])
    return dict(out)


async def test_a_days_orders_become_a_handful_of_documents(stack: Stack) -> None:
    shop, pool = stack.shop, stack.pool
    async with pool.acquire() as conn:
        await save_shop_settings(conn, shop, {"booking": "daily_summary"})
    recorder = Recorder()
    runtime = SimpleNamespace(
        pool=pool,
        publisher=recorder,
        settings=SimpleNamespace(default_guest_customer_name="Webbkund"),
    )
    handle = EventHandler(runtime)  # type: ignore[arg-type]
    orders = day_orders(random.Random(17))
    for order in orders:
        await handle(delivery(shop, "orders/create", order))
    refunded = orders[7]
    refund = refund_payload(
        refunded, 7_300_000_001, lines=[(0, 1)], created_at="2026-12-01T10:00:00+01:00"
    )
    await handle(delivery(shop, "refunds/create", refund))
    paid = orders[100:103]
    for order in paid:
        await handle(delivery(shop, "orders/paid", order))
    commands = [m for m, _ in recorder.sent if isinstance(m, FortnoxCommand)]
    assert commands == []  # nothing goes to Fortnox before the day closes
    statuses = {m.status for m, _ in recorder.sent}  # type: ignore[attr-defined]
    assert statuses == {"summarized"}

    # The day closes at midnight in Stockholm: 2026-12-01 00:00 CET.
    closed = await close_due(runtime, {}, now=datetime(2026, 11, 30, 23, 0, tzinfo=UTC))  # type: ignore[arg-type]
    sales_key = f"{shop}:summary:2026-11-30:SEK:incl-SEVAT:sales"
    assert [c.document_key for c in closed] == [sales_key, f"{sales_key}:payment:KORT"]
    assert await close_due(runtime, {}, now=datetime(2026, 11, 30, 23, 30, tzinfo=UTC)) == []  # type: ignore[arg-type]
    sales, payment = closed
    assert payment.payment is not None and payment.target_document_key == sales_key
    assert payment.payment.amount == sum(D(o["total_price"]) for o in paid)
    assert sales.document is not None
    assert len(sales.document.rows) == 3  # one per VAT rate (and account)
    expected = per_rate(orders)
    got = {row.vat.normalize(): row.price for row in sales.document.rows}
    assert got == expected
    assert sales.expected_total == sum(D(o["total_price"]) for o in orders)

    refunds = await close_due(runtime, {}, now=datetime(2026, 12, 2, 0, 0, tzinfo=UTC))  # type: ignore[arg-type]
    assert [c.document_key for c in refunds] == [
        f"{shop}:summary:2026-12-01:SEK:incl-SEVAT:refunds"
    ]
    refunded_line = refunded["line_items"][0]
    assert refunds[0].expected_total == -D(refunded_line["price"])

    # Which summary holds which order.
    holder = await pool.fetchval(
        "SELECT summary_key FROM mapper.summary_entries WHERE shop = $1 AND order_id = $2"
        " AND kind = 'sales'",
        shop,
        str(orders[1234]["id"]),
    )
    assert holder == sales.document_key

    # The writer makes them in Fortnox: totals as the orders', a few requests for 2,000 orders.
    before = len(stack.fortnox.requests_for(stack.tenant_id))
    for command in [sales, payment, *refunds]:
        await send(stack, command)
    for command in [sales, payment, *refunds]:

        async def finished(key: str = command.document_key) -> bool:
            row = await ledger_row(pool, key)
            return row is not None and row["finished_at"] is not None

        await stack.wait_for(finished, timeout=60)
    invoices = stack.fortnox.tenant(stack.tenant_id).invoices.values()
    by_reference = {i.get("ExternalInvoiceReference1"): i for i in invoices}
    made = by_reference["fb-summary-2026-11-30-SEK-incl-SEVAT-sales"]
    assert made.total == sales.expected_total
    assert made.balance == made.total - payment.payment.amount
    assert by_reference["fb-summary-2026-12-01-SEK-incl-SEVAT-refunds"].total == (
        refunds[0].expected_total
    )
    calls = len(stack.fortnox.requests_for(stack.tenant_id)) - before
    print(f"summary mode: {calls} Fortnox requests for {ORDERS} orders and a refund")
    assert calls / ORDERS < 0.1, calls
