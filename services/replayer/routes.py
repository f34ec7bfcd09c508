"""The replayer's admin API: find, understand, retry and discard failed jobs.

Under ``/admin/api/integrations/fortnox``:

- ``GET  failed_jobs.json``: jobs by filter, newest first, cursor-paged, with counts per cause
- ``GET  failed_jobs/causes.json``: only the counts per cause
- ``GET  failed_jobs/audit_log.json``: who retried or discarded what, and when
- ``GET  failed_jobs/{job_id}.json``: one job
- ``PUT  failed_jobs/{job_id}/retry.json``: re-queue one job now
- ``POST failed_jobs/{job_id}/discard.json``: never run it (``{"reason": ...}``)
- ``POST retry.json``: re-queue every open job matching a filter, paced at ``REPLAY_RATE``

and ``GET /admin/api/quiet.json``: is anything still in flight, deployment-wide (operator only;
services/replayer/quiet.py).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from libs.common.access import authorize_operator
from libs.common.http import json_error
from libs.common.limits import MAX_REASON
from libs.common.service import runtime_of
from services.replayer import access, audit, jobs
from services.replayer.filters import (
    FilterError,
    JobFilter,
    decode_cursor,
    encode_cursor,
    parse_limit,
)
from services.replayer.gauge import OpenJobsGauge
from services.replayer.quiet import quiet_report
from services.replayer.replay import ReplayDrainer

BASE = "/admin/api/integrations/fortnox"


@dataclass
class ReplayerState:
    """What the routes share with the running service (filled in at start)."""

    drainer: ReplayDrainer | None = None
    gauge: OpenJobsGauge | None = None


REPLAYER = web.AppKey("replayer", ReplayerState)


async def list_failed_jobs(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    principal = await access.caller(request, runtime, access.READ)
    try:
        job_filter = access.pinned(principal, JobFilter.from_mapping(request.query))
        limit = parse_limit(request.query.get("limit"))
        cursor = request.query.get("cursor")
        after = decode_cursor(cursor) if cursor else None
    except FilterError as exc:
        return json_error(400, str(exc))
    found, next_cursor = await jobs.page(runtime.pool, job_filter, after=after, limit=limit)
    headers = {}
    if next_cursor is not None:
        query = {**request.query, "cursor": next_cursor}
        headers["Link"] = f'<{request.url.with_query(query)}>; rel="next"'
    return web.json_response(
        {
            "failed_jobs": found,
            "next_cursor": next_cursor,
            "causes": await jobs.causes(runtime.pool, job_filter),
        },
        headers=headers,
    )


async def list_causes(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    principal = await access.caller(request, runtime, access.READ)
    try:
        job_filter = access.pinned(principal, JobFilter.from_mapping(request.query))
    except FilterError as exc:
        return json_error(400, str(exc))
    return web.json_response({"causes": await jobs.causes(runtime.pool, job_filter)})


async def get_failed_job(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    principal = await access.caller(request, runtime, access.READ)
    job_id = _job_id(request)
    job = None if job_id is None else await jobs.get(runtime.pool, job_id)
    if job is None or not access.may_see(principal, job):
        return json_error(404, "no failed job with that id")
    return web.json_response({"failed_job": job})


async def retry_failed_job(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    principal = await access.caller(request, runtime, access.WRITE)
    actor = principal.name
    job_id = _job_id(request)
    if job_id is None or not access.may_see(principal, await jobs.get(runtime.pool, job_id)):
        return json_error(404, "no failed job with that id")
    try:
        job = await jobs.retry(runtime.pool, runtime.publisher, job_id, actor=actor)
    except jobs.JobStateError as exc:
        return json_error(409, str(exc), failed_job=exc.job)
    if job is None:
        return json_error(404, "no failed job with that id")
    await _refresh_gauge(request)
    return web.json_response({"failed_job": job})


async def discard_failed_job(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    principal = await access.caller(request, runtime, access.WRITE)
    actor = principal.name
    job_id = _job_id(request)
    if job_id is None or not access.may_see(principal, await jobs.get(runtime.pool, job_id)):
        return json_error(404, "no failed job with that id")
    body = await _json_body(request)
    if body is None:
        return json_error(400, 'the body must be a JSON object: {"reason": "..."}')
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        return json_error(400, "a reason is required to discard a job", field="reason")
    if len(reason) > MAX_REASON:
        return json_error(
            422, f"reason: at most {MAX_REASON} characters (got {len(reason)})", field="reason"
        )
    try:
        job = await jobs.discard(runtime.pool, job_id, actor=actor, reason=reason.strip())
    except jobs.JobStateError as exc:
        return json_error(409, str(exc), failed_job=exc.job)
    if job is None:
        return json_error(404, "no failed job with that id")
    await _refresh_gauge(request)
    return web.json_response({"failed_job": job})


async def bulk_retry(request: web.Request) -> web.Response:
    """Queue every open job matching the filter; the drainer publishes them at a pace."""
    runtime = runtime_of(request)
    principal = await access.caller(request, runtime, access.WRITE)
    actor = principal.name
    body = await _json_body(request)
    if body is None:
        return json_error(400, "the body must be a JSON object with the filter")
    try:
        job_filter = access.pinned(principal, JobFilter.from_mapping(body))
    except FilterError as exc:
        return json_error(400, str(exc))
    if job_filter.status not in (None, "open"):
        return json_error(400, "a bulk retry re-queues open jobs only; leave status out")
    if job_filter.is_empty() and body.get("all") is not True:
        return json_error(
            400, 'give a filter (cause, error_code, shop, ...) or "all": true to retry every job'
        )
    dry_run = body.get("dry_run") is True
    count, batch = await jobs.queue_matching(runtime.pool, job_filter, actor=actor, dry_run=dry_run)
    state = request.app[REPLAYER]
    if state.drainer is not None and count:
        state.drainer.wake()
    await _refresh_gauge(request)
    rate = runtime.settings.replay_rate
    return web.json_response(
        {
            "queued": 0 if dry_run else count,
            "matching": count,
            "dry_run": dry_run,
            "batch_id": str(batch) if batch else None,
            "filter": job_filter.as_json(),
            "rate_per_second": rate,
            "estimated_seconds": round(count / rate, 1),
        },
        status=200 if dry_run else 202,
    )


async def audit_log(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    principal = await access.caller(request, runtime, access.READ)
    query = request.query
    try:
        limit = parse_limit(query.get("limit"))
        before = decode_cursor(query["cursor"], "al1") if query.get("cursor") else None
        job_id = uuid.UUID(query["job_id"]) if query.get("job_id") else None
        if principal.shop is not None and (
            job_id is None or not access.may_see(principal, await jobs.get(runtime.pool, job_id))
        ):
            return json_error(403, "a shop's credentials read the audit log of its own jobs only")
        entries, last = await audit.page(
            runtime.pool,
            job_id=job_id,
            action=query.get("action") or None,
            actor=query.get("actor") or None,
            before=before,
            limit=limit,
        )
    except FilterError as exc:
        return json_error(400, str(exc))
    except ValueError:
        return json_error(400, "job_id must be a UUID")
    next_cursor = encode_cursor(last, "al1") if last is not None else None
    return web.json_response({"audit_log": entries, "next_cursor": next_cursor})


def _job_id(request: web.Request) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.match_info["job_id"])
    except ValueError:
        return None


async def _json_body(request: web.Request) -> dict[str, Any] | None:
    """The JSON object sent ({} for none); read() works even after a middleware read it."""
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


async def _refresh_gauge(request: web.Request) -> None:
    gauge = request.app[REPLAYER].gauge
    if gauge is not None:
        await gauge.refresh()


async def quiet(request: web.Request) -> web.Response:
    """Per service: queues, set-aside commands, outbox, failed jobs, syncs; and ``quiet``."""
    runtime = runtime_of(request)
    await authorize_operator(request, runtime.settings, runtime.pool)
    report = await quiet_report(runtime.pool, runtime.connection, runtime.http, runtime.settings)
    return web.json_response(report)


def add_routes(app: web.Application) -> None:
    app[REPLAYER] = ReplayerState()
    jobs_path = f"{BASE}/failed_jobs"
    app.router.add_get(f"{jobs_path}.json", list_failed_jobs)
    app.router.add_get(f"{jobs_path}/causes.json", list_causes)
    app.router.add_get(f"{jobs_path}/audit_log.json", audit_log)
    app.router.add_get(f"{jobs_path}/{{job_id}}.json", get_failed_job)
    app.router.add_put(f"{jobs_path}/{{job_id}}/retry.json", retry_failed_job)
    app.router.add_post(f"{jobs_path}/{{job_id}}/discard.json", discard_failed_job)
    app.router.add_post(f"{BASE}/retry.json", bulk_retry)
    app.router.add_get("/admin/api/quiet.json", quiet)
