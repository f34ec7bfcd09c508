"""The shop's recent orders and their Fortnox documents: what the app's Orders page lists.

``GET /admin/api/orders/fortnox_invoices.json?status=&limit=&cursor=`` (``read_orders``) answers
the shop's orders, the most recently active first: every order with a document state (the
writer's results, ``order_documents``) and every order received in the last
``PENDING_DAYS`` days that has none yet (``pending``). Each has the same fields as the order's
``fortnox_invoice_status.json``. Paged with an opaque cursor on (activity time, order id), so a
page never repeats or skips an order while others change.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from aiohttp import web

from libs.common.access import authorize_for_shop
from libs.common.http import json_error
from libs.common.service import runtime_of
from services.ingest.orders_admin import document_json

STATUSES = (
    "pending",
    "synced",
    "failed",
    "needs_reconnection",
    "skipped",
    "summarized",
    "waiting_on_billing",
)
PENDING_DAYS = 30
DEFAULT_LIMIT = 25
MAX_LIMIT = 100
_CURSOR = "ol1"
MAX_CURSOR = 200

# Orders with a document state, and recent orders without one ("pending"), in one order.
_QUERY = f"""
WITH listed AS (
    SELECT d.order_id, d.status, d.occurred_at AS activity_at
    FROM ingest.order_documents d
    WHERE d.shop = $1 AND ($2::text IS NULL OR d.status = $2)
      AND ($3::timestamptz IS NULL OR (d.occurred_at, d.order_id) < ($3, $4))
    UNION ALL
    SELECT e.order_id, 'pending', max(e.received_at)
    FROM ingest.webhook_events e
    WHERE e.shop = $1 AND e.order_id IS NOT NULL AND e.topic LIKE 'orders/%'
      AND e.received_at > now() - interval '{PENDING_DAYS} days'
      AND ($2::text IS NULL OR $2 = 'pending')
      AND NOT EXISTS (SELECT 1 FROM ingest.order_documents d
                      WHERE d.shop = e.shop AND d.order_id = e.order_id)
    GROUP BY e.order_id
    HAVING $3::timestamptz IS NULL OR (max(e.received_at), e.order_id) < ($3, $4)
)
SELECT l.activity_at, l.order_id AS listed_id, d.*, latest.body
FROM listed l
LEFT JOIN ingest.order_documents d ON d.shop = $1 AND d.order_id = l.order_id
LEFT JOIN LATERAL (
    SELECT e.body FROM ingest.webhook_events e
    WHERE l.status = 'pending' AND e.shop = $1 AND e.order_id = l.order_id
      AND e.topic LIKE 'orders/%'
    ORDER BY e.received_at DESC LIMIT 1
) latest ON true
ORDER BY l.activity_at DESC, l.order_id DESC
LIMIT $5
"""


class _BadRequest(ValueError):
    pass


def encode_cursor(at: datetime, order_id: str) -> str:
    raw = f"{_CURSOR}|{at.isoformat()}|{order_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    if len(cursor) > MAX_CURSOR:
        raise _BadRequest("cursor is not one this API returned")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, at, order_id = raw.split("|")
        when = datetime.fromisoformat(at)
        if kind != _CURSOR or when.tzinfo is None or not order_id.isdigit():
            raise ValueError(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _BadRequest("cursor is not one this API returned") from exc
    return when, order_id


def _limit(text: str | None) -> int:
    if not text:
        return DEFAULT_LIMIT
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise _BadRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(text)


def _pending(order_id: str, body: str | None, at: datetime) -> dict[str, Any]:
    """An order received but not yet through the pipeline: what its latest payload says."""
    payload: dict[str, Any] = {}
    if body:
        try:
            loaded = json.loads(body)
        except ValueError:
            loaded = None
        payload = loaded if isinstance(loaded, dict) else {}
    total = payload.get("current_total_price", payload.get("total_price"))
    name = payload.get("name")
    currency = payload.get("presentment_currency") or payload.get("currency")
    return {
        "order_id": order_id,
        "order_name": name if isinstance(name, str) else None,
        "status": "pending",
        "document_kind": None,
        "document_number": None,
        "fortnox_total": None,
        "order_total": str(total) if isinstance(total, str | int) else None,
        "currency": currency if isinstance(currency, str) else None,
        "last_error": None,
        "rule_version": None,
        "trace_id": None,
        "updated_at": at.isoformat(),
    }


async def list_orders(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    _, shop = await authorize_for_shop(request, runtime.settings, runtime.pool, "read_orders")
    query = request.query
    status = query.get("status") or None
    try:
        if status is not None and status not in STATUSES:
            raise _BadRequest(f"status must be one of {', '.join(STATUSES)}")
        limit = _limit(query.get("limit"))
        after = decode_cursor(query["cursor"]) if query.get("cursor") else (None, None)
    except _BadRequest as exc:
        return json_error(400, str(exc))
    rows = await runtime.pool.fetch(_QUERY, shop, status, after[0], after[1], limit + 1)
    more = len(rows) > limit
    orders = [
        _pending(row["listed_id"], row["body"], row["activity_at"])
        if row["status"] is None
        else document_json(row, row["listed_id"])
        for row in rows[:limit]
    ]
    last = rows[limit - 1] if more else None
    next_cursor = encode_cursor(last["activity_at"], last["listed_id"]) if last else None
    return web.json_response({"orders": orders, "next_cursor": next_cursor})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/api/orders/fortnox_invoices.json", list_orders)
