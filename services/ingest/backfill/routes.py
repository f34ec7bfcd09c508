"""The backfill endpoints: start a dry run or a backfill of past orders, and follow it.

POST /admin/api/backfills.json  {"from", "to"} or {"ids": [...]}, "dry_run": bool (default true)
GET  /admin/api/backfills.json  ?job_id= (else the shop's latest): progress and counts
GET  /admin/api/backfills/orders.json ?job_id=&status=&after=&limit=: a job's orders
Starting needs ``write_integrations``; reading ``read_integrations``. A window from more than
60 days ago needs Shopify's ``read_all_orders``: without it the start is refused (403, naming
the scope, with the re-authorisation link), never a silent partial import.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiohttp import web

from libs.common.access import authorize_for_shop
from libs.common.http import json_error
from libs.common.service import runtime_of
from libs.common.settings import Settings
from libs.common.shopify_scopes import ALL_ORDERS_DAYS, access, granted_scopes, lacking
from services.ingest.backfill import jobs
from services.ingest.backfill.runner import BackfillRunner
from services.ingest.catalog.routes import MAX_IDS, _shopify_id
from services.ingest.lifecycle import ensure_installed

RUNNER = web.AppKey("backfill_runner", list[BackfillRunner])
PATH = "/admin/api/backfills.json"
ORDERS_PATH = "/admin/api/backfills/orders.json"
MAX_LIMIT = 250
ORDER_STATES = frozenset(jobs.COUNTED)


def parse_request(body: Any) -> tuple[dict[str, Any], bool]:
    """(filter, dry run) from the body; ValueError names the field."""
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    dry_run = body.get("dry_run", True)
    if not isinstance(dry_run, bool):
        raise ValueError("dry_run: true or false")
    ids = body.get("ids")
    if ids is not None:
        if body.get("from") is not None or body.get("to") is not None:
            raise ValueError("give either ids or from and to, not both")
        if not isinstance(ids, list) or not ids or len(ids) > MAX_IDS:
            raise ValueError(f"ids: a list of 1 to {MAX_IDS} numeric order ids")
        if not all(_shopify_id(i) for i in ids):
            raise ValueError("ids: every id must be a Shopify numeric order id")
        return {"ids": list(dict.fromkeys(str(i) for i in ids))}, dry_run
    start, end = _time(body, "from"), _time(body, "to")
    if start >= end:
        raise ValueError("from must be before to")
    return {"from": start.isoformat(), "to": end.isoformat()}, dry_run


def _time(body: dict[str, Any], name: str) -> datetime:
    value = body.get(name)
    try:
        parsed = datetime.fromisoformat(str(value)) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ValueError(f"{name}: an ISO 8601 time with its offset (or give ids)")
    return parsed


async def start(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    _, shop = await authorize_for_shop(
        request, runtime.settings, runtime.pool, "write_integrations"
    )
    await ensure_installed(runtime, shop)
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError:
        return json_error(400, "the body is not valid JSON")
    try:
        filters, dry_run = parse_request(body)
    except ValueError as exc:
        return json_error(422, str(exc))
    refused = await _needs_all_orders(runtime.settings, runtime.pool, shop, filters)
    if refused is not None:
        return refused
    try:
        job_id = await jobs.create(runtime.pool, shop, filters, dry_run)
    except jobs.JobRunning as running:
        return json_error(409, str(running), backfill=running.job)
    request.app[RUNNER][0].start(job_id)
    progress = await jobs.progress(runtime.pool, shop, job_id)
    return web.json_response({"backfill": progress}, status=202)


async def _needs_all_orders(
    settings: Settings, pool: asyncpg.Pool, shop: str, filters: dict[str, Any]
) -> web.Response | None:
    """403 when the window starts more than 60 days ago and the shop did not grant
    read_all_orders: Shopify would show only the last 60 days (a silent partial import)."""
    if "from" not in filters:
        return None
    horizon = datetime.now(UTC) - timedelta(days=ALL_ORDERS_DAYS)
    if datetime.fromisoformat(filters["from"]) >= horizon:
        return None
    granted = await granted_scopes(pool, shop)
    if not lacking("all_orders", granted):
        return None
    answer = access(settings, shop, "all_orders", granted)
    return json_error(
        403,
        f"from is more than {ALL_ORDERS_DAYS} days ago. {answer['what_to_do']} Nothing was"
        f" started; a window within the last {ALL_ORDERS_DAYS} days needs no added permission.",
        code="shopify_scope_missing",
        missing_scopes=answer["missing_scopes"],
        reauthorize_url=answer["reauthorize_url"],
    )


def _job_id(request: web.Request) -> str | None:
    raw = request.query.get("job_id") or None
    if raw is None:
        return None
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "job_id must be a UUID"}), content_type="application/json"
        ) from None


async def status(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    _, shop = await authorize_for_shop(request, runtime.settings, runtime.pool, "read_integrations")
    progress = await jobs.progress(runtime.pool, shop, _job_id(request))
    if progress is None:
        return json_error(404, "no backfill has run for this shop")
    return web.json_response({"backfill": progress})


async def order_rows(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    _, shop = await authorize_for_shop(request, runtime.settings, runtime.pool, "read_integrations")
    progress = await jobs.progress(runtime.pool, shop, _job_id(request))
    if progress is None:
        return json_error(404, "no backfill has run for this shop")
    state = request.query.get("status") or None
    if state is not None and state not in ORDER_STATES:
        return json_error(422, f"status: one of {', '.join(sorted(ORDER_STATES))}")
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        return json_error(422, "limit: a whole number")
    if not 1 <= limit <= MAX_LIMIT:
        return json_error(422, f"limit: 1 to {MAX_LIMIT}")
    after = request.query.get("after") or None
    if after is not None and not (after.isascii() and after.isdigit()):
        return json_error(422, "after: an order id")
    rows = await jobs.orders(runtime.pool, progress["id"], state, limit, after)
    return web.json_response({"backfill_id": progress["id"], "orders": rows})


def add_routes(app: web.Application) -> None:
    app[RUNNER] = []
    app.router.add_post(PATH, start, name="backfill_start")
    app.router.add_get(PATH, status, name="backfill_status")
    app.router.add_get(ORDERS_PATH, order_rows, name="backfill_orders")
