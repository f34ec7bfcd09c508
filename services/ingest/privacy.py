"""Shopify's mandatory privacy webhooks, as far as ingest's own tables go.

- ``customers/redact``: the stored bodies of the orders in ``orders_to_redact`` (their
  orders/* and refunds/* events) and of the customer (customers/* events, earlier privacy
  requests) get their personal fields replaced by ``[redacted]``; ids and money stay.
- ``shop/redact``: every stored event of the shop (but the shop/redact itself, which the outbox
  may still have to publish and which holds no personal data), its order documents and data
  request reports are deleted, and the shop is forgotten (``ShopRegistry.forget``).
- ``customers/data_request``: a report of what ingest holds about the customer is stored in
  ``ingest.data_requests`` and logged as ready; ``GET /admin/api/customers/data_requests/
  {request_id}.json`` (scope read_customers) returns it for the merchant to pass on.

Each is idempotent: a redelivery does the same work again and ends in the same state.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiohttp import web

from libs.common.access import authorize_for_shop
from libs.common.http import json_error
from libs.common.logs import get_logger
from libs.common.service import runtime_of
from libs.common.shops import ShopRegistry
from services.ingest.redaction import is_person_topic, personal_data, redact

log = get_logger(__name__)

HELD_ELSEWHERE = (
    "Fortbridge's other services hold the customer's Fortnox customer number and the Fortnox "
    "invoices made from the customer's orders. Swedish bookkeeping law (Bokföringslagen 7 kap.) "
    "requires invoices to be kept for seven years, so those stay in Fortnox; the customer's "
    "name and address on them are part of the accounting record."
)


def _ids(values: Any) -> list[str]:
    if not isinstance(values, list):
        return []
    return [str(v) for v in values if isinstance(v, int | str) and not isinstance(v, bool)]


def _customer_id(payload: dict[str, Any]) -> str | None:
    customer = payload.get("customer")
    value = customer.get("id") if isinstance(customer, dict) else None
    return None if value is None or isinstance(value, bool) else str(value)


# The customer's rows: events of the listed orders, customers/* events of the customer and
# privacy requests about them. Bodies are valid JSON objects (ingest refuses anything else).
_CUSTOMER_ROWS = """
    SELECT event_uid, topic, order_id, received_at, redacted_at, body
    FROM ingest.webhook_events
    WHERE shop = $1 AND (
        order_id = ANY($2::text[])
        OR ($3::text IS NOT NULL AND topic LIKE 'customers/%' AND (
            body::jsonb ->> 'id' = $3 OR body::jsonb -> 'customer' ->> 'id' = $3))
    )
    ORDER BY received_at
"""


def _body_of(row: asyncpg.Record) -> Any:
    return json.loads(row["body"])


def _row_is_customer(row: asyncpg.Record, body: Any, customer_id: str | None) -> bool:
    """A row the query found by its order id must really be that order's; a customers/* row
    whose ``id`` matched must be a customer payload (not a privacy request with that id)."""
    if row["order_id"] is not None:
        return True
    if not isinstance(body, dict) or customer_id is None:
        return False
    if is_person_topic(row["topic"]):
        return str(body.get("id")) == customer_id
    return _customer_id(body) == customer_id


async def redact_customer(pool: asyncpg.Pool, shop: str, payload: dict[str, Any]) -> int:
    """customers/redact: redact the customer's stored bodies; returns how many changed."""
    orders = _ids(payload.get("orders_to_redact"))
    customer_id = _customer_id(payload)
    changed = 0
    async with pool.acquire() as conn, conn.transaction():
        for row in await conn.fetch(_CUSTOMER_ROWS, shop, orders, customer_id):
            body = _body_of(row)
            if not _row_is_customer(row, body, customer_id):
                continue
            cleaned = redact(body, in_person=is_person_topic(row["topic"]))
            if cleaned == body and row["redacted_at"] is not None:
                continue
            await conn.execute(
                "UPDATE ingest.webhook_events SET body = $2, redacted_at = now()"
                " WHERE event_uid = $1",
                row["event_uid"],
                json.dumps(cleaned, ensure_ascii=False),
            )
            changed += 1
    log.info("customer data redacted", shop=shop, customer_id=customer_id, events=changed)
    return changed


async def redact_shop(pool: asyncpg.Pool, registry: ShopRegistry, shop: str) -> dict[str, int]:
    """shop/redact: delete what ingest holds for the shop and forget the installation."""
    async with pool.acquire() as conn, conn.transaction():
        events = await conn.execute(
            "DELETE FROM ingest.webhook_events WHERE shop = $1 AND topic <> 'shop/redact'", shop
        )
        documents = await conn.execute("DELETE FROM ingest.order_documents WHERE shop = $1", shop)
        reports = await conn.execute("DELETE FROM ingest.data_requests WHERE shop = $1", shop)
        await conn.execute("DELETE FROM ingest.sync_jobs WHERE shop = $1", shop)
        # The shop's operator API tokens go with it.
        await conn.execute("DELETE FROM access.api_tokens WHERE shop = $1", shop)
    await registry.forget(shop)
    counts = {
        "webhook_events": int(events.split()[-1]),
        "order_documents": int(documents.split()[-1]),
        "data_requests": int(reports.split()[-1]),
    }
    log.info("shop data deleted", shop=shop, **counts)
    return counts


async def report_customer(pool: asyncpg.Pool, shop: str, payload: dict[str, Any]) -> str:
    """customers/data_request: store the report of what ingest holds; returns its id."""
    request = payload.get("data_request")
    request_id = str(request.get("id")) if isinstance(request, dict) else ""
    customer_id = _customer_id(payload)
    if not request_id:
        request_id = f"customer-{customer_id}-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    orders = _ids(payload.get("orders_requested"))
    held: list[dict[str, Any]] = []
    order_ids: set[str] = set(orders)
    async with pool.acquire() as conn, conn.transaction():
        for row in await conn.fetch(_CUSTOMER_ROWS, shop, orders, customer_id):
            body = _body_of(row)
            if not _row_is_customer(row, body, customer_id) or row["topic"].startswith(
                "customers/data_request"
            ):
                continue
            if row["order_id"] is not None:
                order_ids.add(row["order_id"])
            held.append(
                {
                    "event_uid": str(row["event_uid"]),
                    "topic": row["topic"],
                    "order_id": row["order_id"],
                    "received_at": row["received_at"].isoformat(),
                    "redacted_at": row["redacted_at"] and row["redacted_at"].isoformat(),
                    "personal_data": personal_data(body, in_person=is_person_topic(row["topic"])),
                }
            )
        documents = await conn.fetch(
            "SELECT order_id, order_name, status, document_kind, document_number"
            " FROM ingest.order_documents WHERE shop = $1 AND order_id = ANY($2::text[])"
            " ORDER BY order_id",
            shop,
            sorted(order_ids),
        )
        report = {
            "request_id": request_id,
            "shop": shop,
            "customer_id": customer_id,
            "orders_requested": orders,
            "generated_at": datetime.now(UTC).isoformat(),
            "webhook_events": held,
            "order_documents": [dict(doc) for doc in documents],
            "held_elsewhere": HELD_ELSEWHERE,
        }
        await conn.execute(
            """
            INSERT INTO ingest.data_requests (shop, request_id, customer_id, report)
            VALUES ($1, $2, $3, $4::jsonb)
            ON CONFLICT (shop, request_id) DO UPDATE SET report = EXCLUDED.report,
                customer_id = EXCLUDED.customer_id, created_at = now()
            """,
            shop,
            request_id,
            customer_id,
            json.dumps(report, ensure_ascii=False),
        )
    log.info(
        "customer data report ready",
        shop=shop,
        request_id=request_id,
        events=len(held),
        path=f"/admin/api/customers/data_requests/{request_id}.json",
    )
    return request_id


async def _shop_of(request: web.Request) -> tuple[asyncpg.Pool, str]:
    runtime = runtime_of(request)
    _, shop = await authorize_for_shop(request, runtime.settings, runtime.pool, "read_customers")
    return runtime.pool, shop


async def get_report(request: web.Request) -> web.Response:
    """GET one data request report (the customer's data as ingest holds it)."""
    pool, shop = await _shop_of(request)
    request_id = request.match_info["request_id"]
    report = await pool.fetchval(
        "SELECT report FROM ingest.data_requests WHERE shop = $1 AND request_id = $2",
        shop,
        request_id,
    )
    if report is None:
        return json_error(404, f"no customer data request {request_id} for this shop")
    return web.json_response({"data_request": json.loads(report)})


async def list_reports(request: web.Request) -> web.Response:
    """GET the shop's data request reports (ids and dates; fetch one for its content)."""
    pool, shop = await _shop_of(request)
    rows = await pool.fetch(
        "SELECT request_id, customer_id, created_at FROM ingest.data_requests"
        " WHERE shop = $1 ORDER BY created_at DESC LIMIT 250",
        shop,
    )
    return web.json_response(
        {
            "data_requests": [
                {
                    "request_id": row["request_id"],
                    "customer_id": row["customer_id"],
                    "created_at": row["created_at"].isoformat(),
                }
                for row in rows
            ]
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/api/customers/data_requests.json", list_reports)
    app.router.add_get("/admin/api/customers/data_requests/{request_id}.json", get_report)
