"""The reconciliation report endpoints (the writer owns them: it is the one Fortnox caller).

POST /admin/api/reconciliation_reports.json  {"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}
    -> 202 {"reconciliation_report": {id, status, stage, ...}}   (write_integrations)
GET  /admin/api/reconciliation_reports/{id}.json  -> the report (or its progress)
GET  /admin/api/reconciliation_reports/{id}.csv   -> one line per order     (read_integrations)
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

from aiohttp import web

from libs.common.access import authorize_for_shop
from libs.common.http import json_error
from libs.common.service import runtime_of
from services.fortnox_writer.reconciliation import jobs
from services.fortnox_writer.reconciliation.compare import to_csv
from services.fortnox_writer.reconciliation.jobs import MAX_DAYS, ReportRunner

REPORTS = web.AppKey("reconciliation_reports", list[ReportRunner])
BASE = "/admin/api/reconciliation_reports"


def parse_period(body: Any) -> tuple[date, date]:
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    try:
        start = date.fromisoformat(str(body.get("from")))
        end = date.fromisoformat(str(body.get("to")))
    except ValueError:
        raise ValueError(
            "from and to: dates as YYYY-MM-DD (the period's first and last day)"
        ) from None
    if end < start:
        raise ValueError("to must not be before from")
    if (end - start).days >= MAX_DAYS:
        raise ValueError(f"a report covers at most {MAX_DAYS} days")
    return start, end


async def start(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    _, shop = await authorize_for_shop(
        request, runtime.settings, runtime.pool, "write_integrations"
    )
    try:
        body = json.loads(await request.read() or b"null")
    except ValueError:
        return json_error(400, "the body is not valid JSON")
    try:
        period = parse_period(body)
    except ValueError as exc:
        return json_error(422, str(exc))
    connected = await runtime.pool.fetchval(
        "SELECT tenant_id FROM fortnox_writer.connections WHERE shop = $1", shop
    )
    if connected is None:
        return json_error(409, "the shop has not connected Fortnox")
    report_id = await jobs.create(runtime.pool, shop, *period)
    request.app[REPORTS][0].start(report_id)
    row = await jobs.read(runtime.pool, shop, report_id)
    assert row is not None
    return web.json_response({"reconciliation_report": jobs.summary(row)}, status=202)


async def _report(request: web.Request) -> tuple[Any, web.Response | None]:
    runtime = runtime_of(request)
    _, shop = await authorize_for_shop(request, runtime.settings, runtime.pool, "read_integrations")
    try:
        report_id = str(uuid.UUID(request.match_info["id"]))
    except ValueError:
        return None, json_error(404, "no such report")
    row = await jobs.read(runtime.pool, shop, report_id)
    if row is None:
        return None, json_error(404, "no such report")
    return row, None


async def read_json(request: web.Request) -> web.Response:
    row, error = await _report(request)
    if error is not None:
        return error
    answer: dict[str, Any] = {"reconciliation_report": jobs.summary(row)}
    if row["report"]:
        answer["reconciliation_report"]["report"] = json.loads(row["report"])
    return web.json_response(answer)


async def read_csv(request: web.Request) -> web.Response:
    row, error = await _report(request)
    if error is not None:
        return error
    if not row["report"]:
        return json_error(409, f"the report is {row['status']}", **jobs.summary(row))
    name = f"reconciliation-{row['period_from']}-{row['period_to']}.csv"
    return web.Response(
        text=to_csv(json.loads(row["report"])),
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def add_routes(app: web.Application) -> None:
    app[REPORTS] = []
    app.router.add_post(f"{BASE}.json", start, name="reconciliation_report_start")
    app.router.add_get(f"{BASE}/{{id}}.json", read_json, name="reconciliation_report")
    app.router.add_get(f"{BASE}/{{id}}.csv", read_csv, name="reconciliation_report_csv")
