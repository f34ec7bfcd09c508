"""Database calls are spans: named after the statement's operation and table, under the span
that made them (so an order's trace shows where its time went), never carrying values."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

import asyncpg
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from libs.common import tracing
from libs.common.shared_schemas import migrate_shared
from simulators.shopify.payloads import order_payload
from tests.conftest import StackFactory
from tests.support.settle import settled
from tests.support.stack import Stack

SECRET = "secret-shop-value.myshopify.com"


def database_spans(spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
    return [s for s in spans if (s.attributes or {}).get("db.system.name") == "postgresql"]


def carries(span: ReadableSpan, value: str) -> bool:
    return value in span.name or any(value in str(v) for v in (span.attributes or {}).values())


async def test_a_statement_in_a_trace_is_a_span(
    pool: asyncpg.Pool, span_exporter: InMemorySpanExporter, database_url: str
) -> None:
    """With its operation, table, database and caller; without its values."""
    await migrate_shared(pool)
    span_exporter.clear()
    tracer = tracing.get_tracer("tests")
    with tracer.start_as_current_span("handle order") as parent:
        count = await pool.fetchval(
            "SELECT count(*) FROM access.api_tokens WHERE shop = $1", SECRET
        )
        with pytest.raises(asyncpg.UniqueViolationError):
            await pool.execute(
                "INSERT INTO shops.installations (shop, status)"
                " VALUES ($1, 'installed'), ($1, 'installed')",
                SECRET,
            )
    assert count == 0
    spans = database_spans(span_exporter.get_finished_spans())
    select, insert = spans
    assert select.name == "SELECT access.api_tokens" and select.kind is SpanKind.CLIENT
    assert select.parent is not None and select.parent.span_id == parent.get_span_context().span_id
    assert dict(select.attributes or {}) == {
        "db.system.name": "postgresql",
        "db.operation.name": "SELECT",
        "db.collection.name": "access.api_tokens",
        "db.query.summary": "SELECT access.api_tokens",
        "db.namespace": urlsplit(database_url).path.lstrip("/"),
        "code.function.name": f"{__name__}.{test_a_statement_in_a_trace_is_a_span.__name__}",
    }
    assert insert.name == "INSERT shops.installations"
    assert insert.status.status_code is StatusCode.ERROR and not insert.status.description
    assert (insert.attributes or {})["error.type"] == "UniqueViolationError"
    assert not insert.events  # no exception event: its message quotes the row
    assert not any(carries(span, SECRET) for span in spans)


async def test_no_span_outside_a_trace(
    pool: asyncpg.Pool, span_exporter: InMemorySpanExporter
) -> None:
    span_exporter.clear()
    assert await pool.fetchval("SELECT 1") == 1
    async with pool.acquire() as connection:
        await connection.fetch("SELECT 2")
    assert database_spans(span_exporter.get_finished_spans()) == []


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory()


async def test_an_orders_trace_shows_its_database_calls(
    stack: Stack, span_exporter: InMemorySpanExporter
) -> None:
    span_exporter.clear()
    order = order_payload()
    assert await stack.send_order(order) == [200]

    def synced() -> bool:
        key = (f"gid://shopify/Order/{order['id']}", "fortbridge", "sync_status")
        return key in stack.shopify.shop(stack.shop).metafields

    await stack.wait_for(synced)
    await settled(stack)  # every consumer is done: their spans have ended
    spans = span_exporter.get_finished_spans()
    [edge] = [s for s in spans if s.name == "POST /webhooks/shopify"]
    in_trace = {s.context.span_id: s for s in spans if s.context.trace_id == edge.context.trace_id}

    def under(span: ReadableSpan) -> list[str]:
        names = []
        while span.parent is not None and span.parent.span_id in in_trace:
            span = in_trace[span.parent.span_id]
            names.append(span.name)
        return names

    calls = database_spans(list(in_trace.values()))
    names = {span.name for span in calls}
    ns = stack.settings.amqp_namespace
    assert "INSERT ingest.webhook_events" in names  # the webhook stored
    stored = next(s for s in calls if s.name == "INSERT ingest.webhook_events")
    assert "POST /webhooks/shopify" in under(stored)
    writer = [s for s in calls if f"process {ns}.fortnox_writer.commands" in under(s)]
    assert any(
        s.name.startswith(("INSERT fortnox_writer.", "UPDATE fortnox_writer.")) for s in writer
    )
    timeline = [s for s in calls if f"process {ns}.timeline.results" in under(s)]
    assert any(s.name == "INSERT timeline.events" for s in timeline)
    for value in (stack.shop, str(order["id"]), order["email"]):
        assert not any(carries(span, value) for span in calls), value
