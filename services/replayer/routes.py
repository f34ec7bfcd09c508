"""The replayer's admin routes: list failed jobs, retry one."""

from __future__ import annotations

import uuid

from aiohttp import web

from libs.common.admin_auth import require_admin
from libs.common.http import json_error
from libs.common.service import runtime_of
from services.replayer import jobs

BASE = "/admin/api/integrations/fortnox"


async def list_failed_jobs(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    require_admin(request, runtime.settings, "read_integrations")
    shop = request.query.get("shop")
    status = request.query.get("status")
    try:
        limit = min(max(int(request.query.get("limit", "100")), 1), 500)
    except ValueError:
        return json_error(400, "limit must be a whole number")
    rows = await runtime.pool.fetch(
        """
        SELECT * FROM replayer.failed_jobs
        WHERE ($1::text IS NULL OR shop = $1) AND ($2::text IS NULL OR status = $2)
        ORDER BY last_failed_at DESC LIMIT $3
        """,
        shop,
        status,
        limit,
    )
    return web.json_response({"failed_jobs": [jobs.as_json(row) for row in rows]})


async def retry_failed_job(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    require_admin(request, runtime.settings, "write_integrations")
    try:
        job_id = uuid.UUID(request.match_info["job_id"])
    except ValueError:
        return json_error(404, "no failed job with that id")
    job = await jobs.retry(runtime.pool, runtime.publisher, job_id)
    if job is None:
        return json_error(404, "no failed job with that id (or it was discarded)")
    return web.json_response({"failed_job": job})


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{BASE}/failed_jobs.json", list_failed_jobs)
    app.router.add_put(f"{BASE}/failed_jobs/{{job_id}}/retry.json", retry_failed_job)
