"""The writer's scheduling: deferral instead of holding, fairness, 429s, failures, re-creation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from fortbridge.localstack import LocalStack, add_connected_shop, command_publisher, order_command
from libs.common.messaging import Topology
from libs.common.metrics import FORTNOX_429
from services.fortnox_writer.admission import TenantGate
from services.fortnox_writer.deferred import DeferredStore, ShopFacts, backoff
from services.fortnox_writer.reconciliation.fortnox_side import LiveFirst
from simulators.shopify.payloads import order_payload
from tests.services.fortnox_writer.writer_support import (
    dead_letters,
    deferred_counts,
    forget_deferred,
    invoices_of,
    settled,
    with_vat,
)
from tests.support.stack import running_stack


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    for attempt, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 30.0)):
        samples = [backoff(attempt, 1.0, 30.0) for _ in range(200)]
        assert all(ceiling / 2 <= s <= ceiling for s in samples)
        assert len(set(samples)) > 100  # jittered


def test_tenant_gate_bounds_commands_per_tenant() -> None:
    gate = TenantGate(2)
    assert gate.try_enter("a") and gate.try_enter("a")
    assert not gate.try_enter("a") and gate.full("a")
    assert gate.try_enter("b")
    gate.leave("a")
    assert gate.try_enter("a") and gate.total == 3


@pytest.fixture
async def writer_stack(
    amqp_url: str, database_url: str, broker_cleanup: Topology, request: pytest.FixtureRequest
) -> AsyncIterator[LocalStack]:
    overrides: dict[str, Any] = getattr(request, "param", {})
    async with running_stack(
        amqp_url=amqp_url,
        database_url=database_url,
        namespace=broker_cleanup.namespace,
        services=("fortnox_writer",),
        **overrides,
    ) as stack:
        try:
            yield stack
        finally:
            await forget_deferred(stack.pool)


async def _wait(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.mark.slow
async def test_a_heavy_tenants_backlog_does_not_delay_a_light_tenant(
    writer_stack: LocalStack,
) -> None:
    stack = writer_stack
    light_shop, light_tenant = await add_connected_shop(stack, "Light AB")
    async with command_publisher(stack.settings) as publish:
        # Warm up both tenants: customer and articles cached, so an order is one call.
        warm = [order_payload(), order_payload()]
        await publish(order_command(stack.shop, warm[0]))
        await publish(order_command(light_shop, warm[1]))
        await _wait(lambda: invoices_of(stack, stack.tenant_id, warm[0]["id"]), 20, "warm-up")
        await _wait(lambda: invoices_of(stack, light_tenant, warm[1]["id"]), 20, "warm-up")

        heavy = [order_payload() for _ in range(150)]
        await asyncio.gather(*(publish(order_command(stack.shop, o)) for o in heavy))

        # The backlog is taken off the broker into the deferred table, not held unacked.
        async def backlog() -> int:
            return (await deferred_counts(stack.pool, stack.shop)).get("rate_limit", 0)

        deadline = time.monotonic() + 20
        while await backlog() < 100:
            assert time.monotonic() < deadline, "the heavy backlog was not deferred"
            await asyncio.sleep(0.05)

        latencies = []
        for _ in range(4):
            order = order_payload()
            started = time.monotonic()
            await publish(order_command(light_shop, order))
            await _wait(lambda o=order: invoices_of(stack, light_tenant, o["id"]), 10, "light")
            latencies.append(time.monotonic() - started)
            await asyncio.sleep(0.3)
        assert await backlog() > 50  # the heavy tenant was still saturated throughout
    assert max(latencies) < 2.0, latencies
    # The heavy tenant kept to its rate: no 5 s window held more than 25 of its requests.
    # (API calls: Fortnox's limit counts them, not the OAuth token endpoint's.)
    api = [r for r in stack.fortnox.requests_for(stack.tenant_id) if r.path.startswith("/3/")]
    times = sorted(r.time for r in api)
    assert max(sum(1 for t in times if s <= t < s + 5.0) for s in times) <= 25
    assert stack.fortnox.count_429 == 0


@pytest.mark.slow
@pytest.mark.parametrize("writer_stack", [{"fortnox_rate_limit": 60}], indirect=True)
async def test_429s_are_counted_honoured_and_retried(writer_stack: LocalStack) -> None:
    stack = writer_stack  # the writer allows itself 60 per 5 s; Fortnox answers 429 over 25
    before = FORTNOX_429._value.get()
    async with command_publisher(stack.settings) as publish:
        first = order_payload()
        await publish(order_command(stack.shop, first))
        await _wait(lambda: invoices_of(stack, stack.tenant_id, first["id"]), 20, "warm-up")
        orders = [order_payload() for _ in range(45)]
        await asyncio.gather(*(publish(order_command(stack.shop, o)) for o in orders))
        await _wait(
            lambda: all(invoices_of(stack, stack.tenant_id, o["id"]) for o in orders), 60, "all"
        )
    assert stack.fortnox.count_429 > 0
    assert FORTNOX_429._value.get() - before == stack.fortnox.count_429
    assert all(len(invoices_of(stack, stack.tenant_id, o["id"])) == 1 for o in orders)
    # Honoured: after each 429 the tenant got a whole window of quiet, so 429s stay few.
    assert stack.fortnox.count_429 < 15
    assert not await dead_letters(stack.settings.amqp_url, Topology(stack.settings.amqp_namespace))


@pytest.mark.slow
async def test_a_validation_error_fails_at_once_with_fortnox_code_and_explanation(
    writer_stack: LocalStack,
) -> None:
    stack = writer_stack
    order = order_payload()
    async with command_publisher(stack.settings) as publish:
        await publish(with_vat(order_command(stack.shop, order), Decimal("7")))
        topology = Topology(stack.settings.amqp_namespace)
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + 20
        while not found and time.monotonic() < deadline:
            found = await dead_letters(stack.settings.amqp_url, topology)
            await asyncio.sleep(0.1)
    assert len(found) == 1
    headers = found[0]
    assert headers["x-fortbridge-error-class"] == "permanent"
    assert headers["x-fortbridge-error-code"] == "2000728"
    assert "moms" in headers["x-fortbridge-error-source-message"]  # Fortnox's Swedish message
    assert "VAT rate" in headers["x-fortbridge-error-explanation"]  # and the English one
    assert int(headers["x-fortbridge-error-attempts"]) == 1
    assert not invoices_of(stack, stack.tenant_id, order["id"])


@pytest.mark.slow
async def test_customer_and_articles_gone_from_fortnox_are_recreated_and_invoiced_once(
    writer_stack: LocalStack,
) -> None:
    stack = writer_stack
    tenant = stack.fortnox.tenant(stack.tenant_id)
    async with command_publisher(stack.settings) as publish:
        first = order_payload()
        await publish(order_command(stack.shop, first))
        await _wait(lambda: invoices_of(stack, stack.tenant_id, first["id"]), 20, "first")
        # Someone deletes the customer and the articles in Fortnox; the cache still has them.
        tenant.customers.clear()
        tenant.articles.clear()
        second = order_payload()
        await publish(order_command(stack.shop, second))
        await _wait(lambda: invoices_of(stack, stack.tenant_id, second["id"]), 30, "second")
    await stack.wait_for(lambda: settled(stack.pool, stack.shop), 30)
    assert len(invoices_of(stack, stack.tenant_id, second["id"])) == 1
    assert len(tenant.customers) == 1 and tenant.articles  # re-created
    paths = [(r.method, r.path, r.status) for r in stack.fortnox.requests_for(stack.tenant_id)]
    assert ("POST", "/3/invoices", 400) in paths  # the stale cache was found out
    assert (
        paths.count(("POST", "/3/customers", 201)) + paths.count(("POST", "/3/customers", 200)) == 2
    )
    assert not await dead_letters(stack.settings.amqp_url, Topology(stack.settings.amqp_namespace))


@pytest.mark.slow
async def test_every_kind_is_made_once_when_fortnox_commits_then_drops_the_connection(
    writer_stack: LocalStack,
) -> None:
    stack = writer_stack
    sim = stack.fortnox
    for path in ("customers", "articles", "invoices", "orders"):
        sim.faults.add(method="POST", path_regex=rf"^/3/{path}$", kind="drop_after_commit")
    source = order_payload(email=f"kinds-{time.monotonic_ns()}@example.com")
    invoice = order_command(stack.shop, source)
    assert invoice.document is not None
    as_order = invoice.model_copy(
        update={
            "command_id": invoice.command_id + "-order",
            "document_key": invoice.document_key.replace(":invoice", ":order"),
            "document": invoice.document.model_copy(
                update={"kind": "order", "external_reference": f"shopify-order-{source['id']}"}
            ),
        }
    )
    tenant = sim.tenant(stack.tenant_id)
    async with command_publisher(stack.settings) as publish:
        await publish(invoice)
        await _wait(lambda: invoices_of(stack, stack.tenant_id, source["id"]), 30, "invoice")
        await publish(as_order)
        await _wait(
            lambda: any(
                o.get("ExternalInvoiceReference1") == f"shopify-order-{source['id']}"
                for o in tenant.orders.values()
            ),
            30,
            "order",
        )
    await stack.wait_for(lambda: settled(stack.pool, stack.shop), 30)
    assert all(fault.fired == 1 for fault in sim.faults)  # each kind's first POST was dropped
    emails = [c.fields.get("Email") for c in tenant.customers.values()]
    assert emails.count(source["email"]) == 1
    assert len(invoices_of(stack, stack.tenant_id, source["id"])) == 1
    made = [
        o
        for o in tenant.orders.values()
        if o.get("ExternalInvoiceReference1") == f"shopify-order-{source['id']}"
    ]
    assert len(made) == 1
    posted = [r.path for r in sim.requests_for(stack.tenant_id) if r.method == "POST"]
    assert posted.count("/3/articles") == len(tenant.articles)  # none posted twice


@pytest.mark.slow
async def test_a_backfill_waits_behind_live_orders_of_its_own_tenant(
    writer_stack: LocalStack,
) -> None:
    """Backfill commands (origin backfill) are set aside as background work; a live order of
    the same shop published after 60 of them is made long before the backfill is done, and the
    backfill keeps to the tenant's rate."""
    stack = writer_stack
    async with command_publisher(stack.settings) as publish:
        warm = order_payload()
        await publish(order_command(stack.shop, warm))
        await _wait(lambda: invoices_of(stack, stack.tenant_id, warm["id"]), 20, "warm-up")

        past = [order_payload() for _ in range(60)]
        await asyncio.gather(
            *(
                publish(order_command(stack.shop, o).model_copy(update={"origin": "backfill"}))
                for o in past
            )
        )

        async def background() -> int:
            return int(
                await stack.pool.fetchval(
                    "SELECT count(*) FROM fortnox_writer.deferred_commands"
                    " WHERE shop = $1 AND background",
                    stack.shop,
                )
            )

        deadline = time.monotonic() + 20
        while await background() < 50:
            assert time.monotonic() < deadline, "the backfill was not set aside"
            await asyncio.sleep(0.05)
        live = order_payload()
        started = time.monotonic()
        await publish(order_command(stack.shop, live))
        await _wait(lambda: invoices_of(stack, stack.tenant_id, live["id"]), 10, "live order")
        latency = time.monotonic() - started
        made = sum(1 for o in past if invoices_of(stack, stack.tenant_id, o["id"]))
        assert await background() > 20  # the backfill was still waiting
    assert latency < 2.0, latency
    assert made < 40, made
    api = [r for r in stack.fortnox.requests_for(stack.tenant_id) if r.path.startswith("/3/")]
    times = sorted(r.time for r in api)
    assert max(sum(1 for t in times if s <= t < s + 5.0) for s in times) <= 25


class CountingStore(DeferredStore):
    """Counts the looks at a shop's backlog (what ``LiveFirst`` polls)."""

    checks = 0

    async def facts(self, shop: str) -> ShopFacts:
        facts = await super().facts(shop)
        self.checks += 1
        return facts


@pytest.mark.slow
async def test_a_reports_fortnox_reads_wait_while_live_commands_are_set_aside(
    writer_stack: LocalStack,
) -> None:
    stack = writer_stack
    store = CountingStore(stack.pool, "test")
    live = LiveFirst(store, stack.shop)
    await asyncio.wait_for(live.wait(), 1.0)  # nothing waiting: at once
    await store.put(
        command_id="live-1",
        shop=stack.shop,
        tenant_id=stack.tenant_id,
        document_key="k",
        routing_key="fortnox.command.create_document",
        message_id=None,
        body=b"{}",
        headers={},
        reason="rate_limit",
        due_in=60,
    )
    await store.put(
        command_id="past-1",
        shop=stack.shop,
        tenant_id=stack.tenant_id,
        document_key="k2",
        routing_key="fortnox.command.create_document",
        message_id=None,
        body=b"{}",
        headers={},
        reason="rate_limit",
        due_in=60,
        background=True,
    )
    checked = store.checks
    waiting = asyncio.create_task(live.wait())
    # Not a fixed wait: it looked at the shop's backlog twice (it would have returned after the
    # first look without the live command), and is still waiting.
    await stack.wait_for(lambda: store.checks >= checked + 2 or waiting.done(), timeout=5)
    assert not waiting.done()  # behind the live command
    await stack.pool.execute(
        "DELETE FROM fortnox_writer.deferred_commands WHERE command_id = 'live-1'"
    )
    await asyncio.wait_for(waiting, 2.0)  # background work does not hold a report back
