"""The timeline's HTTP routes: the order's sync timeline, and notes people add to it."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from libs.common.access import authorize_for_shop
from libs.common.http import json_error
from libs.common.service import runtime_of
from services.timeline import notes


async def list_timeline(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    _, shop = await authorize_for_shop(request, runtime.settings, runtime.pool, "read_orders")
    order_id = request.match_info["order_id"]
    rows = await runtime.pool.fetch(
        "SELECT * FROM timeline.events WHERE shop = $1 AND order_id = $2 ORDER BY occurred_at, id",
        shop,
        order_id,
    )
    status = await runtime.pool.fetchrow(
        "SELECT * FROM timeline.order_status WHERE shop = $1 AND order_id = $2", shop, order_id
    )
    if not rows and status is None:
        return json_error(404, f"no timeline for order {order_id} of {shop}")
    return web.json_response(
        {
            "order_id": order_id,
            "status": _status(status),
            "timeline_events": [_event(row) for row in rows],
        }
    )


def _event(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "kind": row["kind"],
        "status": row["status"],
        "message": row["message"],
        "document_kind": row["document_kind"],
        "document_number": row["document_number"],
        "fortnox_total": _money(row["fortnox_total"]),
        "expected_total": _money(row["expected_total"]),
        "currency": row["currency"],
        "error_code": row["error_code"],
        "trace_id": row["trace_id"],
        "author": row["author"],
        "updated_at": row["updated_at"].isoformat() if row["updated_at"] else None,
        "occurred_at": row["occurred_at"].isoformat(),
    }


def _status(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "status": row["status"],
        "document_number": row["document_number"],
        "occurred_at": row["occurred_at"].isoformat(),
        "mirrored_to_shopify": row["mirrored_at"] is not None,
        "mirror_note": row["mirror_note"],
    }


def _money(value: Any) -> str | None:
    return None if value is None else str(value)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/api/orders/{order_id}/timeline_events.json", list_timeline)
    app.router.add_post("/admin/api/orders/{order_id}/timeline_events.json", notes.add_note)
    app.router.add_put(
        "/admin/api/orders/{order_id}/timeline_events/{event_id}.json", notes.edit_note
    )
