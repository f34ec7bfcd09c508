"""Ingest's HTTP routes: the Shopify webhook endpoint."""

from __future__ import annotations

import asyncio

from aiohttp import web
from opentelemetry import trace

from libs.common import tracing
from libs.common.http import json_error
from libs.common.logs import get_logger
from libs.common.metrics import WEBHOOKS_RECEIVED, WEBHOOKS_REJECTED
from libs.common.service import runtime_of
from services.ingest import events, lifecycle
from services.ingest.webhook import TOPIC, WebhookRejected, header, parse_delivery

log = get_logger(__name__)

# Shopify waits 5 s; the fast-path publish gets a share of that, the relay covers the rest.
PUBLISH_TIMEOUT_SECONDS = 2.0


async def receive_webhook(request: web.Request) -> web.Response:
    """Verify, store once, publish, answer fast (inside the app's SERVER span)."""
    runtime = runtime_of(request)
    body = await request.read()
    span = trace.get_current_span()
    try:
        delivery = parse_delivery(
            request.headers, body, runtime.settings.shopify_api_secret.get_secret_value()
        )
    except WebhookRejected as exc:
        # Before the HMAC passed the topic is the sender's word: keep the label bounded.
        claimed = header(request.headers, "Topic") or ""
        topic = claimed if exc.status != 401 and TOPIC.match(claimed) else "unverified"
        WEBHOOKS_REJECTED.labels(topic=topic, reason=exc.code).inc()
        WEBHOOKS_RECEIVED.labels(topic=topic, outcome="rejected").inc()
        log.warning("webhook rejected", status=exc.status, code=exc.code, reason=exc.reason)
        return json_error(exc.status, exc.reason)
    span.set_attributes({"fortbridge.shop": delivery.shop, "fortbridge.topic": delivery.topic})
    trace_headers = tracing.inject({})
    event_uid, new = await events.store(runtime.pool, delivery, body, dict(trace_headers))
    if not new:
        # Idempotent: a redelivery finishes what a crash after storing left undone.
        await lifecycle.apply(runtime, delivery)
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
    # app/uninstalled and the privacy topics act on ingest's tables (after the publish, so
    # what is published is the delivery as received); a failure answers 500 and Shopify retries.
    await lifecycle.apply(runtime, delivery)
    WEBHOOKS_RECEIVED.labels(topic=delivery.topic, outcome=outcome).inc()
    log.info("webhook accepted", shop=delivery.shop, topic=delivery.topic, event_uid=event_uid)
    return web.json_response({"status": outcome, "event_uid": event_uid})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/webhooks/shopify", receive_webhook)
