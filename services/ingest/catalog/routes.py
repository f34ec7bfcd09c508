"""The catalog sync endpoints: start a bulk product or customer sync, and follow it."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from aiohttp import web

from libs.common.access import authorize_for_shop
from libs.common.http import json_error
from libs.common.service import runtime_of
from services.ingest.catalog import jobs
from services.ingest.catalog.runner import CatalogRunner
from services.ingest.lifecycle import ensure_installed

RUNNER = web.AppKey("catalog_runner", list[CatalogRunner])
MAX_IDS = 250
MAX_ID = 2**63 - 1  # Shopify ids are 64-bit: longer "ids" are refused, not sent to Shopify


def _kind(request: web.Request) -> str:
    """products or customers, from /admin/api/{kind}/..."""
    return request.path.split("/")[3]


async def _shop(request: web.Request, scope: str) -> str:
    runtime = runtime_of(request)
    _, shop = await authorize_for_shop(request, runtime.settings, runtime.pool, scope)
    return shop


def parse_filter(body: Any) -> dict[str, Any]:
    """``{"ids": [...], "updated_since": iso}``, both optional; ValueError names the field."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    filters: dict[str, Any] = {}
    ids = body.get("ids")
    if ids is not None:
        if not isinstance(ids, list) or not ids or len(ids) > MAX_IDS:
            raise ValueError(f"ids: a list of 1 to {MAX_IDS} numeric ids")
        if not all(_shopify_id(i) for i in ids):
            raise ValueError(f"ids: every id must be a Shopify numeric id (1 to {MAX_ID})")
        filters["ids"] = [str(i) for i in ids]
    since = body.get("updated_since")
    if since is not None:
        try:
            parsed = datetime.fromisoformat(str(since))
        except ValueError as exc:
            raise ValueError("updated_since: an ISO 8601 time with its offset") from exc
        if parsed.tzinfo is None:
            raise ValueError("updated_since: an ISO 8601 time with its offset")
        filters["updated_since"] = parsed.isoformat()
    return filters


def _shopify_id(value: Any) -> bool:
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    return text.isascii() and text.isdigit() and len(text) <= 19 and 0 < int(text) <= MAX_ID


async def start_sync(request: web.Request) -> web.Response:
    kind = _kind(request)
    shop = await _shop(request, f"write_{kind}")
    runtime = runtime_of(request)
    await ensure_installed(runtime, shop)
    body: Any = None
    raw = await request.read()
    if raw.strip():
        try:
            body = json.loads(raw)
        except ValueError:  # not JSON, not UTF-8, or an integer past Python's digit limit
            return json_error(400, "the body is not valid JSON")
    try:
        filters = parse_filter(body)
    except ValueError as exc:
        return json_error(422, str(exc))
    try:
        job_id = await jobs.create(runtime.pool, shop, kind, filters)
    except jobs.JobRunning as running:
        return json_error(409, str(running), fortnox_sync=running.job)
    request.app[RUNNER][0].start(job_id)
    progress = await jobs.progress(runtime.pool, shop, kind, job_id)
    return web.json_response({"fortnox_sync": progress}, status=202)


async def sync_status(request: web.Request) -> web.Response:
    kind = _kind(request)
    shop = await _shop(request, f"read_{kind}")
    runtime = runtime_of(request)
    job_id = request.query.get("job_id") or None
    if job_id is not None:
        try:
            job_id = str(uuid.UUID(job_id))
        except ValueError:
            return json_error(400, "job_id must be a UUID")
    progress = await jobs.progress(runtime.pool, shop, kind, job_id)
    if progress is None:
        return json_error(404, f"no {kind} sync has run for this shop")
    return web.json_response({"fortnox_sync": progress})


def add_routes(app: web.Application) -> None:
    app[RUNNER] = []
    for kind in ("products", "customers"):
        base = f"/admin/api/{kind}"
        app.router.add_post(f"{base}/fortnox_sync.json", start_sync, name=f"{kind}_sync")
        app.router.add_get(
            f"{base}/fortnox_sync_status.json", sync_status, name=f"{kind}_sync_status"
        )
