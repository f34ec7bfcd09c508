"""Ingest's HTTP routes: the Shopify webhook endpoint."""

from __future__ import annotations

import asyncio

from aiohttp import web
from opentelemetry.trace import SpanKind

from libs.common import tracing
from libs.common.http import json_error
from libs.common.logs import get_logger
from libs.common.metrics import WEBHOOKS_RECEIVED
from libs.common.service import runtime_of
from services.ingest import events
from services.ingest.webhook import WebhookRejected, header, parse_delivery

log = get_logger(__name__)
_tracer = tracing.get_tracer(__name__)

# Shopify waits 5 s; the fast-path publish gets a share of that, the relay covers the rest.
PUBLISH_TIMEOUT_SECONDS = 2.0


async def receive_webhook(request: web.Request) -> web.Response:
    """Verify, store once, publish, answer fast."""
    runtime = runtime_of(request)
    body = await request.read()
    topic_header = header(request.headers, "Topic") or "unknown"
    with _tracer.start_as_current_span(
        "POST /webhooks/shopify",
        kind=SpanKind.SERVER,
        attributes={"http.request.method": "POST", "http.route": "/webhooks/shopify"},
    ) as span:
        try:
            delivery = parse_delivery(
                request.headers, body, runtime.settings.shopify_api_secret.get_secret_value()
            )
        except WebhookRejected as exc:
            WEBHOOKS_RECEIVED.labels(topic=topic_header, outcome=f"rejected_{exc.status}").inc()
            span.set_attribute("http.response.status_code", exc.status)
            log.warning("webhook rejected", status=exc.status, reason=exc.reason)
            return json_error(exc.status, exc.reason)
        span.set_attributes({"fortbridge.shop": delivery.shop, "fortbridge.topic": delivery.topic})
        trace_headers = tracing.inject({})
        event_uid, new = await events.store(runtime.pool, delivery, body, dict(trace_headers))
        if not new:
            WEBHOOKS_RECEIVED.labels(topic=delivery.topic, outcome="duplicate").inc()
            log.info("duplicate webhook", shop=delivery.shop, webhook_id=delivery.webhook_id)
            return web.json_response({"status": "duplicate", "event_uid": event_uid})
        try:
            await asyncio.wait_for(
                events.publish_event(runtime.pool, runtime.publisher, event_uid),
                PUBLISH_TIMEOUT_SECONDS,
            )
            outcome = "published"
        except Exception as exc:  # stored: the relay publishes it later
            log.warning("publish deferred to relay", event_uid=event_uid, error=str(exc))
            outcome = "stored"
        WEBHOOKS_RECEIVED.labels(topic=delivery.topic, outcome=outcome).inc()
        log.info("webhook accepted", shop=delivery.shop, topic=delivery.topic, event_uid=event_uid)
        return web.json_response({"status": outcome, "event_uid": event_uid})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/webhooks/shopify", receive_webhook)
