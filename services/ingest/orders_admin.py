"""The order admin endpoints: sync an order now, re-sync it, and read its document state.

Both writes go through the same path as a webhook: an event is stored (so it cannot be lost)
and published, and the pipeline makes the document exactly once. A second POST for an order
already in Fortnox returns the existing document and creates nothing.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web

from libs.common import tracing
from libs.common.access import authorize
from libs.common.access.authorize import shop_in_scope
from libs.common.http import json_error
from libs.common.logs import get_logger
from libs.common.messages import utcnow
from libs.common.openapi import admin_api_spec
from libs.common.service import Runtime, runtime_of
from services.ingest import events, lifecycle
from services.ingest.webhook import WebhookDelivery

log = get_logger(__name__)


async def _shop(request: web.Request, *scopes: str) -> tuple[Runtime, str, str]:
    runtime = runtime_of(request)
    principal = await authorize(request, runtime.settings, runtime.pool, *scopes)
    shop = shop_in_scope(principal, request)
    if not shop:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "query parameter shop is required"}),
            content_type="application/json",
        )
    await lifecycle.ensure_installed(runtime, shop)
    order_id = request.match_info["order_id"]
    if not order_id.isdigit():
        raise web.HTTPNotFound(
            text=json.dumps({"error": "order ids are Shopify's numeric ids"}),
            content_type="application/json",
        )
    return runtime, shop, order_id


async def _document(runtime: Runtime, shop: str, order_id: str) -> dict[str, Any] | None:
    row = await runtime.pool.fetchrow(
        "SELECT * FROM ingest.order_documents WHERE shop = $1 AND order_id = $2", shop, order_id
    )
    if row is None:
        return None
    return {
        "order_id": order_id,
        "order_name": row["order_name"],
        "status": row["status"],
        "document_kind": row["document_kind"],
        "document_number": row["document_number"],
        "fortnox_total": _money(row["fortnox_total"]),
        "order_total": _money(row["expected_total"]),
        "currency": row["currency"],
        "last_error": None
        if row["error_code"] is None and row["error_message"] is None
        else {
            "code": row["error_code"],
            "message": row["error_message"],
            "explanation": row["explanation"],
        },
        "rule_version": row["rule_version"],
        "trace_id": row["trace_id"],
        "updated_at": row["occurred_at"].isoformat(),
    }


def _money(value: Any) -> str | None:
    return None if value is None else str(value)


def _pending(order_id: str, event_uid: str | None = None) -> dict[str, Any]:
    return {"order_id": order_id, "status": "pending", "event_uid": event_uid}


async def _submit(runtime: Runtime, shop: str, topic: str, payload: dict[str, Any]) -> str:
    """Store and publish an admin-triggered event, exactly like a received webhook."""
    delivery = WebhookDelivery(
        shop=shop,
        topic=topic,
        webhook_id=f"admin-{uuid.uuid4()}",
        event_id=None,
        api_version=runtime.settings.shopify_api_version,
        triggered_at=utcnow(),
        payload=payload,
    )
    body = json.dumps(payload).encode()
    event_uid, _ = await events.store(runtime.pool, delivery, body, dict(tracing.inject({})))
    try:
        await events.publish_event(runtime.pool, runtime.publisher, event_uid)
    except Exception as exc:  # stored: the relay publishes it
        log.warning("publish deferred to relay", event_uid=event_uid, error=str(exc))
    return event_uid


def _never_received(order_id: str) -> web.Response:
    return json_error(
        404,
        f"order {order_id} has never reached Fortbridge: no orders/* webhook was received for it."
        " Check that the app's order webhooks are subscribed, or resend the order from Shopify.",
    )


async def create_invoice(request: web.Request) -> web.Response:
    """POST: make the order's Fortnox document now (idempotent)."""
    runtime, shop, order_id = await _shop(request, "write_orders")
    document = await _document(runtime, shop, order_id)
    if document is not None and document["status"] == "synced":
        return web.json_response({"fortnox_invoice": document, "created": False})
    payload = await events.latest_order_payload(runtime.pool, shop, order_id)
    if payload is None:
        return _never_received(order_id)
    event_uid = await _submit(runtime, shop, "orders/create", payload)
    return web.json_response(
        {"fortnox_invoice": _pending(order_id, event_uid), "created": True}, status=202
    )


async def resync_invoice(request: web.Request) -> web.Response:
    """PUT: bring the document in step with the order's latest state."""
    runtime, shop, order_id = await _shop(request, "write_orders")
    payload = await events.latest_order_payload(runtime.pool, shop, order_id)
    if payload is None:
        return _never_received(order_id)
    document = await _document(runtime, shop, order_id)
    topic = "orders/updated" if document and document["status"] == "synced" else "orders/create"
    event_uid = await _submit(runtime, shop, topic, payload)
    return web.json_response({"fortnox_invoice": _pending(order_id, event_uid)}, status=202)


async def invoice_status(request: web.Request) -> web.Response:
    """GET: the document's state, totals on both sides, last error, rule version, trace id."""
    runtime, shop, order_id = await _shop(request, "read_orders")
    document = await _document(runtime, shop, order_id)
    if document is not None:
        return web.json_response({"fortnox_invoice": document})
    if await events.latest_order_payload(runtime.pool, shop, order_id) is not None:
        return web.json_response({"fortnox_invoice": _pending(order_id)})
    return _never_received(order_id)


async def openapi_document(_request: web.Request) -> web.Response:
    """The admin API's OpenAPI document (all services' admin paths)."""
    return web.json_response(admin_api_spec())


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/api/openapi.json", openapi_document)
    base = "/admin/api/orders/{order_id}"
    app.router.add_post(f"{base}/fortnox_invoice.json", create_invoice)
    app.router.add_put(f"{base}/fortnox_invoice.json", resync_invoice)
    app.router.add_get(f"{base}/fortnox_invoice_status.json", invoice_status)
