"""A Shopify order through all five services to one Fortnox invoice and back to Shopify."""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import Decimal

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY

from libs.common.messaging import Topology
from simulators.fortnox import FortnoxSimulator
from simulators.shopify.payloads import LineSpec, order_payload
from simulators.shopify.webhooks import build_webhook, deliver
from tests.conftest import StackFactory
from tests.support.settle import settled
from tests.support.stack import SHOPIFY_SECRET, Stack, running_stack


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory()


def metafield(stack: Stack, order_id: int) -> dict[str, object] | None:
    key = (f"gid://shopify/Order/{order_id}", "fortbridge", "sync_status")
    value = stack.shopify.shop(stack.shop).metafields.get(key)
    return None if value is None else dict(json.loads(value["value"]))


async def test_order_becomes_one_invoice_with_timeline_and_shopify_status(stack: Stack) -> None:
    order = order_payload()
    assert await stack.send_order(order) == [200]
    await stack.wait_for(lambda: metafield(stack, order["id"]) is not None)

    [invoice] = stack.invoices_for(order["id"])
    assert invoice.total == Decimal(order["total_price"])
    assert invoice.get("YourOrderNumber") == order["name"]
    assert invoice.get("VATIncluded") is True
    assert invoice.get("Currency") == "SEK"
    articles = [row.get("ArticleNumber") for row in invoice.rows]
    assert articles[:2] == ["SOCK-WOOL-001", "COFFEE-500"]
    assert len(invoice.rows) == 3  # two lines and shipping
    customer = stack.fortnox.tenant(stack.tenant_id).customers[invoice.get("CustomerNumber")]
    assert customer.fields["Email"] == order["email"]

    status = metafield(stack, order["id"])
    assert status is not None
    assert status["status"] == "synced"
    assert status["document_number"] == str(invoice.document_number)
    assert (
        "fortnox-synced"
        in stack.shopify.shop(stack.shop).order_tags[f"gid://shopify/Order/{order['id']}"]
    )
    timeline = await stack.timeline(order["id"])
    assert [event["status"] for event in timeline["timeline_events"]] == ["synced"]
    assert timeline["status"]["mirrored_to_shopify"] is True


async def test_one_trace_covers_every_hop(
    stack: Stack, span_exporter: InMemorySpanExporter
) -> None:
    span_exporter.clear()
    order = order_payload()
    await stack.send_order(order)
    await stack.wait_for(lambda: metafield(stack, order["id"]) is not None)
    await settled(stack)  # every consumer is done: their spans have ended
    spans = span_exporter.get_finished_spans()
    [edge] = [s for s in spans if s.name == "POST /webhooks/shopify"]
    trace_id = edge.context.trace_id
    in_trace = {s.context.span_id: s for s in spans if s.context.trace_id == trace_id}
    ns = stack.settings.amqp_namespace
    consumers = {
        queue: [s for s in in_trace.values() if s.name == f"process {ns}.{queue}"]
        for queue in ("mapper.events", "fortnox_writer.commands", "timeline.results")
    }
    assert all(len(found) == 1 for found in consumers.values()), consumers

    def ancestors(span):  # type: ignore[no-untyped-def]
        chain = []
        while span.parent is not None and span.parent.span_id in in_trace:
            span = in_trace[span.parent.span_id]
            chain.append(span)
        return chain

    mapper, writer, timeline = (consumers[q][0] for q in consumers)
    assert edge in ancestors(mapper)
    assert mapper in ancestors(writer)
    assert writer in ancestors(timeline)
    for consumer in (mapper, writer, timeline):
        assert consumer.kind is SpanKind.CONSUMER
        assert in_trace[consumer.parent.span_id].kind is SpanKind.PRODUCER
    assert any(
        s.kind is SpanKind.CLIENT and s.name.startswith("POST /3/invoices")
        for s in in_trace.values()
    )
    # The status written back to Shopify carries the same trace id.
    status = metafield(stack, order["id"])
    assert status is not None and status["trace_id"] == format(trace_id, "032x")


async def test_same_webhook_three_times_at_once_gives_one_invoice(stack: Stack) -> None:
    order = order_payload()
    assert await stack.send_order(order, copies=3) == [200, 200, 200]
    await stack.wait_for(lambda: metafield(stack, order["id"]) is not None)
    await settled(stack)  # the copies are handled: a second invoice would be there now
    assert len(stack.invoices_for(order["id"])) == 1
    count = await stack.pool.fetchval(
        "SELECT count(*) FROM ingest.webhook_events WHERE shop = $1", stack.shop
    )
    assert count == 1


async def test_dropped_connection_after_fortnox_commit_gives_one_invoice(stack: Stack) -> None:
    stack.fortnox.faults.add(method="POST", path_regex=r"^/3/invoices$", kind="drop_after_commit")
    order = order_payload()
    await stack.send_order(order)
    await stack.wait_for(lambda: metafield(stack, order["id"]) is not None)
    assert len(stack.invoices_for(order["id"])) == 1
    attempts = await stack.pool.fetchval(
        "SELECT attempts FROM fortnox_writer.documents WHERE shop = $1", stack.shop
    )
    assert attempts == 1  # the retry found the committed invoice instead of posting again
    assert await stack.failed_jobs() == []


async def test_bad_hmac_is_401_and_leaves_nothing(stack: Stack) -> None:
    order = order_payload()
    webhook = build_webhook("orders/create", stack.shop, order, "not-the-secret")
    assert await deliver(stack.http, stack.url("ingest", "/webhooks/shopify"), webhook) == [401]
    malformed = build_webhook("orders/create", stack.shop, {}, "x").with_body(
        b"{not json", secret=SHOPIFY_SECRET
    )
    async with stack.http.post(
        stack.url("ingest", "/webhooks/shopify"), data=malformed.body, headers=malformed.headers
    ) as response:
        assert response.status == 400
        assert "not valid JSON" in (await response.json())["error"]
    await settled(stack)
    assert (
        await stack.pool.fetchval(
            "SELECT count(*) FROM ingest.webhook_events WHERE shop = $1", stack.shop
        )
        == 0
    )
    assert (
        await stack.pool.fetchval(
            "SELECT count(*) FROM mapper.processed_events WHERE shop = $1", stack.shop
        )
        == 0
    )
    assert stack.invoices() == []


async def test_fortnox_validation_error_becomes_failed_job_and_retry_fixes_it(
    stack: Stack, span_exporter: InMemorySpanExporter
) -> None:
    order = order_payload(lines=[LineSpec("Bier", "10.00", 3, "0.19", "BEER-DE")])
    await stack.send_order(order)
    await stack.wait_for(lambda: _has_jobs(stack))
    [job] = await stack.failed_jobs()
    assert job["error_class"] == "permanent"
    assert job["service"] == "fortnox_writer"
    assert job["fortnox_message"] and "moms" in job["fortnox_message"].lower()
    assert "VAT rate" in job["explanation"]
    assert job["trace_id"]
    timeline = await stack.timeline(order["id"])
    assert timeline["status"]["status"] == "failed"
    assert stack.invoices_for(order["id"]) == []

    stack.fortnox.set_vat_rates(stack.tenant_id, {Decimal(r) for r in ("25", "12", "6", "0", "19")})
    async with stack.http.put(
        stack.url("replayer", f"/admin/api/integrations/fortnox/failed_jobs/{job['id']}/retry.json")
    ) as response:
        assert response.status == 200
        assert (await response.json())["failed_job"]["status"] == "retrying"
    await stack.wait_for(lambda: len(stack.invoices_for(order["id"])) == 1)
    await stack.wait_for(lambda: (metafield(stack, order["id"]) or {}).get("status") == "synced")
    [invoice] = stack.invoices_for(order["id"])
    assert invoice.total == Decimal(order["total_price"])
    # The replay is a new trace that links back to the failed one.
    [replay] = [
        s
        for s in span_exporter.get_finished_spans()
        if s.name == "replay failed job"
        and s.attributes
        and s.attributes.get("fortbridge.failed_job.id") == job["id"]
    ]
    assert [format(link.context.trace_id, "032x") for link in replay.links] == [job["trace_id"]]


async def _has_jobs(stack: Stack) -> bool:
    return bool(await stack.failed_jobs())


async def test_retry_of_unknown_job_is_404(stack: Stack) -> None:
    url = f"/admin/api/integrations/fortnox/failed_jobs/{uuid.uuid4()}/retry.json"
    async with stack.http.put(stack.url("replayer", url)) as response:
        assert response.status == 404


async def test_event_stored_but_never_published_is_published_by_the_relay(
    stack: Stack,
) -> None:
    order = order_payload()
    stack.shopify.add_order(stack.shop, order)
    # What a crash between the commit and the publish leaves behind: a stored, unpublished row.
    await stack.pool.execute(
        """
        INSERT INTO ingest.webhook_events (event_uid, shop, topic, webhook_id, received_at, body)
        VALUES ($1, $2, 'orders/create', $3, now() - interval '10 seconds', $4)
        """,
        uuid.uuid4(),
        stack.shop,
        str(uuid.uuid4()),
        json.dumps(order),
    )
    await stack.wait_for(lambda: len(stack.invoices_for(order["id"])) == 1)
    assert (
        await stack.pool.fetchval(
            "SELECT count(*) FROM ingest.webhook_events WHERE shop = $1 AND published_at IS NULL",
            stack.shop,
        )
        == 0
    )
    # The relay's backlog gauge sees the outbox drained.
    await stack.wait_for(
        lambda: REGISTRY.get_sample_value("fortbridge_ingest_outbox_unpublished") == 0
    )


async def test_unmappable_order_is_a_failed_job_with_plain_reason(stack: Stack) -> None:
    order = order_payload()
    order["line_items"][0]["price"] = 199.0  # a float: money must be a decimal string
    await stack.send_order(order)
    await stack.wait_for(lambda: _has_jobs(stack))
    [job] = await stack.failed_jobs()
    assert job["service"] == "mapper"
    assert "decimal string" in job["explanation"]
    timeline = await stack.timeline(order["id"])
    assert timeline["status"]["status"] == "failed"


@pytest.mark.slow
@pytest.mark.parametrize("fortnox", [FortnoxSimulator(rate_limit=25, rate_window=5.0)])
async def test_orders_never_exceed_the_fortnox_rate_limit(
    amqp_url: str, database_url: str, broker_cleanup: Topology, fortnox: FortnoxSimulator
) -> None:
    async with running_stack(
        amqp_url=amqp_url,
        database_url=database_url,
        namespace=broker_cleanup.namespace,
        fortnox=fortnox,
    ) as stack:
        orders = [order_payload() for _ in range(12)]
        await asyncio.gather(*(stack.send_order(order) for order in orders))
        await stack.wait_for(
            lambda: all(len(stack.invoices_for(o["id"])) == 1 for o in orders), timeout=60
        )
        assert fortnox.count_429 == 0
        times = sorted(r.time for r in fortnox.requests_for(stack.tenant_id))
        busiest = max(sum(1 for t in times if start <= t < start + 5.0) for start in times)
        assert busiest <= 25
