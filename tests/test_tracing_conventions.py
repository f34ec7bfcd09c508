"""Spans follow the OpenTelemetry HTTP and messaging semantic conventions, sampling is a
setting, and one end-to-end order moves the metrics the dashboard reads."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY

from libs.common import tracing
from libs.common.settings import Settings
from simulators.shopify.payloads import order_payload
from tests.conftest import StackFactory
from tests.support.settle import settled
from tests.support.stack import Stack


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory()


def synced(stack: Stack, order_id: int) -> bool:
    key = (f"gid://shopify/Order/{order_id}", "fortbridge", "sync_status")
    value = stack.shopify.shop(stack.shop).metafields.get(key)
    return value is not None and '"synced"' in value["value"]


async def one_order_trace(stack: Stack, exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    exporter.clear()
    order = order_payload()
    assert await stack.send_order(order) == [200]
    await stack.wait_for(lambda: synced(stack, order["id"]))
    await settled(stack)  # every consumer is done: their spans have ended
    spans = exporter.get_finished_spans()
    [edge] = [s for s in spans if s.name == "POST /webhooks/shopify"]
    return [s for s in spans if s.context.trace_id == edge.context.trace_id]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


async def test_span_names_and_attributes_follow_the_conventions(
    stack: Stack, span_exporter: InMemorySpanExporter
) -> None:
    spans = await one_order_trace(stack, span_exporter)
    ns = stack.settings.amqp_namespace
    names = {s.name for s in spans}
    assert {
        "POST /webhooks/shopify",
        f"publish {ns}.events:shopify.orders.create",
        f"process {ns}.mapper.events",
        f"publish {ns}.events:fortnox.command.create_document",
        f"process {ns}.fortnox_writer.commands",
        f"publish {ns}.events:fortnox.result.synced",
        f"process {ns}.timeline.results",
        "POST /3/invoices",
    } <= names, sorted(names)

    [server] = [s for s in spans if s.kind is SpanKind.SERVER]
    assert attrs(server) | {
        "http.request.method": "POST",
        "http.route": "/webhooks/shopify",
        "url.path": "/webhooks/shopify",
        "url.scheme": "http",
        "http.response.status_code": 200,
        "server.address": "127.0.0.1",
    } == attrs(server)
    assert attrs(server)["fortbridge.shop"] == stack.shop

    for span in spans:
        a = attrs(span)
        if span.kind is SpanKind.PRODUCER:
            exchange, _, key = span.name.removeprefix("publish ").partition(":")
            assert a["messaging.system"] == "rabbitmq"
            assert a["messaging.operation.type"] == "send"
            assert a["messaging.operation.name"] == "publish"
            assert a["messaging.destination.name"] == exchange
            assert a["messaging.rabbitmq.destination.routing_key"] == key
            assert a["messaging.message.id"] and a["messaging.message.body.size"] > 0
            assert a["server.address"] == "127.0.0.1" and a["server.port"] == 5672
        elif span.kind is SpanKind.CONSUMER:
            queue = span.name.removeprefix("process ")
            assert a["messaging.system"] == "rabbitmq"
            assert a["messaging.operation.type"] == "process"
            assert a["messaging.destination.name"] == queue
            assert a["messaging.rabbitmq.message.delivery_tag"] > 0
            assert span.parent is not None  # the producer's context came with the message

    clients = [s for s in spans if s.kind is SpanKind.CLIENT]
    fortnox = [s for s in clients if s.name.startswith(("GET /3/", "POST /3/", "PUT /3/"))]
    shopify = [s for s in clients if s.name.endswith("/graphql.json")]
    database = [s for s in clients if attrs(s).get("db.system.name") == "postgresql"]
    assert fortnox and shopify and database
    assert len(fortnox) + len(shopify) + len(database) == len(clients)
    for span in database:  # tests/test_database_spans.py checks them in detail
        assert attrs(span)["db.operation.name"] == span.name.split()[0]
    for span in fortnox:
        a = attrs(span)
        assert a["http.request.method"] == span.name.split()[0]
        assert isinstance(a["http.response.status_code"], int)  # a lookup may answer 404
        assert a["server.address"] == "127.0.0.1" and isinstance(a["server.port"], int)
        assert a["url.template"] == span.name.split()[1]
    for span in shopify:
        a = attrs(span)
        assert span.name == "POST /shops/{shop}/admin/api/{version}/graphql.json"
        assert a["http.request.method"] == "POST"
        assert a["url.template"] == span.name.split()[1]
        assert a["server.address"] == "127.0.0.1" and isinstance(a["server.port"], int)
        assert a["http.response.status_code"] == 200
        assert a["graphql.operation.name"] in {"metafieldsSet", "tagsAdd"}


async def test_admin_requests_are_server_spans_and_health_checks_are_not(
    stack: Stack, span_exporter: InMemorySpanExporter
) -> None:
    span_exporter.clear()
    await stack.timeline(123)
    for service in ("ingest", "timeline"):
        for path in ("/healthz", "/readyz", "/metrics"):
            async with stack.http.get(stack.url(service, path)) as response:
                assert response.status == 200
    headers = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    async with stack.http.get(stack.url("timeline", "/nowhere"), headers=headers) as response:
        assert response.status == 404
    spans = span_exporter.get_finished_spans()
    # The admin request's database calls are its children (tests/test_database_spans.py).
    database = [s for s in spans if attrs(s).get("db.system.name") == "postgresql"]
    spans = [s for s in spans if s not in database]
    assert {s.name for s in spans} == {
        "GET /admin/api/orders/{order_id}/timeline_events.json",
        "GET",
    }
    [admin] = [s for s in spans if s.name.startswith("GET /admin/")]
    assert database and all(
        s.parent is not None and s.parent.span_id == admin.context.span_id for s in database
    )
    [unmatched] = [s for s in spans if s.name == "GET"]
    assert format(unmatched.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert attrs(unmatched)["http.response.status_code"] == 404


def kept_remote_parent(trace_id: int) -> Context:
    """The context of a sampled span from another process (a message's traceparent)."""
    return trace.set_span_in_context(
        trace.NonRecordingSpan(
            trace.SpanContext(trace_id, 1, is_remote=True, trace_flags=trace.TraceFlags(1))
        )
    )


def test_sampling_ratio_is_a_setting_and_children_follow_their_parent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_RATIO", "0.25")
    assert Settings().otel_traces_sampler_ratio == 0.25
    never, always = tracing.sampler(0.0), tracing.sampler(1.0)
    trace_id = 0x0AF7651916CD43DD8448EB211C80319C
    assert never.should_sample(None, trace_id, "root").decision is Decision.DROP
    assert always.should_sample(None, trace_id, "root").decision is Decision.RECORD_AND_SAMPLE
    sampled_parent = kept_remote_parent(trace_id)
    decision = never.should_sample(sampled_parent, trace_id, "child").decision
    assert decision is Decision.RECORD_AND_SAMPLE  # a kept trace stays whole


def test_a_burst_cap_keeps_every_trace_up_to_its_rate_and_a_share_beyond(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_RATIO", "0.1")
    monkeypatch.setenv("OTEL_TRACES_RECORDED_PER_SECOND", "5")
    settings = Settings()
    assert (settings.otel_traces_sampler_ratio, settings.otel_traces_recorded_per_second) == (
        0.1,
        5.0,
    )
    now = [100.0]
    capped = tracing.BurstCapped(5, 0.1, clock=lambda: now[0])
    # TraceIdRatioBased keeps an id whose low 64 bits are below ratio * 2**64.
    by_ratio, dropped = 0x0F, 0xFFFF_FFFF_FFFF_FFF0

    def decisions(trace_id: int, count: int) -> list[Decision]:
        return [capped.should_sample(None, trace_id, "root").decision for _ in range(count)]

    # Five a second are kept whatever their id; the sixth in the same second only by the ratio.
    assert decisions(dropped, 5) == [Decision.RECORD_AND_SAMPLE] * 5
    assert decisions(dropped, 3) == [Decision.DROP] * 3
    assert decisions(by_ratio, 1) == [Decision.RECORD_AND_SAMPLE]
    # The bucket refills at the rate: 0.4 s later two more are kept, then none.
    now[0] += 0.4
    assert decisions(dropped, 3) == [Decision.RECORD_AND_SAMPLE] * 2 + [Decision.DROP]
    # A quiet second fills it again, never beyond one second's traces.
    now[0] += 10.0
    assert decisions(dropped, 6) == [Decision.RECORD_AND_SAMPLE] * 5 + [Decision.DROP]
    assert "5/s" in capped.get_description() and "0.1" in capped.get_description()


def test_the_burst_cap_only_decides_new_traces(monkeypatch: pytest.MonkeyPatch) -> None:
    sampler = tracing.sampler(0.0, per_second=1)
    assert "BurstCapped" in sampler.get_description()
    trace_id = 0xFFFF_FFFF_FFFF_FFF0
    assert sampler.should_sample(None, trace_id, "a").decision is Decision.RECORD_AND_SAMPLE
    assert sampler.should_sample(None, trace_id, "b").decision is Decision.DROP
    # A span whose parent was kept is kept, whatever the bucket holds: traces stay whole.
    kept_parent = kept_remote_parent(trace_id)
    assert sampler.should_sample(kept_parent, trace_id, "c").decision is Decision.RECORD_AND_SAMPLE
    # Every trace is kept at the ratio 1.0, cap or no cap.
    assert "BurstCapped" not in tracing.sampler(1.0, per_second=1).get_description()


def sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_an_order_moves_the_dashboard_metrics(
    stack: Stack, span_exporter: InMemorySpanExporter
) -> None:
    ns = stack.settings.amqp_namespace
    e2e = {"stage": "shopify_status"}
    before = sample("fortbridge_end_to_end_seconds_count", e2e)
    await one_order_trace(stack, span_exporter)
    assert sample("fortbridge_end_to_end_seconds_count", e2e) == before + 1
    assert sample("fortbridge_end_to_end_seconds_count", {"stage": "fortnox_document"}) >= 1
    processed = {"service": "mapper", "queue": f"{ns}.mapper.events", "outcome": "done"}
    assert sample("fortbridge_messages_processed_total", processed) >= 1
    waited = {"queue": f"{ns}.fortnox_writer.commands"}
    assert sample("fortbridge_message_wait_seconds_count", waited) >= 1
    webhook = {"topic": "orders/create", "outcome": "stored"}
    assert sample("fortbridge_webhooks_received_total", webhook) >= 1
    http = {"service": "ingest", "route": "/webhooks/shopify", "method": "POST", "status": "200"}
    assert sample("fortbridge_http_requests_total", http) >= 1
    # Each consumer sampled its queue's depth and consumers when it started.
    for queue in ("mapper.events", "fortnox_writer.commands", "timeline.results"):
        assert sample("fortbridge_queue_consumers", {"queue": f"{ns}.{queue}"}) >= 1, queue
    assert (
        REGISTRY.get_sample_value("fortbridge_queue_messages", {"queue": f"{ns}.mapper.events"})
        is not None
    )

    assert await stack.send_webhook("orders/create", order_payload(), secret="wrong") == [401]
    rejected = {"topic": "unverified", "reason": "bad_hmac"}
    assert sample("fortbridge_webhooks_rejected_total", rejected) >= 1
