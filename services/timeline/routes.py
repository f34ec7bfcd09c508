"""The timeline's HTTP routes (read side; notes and scoped access come with the admin API)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from libs.common.admin_auth import require_admin
from libs.common.http import json_error
from libs.common.service import runtime_of


async def list_timeline(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    require_admin(request, runtime.settings, "read_orders")
    shop = request.query.get("shop")
    if not shop:
        return json_error(400, "query parameter shop is required")
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
