"""The order admin endpoints: sync an order now, re-sync it, and read its document state.

Both writes go through the same path as a webhook: an event is stored (so it cannot be lost)
and published, and the pipeline makes the document exactly once. A second POST for an order
already in Fortnox returns the existing document and creates nothing.

Where the order comes from: POST uses the last payload a webhook brought, and fetches the order
from Shopify (Admin GraphQL, with the shop's offline token) when no webhook ever did. PUT
fetches the order's current state from Shopify whenever the shop has a token (falling back to
the last payload received when it has none, or when Shopify no longer returns the order).
Shopify's failures answer 409 (no token, or the token was revoked: reinstall), 502 (Shopify
refused the query) or 503 (unreachable or throttled: try again); an order with more shipping
lines or refund line items than one read holds answers 422.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import web

from libs.common.access import authorize_for_shop
from libs.common.http import json_error
from libs.common.logs import get_logger
from libs.common.openapi import admin_api_spec
from libs.common.service import Runtime, runtime_of
from libs.common.shopify_admin import ShopifyAdmin
from services.ingest import events, lifecycle
from services.ingest.order_fetch import (
    OrderTooLarge,
    ShopifyRefused,
    ShopifyUnavailable,
    fetch_order,
)

log = get_logger(__name__)


async def _shop(request: web.Request, *scopes: str) -> tuple[Runtime, str, str]:
    runtime = runtime_of(request)
    _, shop = await authorize_for_shop(request, runtime.settings, runtime.pool, *scopes)
    await lifecycle.ensure_installed(runtime, shop)
    order_id = request.match_info["order_id"]
    if not (order_id.isascii() and order_id.isdigit()):
        raise web.HTTPNotFound(
            text=json.dumps({"error": "order ids are Shopify's numeric ids"}),
            content_type="application/json",
        )
    return runtime, shop, order_id


async def _document(runtime: Runtime, shop: str, order_id: str) -> dict[str, Any] | None:
    row = await runtime.pool.fetchrow(
        "SELECT * FROM ingest.order_documents WHERE shop = $1 AND order_id = $2", shop, order_id
    )
    return None if row is None else document_json(row, order_id)


def document_json(row: Any, order_id: str) -> dict[str, Any]:
    """An ``order_documents`` row as the API answers it."""
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
    event_uid, _ = await events.submit(
        runtime.pool,
        runtime.publisher,
        shop,
        topic,
        payload,
        webhook_id=f"admin-{uuid.uuid4()}",
        api_version=runtime.settings.shopify_api_version,
        source="admin",
    )
    return event_uid


def _never_received(order_id: str) -> web.Response:
    return json_error(
        404,
        f"order {order_id} has never reached Fortbridge: no orders/* webhook was received for it."
        " Check that the app's order webhooks are subscribed, or resend the order from Shopify.",
    )


def _not_in_shopify(shop: str, order_id: str) -> web.Response:
    return json_error(
        404,
        f"order {order_id} never reached Fortbridge by webhook, and Shopify has no order"
        f" {order_id} in {shop} that the app may read (Shopify only shows an app the last 60"
        " days of orders without the read_all_orders scope). Check the order id.",
    )


def _no_token(shop: str, order_id: str) -> web.Response:
    return json_error(
        409,
        f"order {order_id} never reached Fortbridge by webhook, and Fortbridge cannot fetch it:"
        f" it holds no Shopify access token for {shop}. Install the app on the shop (again)"
        " so that Fortbridge may read its orders.",
    )


class _ShopifyFailed(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


async def _fetch(runtime: Runtime, shop: str, token: str, order_id: str) -> dict[str, Any] | None:
    """The order's current state from Shopify (None: Shopify has no such order)."""
    settings = runtime.settings
    admin = ShopifyAdmin(runtime.http, settings.shopify_admin_url, settings.shopify_api_version)
    try:
        return await fetch_order(admin, shop, token, order_id)
    except ShopifyUnavailable as exc:
        log.warning("order fetch failed", shop=shop, order_id=order_id, error=str(exc))
        response = json_error(
            503,
            f"Shopify could not be reached to read order {order_id} ({exc}). Nothing was"
            " changed; try again in a minute.",
        )
        response.headers["Retry-After"] = "30"
        raise _ShopifyFailed(response) from exc
    except OrderTooLarge as exc:
        reason = (
            f"{exc}, more than Fortbridge reads from Shopify in one go; it is not synced from"
            " a partial read. Its webhooks still sync it."
        )
        raise _ShopifyFailed(json_error(422, reason)) from exc
    except ShopifyRefused as exc:
        log.warning("order fetch refused", shop=shop, order_id=order_id, error=exc.message)
        if exc.revoked:
            reason = (
                f"Shopify refused Fortbridge's access token for {shop}, so order {order_id}"
                " cannot be read: the app was uninstalled or its access revoked. Install the"
                " app on the shop again."
            )
            raise _ShopifyFailed(json_error(409, reason)) from exc
        reason = f"Shopify refused to return order {order_id}: {exc.message}"
        raise _ShopifyFailed(json_error(502, reason)) from exc


async def create_invoice(request: web.Request) -> web.Response:
    """POST: make the order's Fortnox document now (idempotent)."""
    runtime, shop, order_id = await _shop(request, "write_orders")
    document = await _document(runtime, shop, order_id)
    if document is not None and document["status"] == "synced":
        return web.json_response({"fortnox_invoice": document, "created": False})
    payload = await events.latest_order_payload(runtime.pool, shop, order_id)
    source = "webhook"
    if payload is None:  # never came by webhook: read it from Shopify
        token = await lifecycle.registry_of(runtime).access_token(shop)
        if token is None:
            return _no_token(shop, order_id)
        try:
            payload = await _fetch(runtime, shop, token, order_id)
        except _ShopifyFailed as failed:
            return failed.response
        if payload is None:
            return _not_in_shopify(shop, order_id)
        source = "shopify"
    event_uid = await _submit(runtime, shop, "orders/create", payload)
    return web.json_response(
        {
            "fortnox_invoice": _pending(order_id, event_uid),
            "created": True,
            "order_source": source,
        },
        status=202,
    )


async def resync_invoice(request: web.Request) -> web.Response:
    """PUT: bring the document in step with the order's current state (read from Shopify)."""
    runtime, shop, order_id = await _shop(request, "write_orders")
    token = await lifecycle.registry_of(runtime).access_token(shop)
    payload = None
    source = "shopify"
    if token is not None:
        try:
            payload = await _fetch(runtime, shop, token, order_id)
        except _ShopifyFailed as failed:
            return failed.response
    if payload is None:  # no token, or Shopify no longer returns it: the last one received
        payload = await events.latest_order_payload(runtime.pool, shop, order_id)
        source = "webhook"
    if payload is None:
        return _never_received(order_id) if token is None else _not_in_shopify(shop, order_id)
    document = await _document(runtime, shop, order_id)
    topic = "orders/updated" if document and document["status"] == "synced" else "orders/create"
    event_uid = await _submit(runtime, shop, topic, payload)
    return web.json_response(
        {"fortnox_invoice": _pending(order_id, event_uid), "order_source": source}, status=202
    )


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
