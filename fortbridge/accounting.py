"""``fortbridge backfill ...`` and ``fortbridge report ...``: the accountant's jobs, through the
admin API of a running deployment (its access checks apply: an operator API token of the shop
with write_integrations / read_integrations, or the deployment's ADMIN_API_TOKEN).

    fortbridge backfill start --shop S --from 2026-01-01T00:00:00+01:00 --to ... [--run] [--wait]
    fortbridge backfill start --shop S --ids 123,456 [--run] [--wait]
    fortbridge backfill status --shop S [--job ID] [--wait]
    fortbridge report start --shop S --from 2026-11-01 --to 2026-11-30 [--wait] [--csv FILE]
    fortbridge report show --shop S --id ID [--csv FILE]

``--url`` is the deployment's public base (the Ingress, or ``fortbridge demo --serve``'s
gateway), default FORTBRIDGE_URL or http://127.0.0.1:8000; ``--token`` defaults to
FORTBRIDGE_TOKEN. Without ``--run`` a backfill is a dry run: the API's own answer says per order
what would be created and which orders Fortnox already holds (``would_match``: matched by
reference, not duplicated); the CLI prints those (``in_fortnox`` with ``--json``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path
from typing import Any

import aiohttp

from fortbridge.output import NO, OK, UNAVAILABLE, USAGE, Output, json_flag

POLL_SECONDS = 2.0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shop", required=True, help="the shop's myshopify domain")
    parser.add_argument(
        "--url",
        default=os.environ.get("FORTBRIDGE_URL", "http://127.0.0.1:8000"),
        help="the deployment's base URL (default FORTBRIDGE_URL or http://127.0.0.1:8000)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("FORTBRIDGE_TOKEN", ""),
        help="an API token of the shop (default FORTBRIDGE_TOKEN)",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="follow the job until it is done or SECONDS have passed",
    )


def add_parsers(commands: Any) -> None:
    backfill = commands.add_parser("backfill", help="import past orders (dry run first)")
    actions = backfill.add_subparsers(dest="action", required=True)
    start = actions.add_parser("start", parents=[json_flag()], help="start a dry run or a run")
    _common(start)
    start.add_argument("--from", dest="start", help="orders created from (ISO 8601 with offset)")
    start.add_argument("--to", dest="end", help="... until before (ISO 8601 with offset)")
    start.add_argument("--ids", help="order ids, comma-separated (instead of --from/--to)")
    start.add_argument("--run", action="store_true", help="import (default: a dry run)")
    status = actions.add_parser("status", parents=[json_flag()], help="a backfill's progress")
    _common(status)
    status.add_argument("--job", help="the backfill's id (default: the shop's latest)")

    report = commands.add_parser("report", help="the period reconciliation report")
    actions = report.add_subparsers(dest="action", required=True)
    start = actions.add_parser("start", parents=[json_flag()], help="start a report")
    _common(start)
    start.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
    start.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD")
    start.add_argument("--csv", metavar="FILE", help="when finished, write the CSV here")
    show = actions.add_parser("show", parents=[json_flag()], help="a report (or its progress)")
    _common(show)
    show.add_argument("--id", required=True, help="the report's id")
    show.add_argument("--csv", metavar="FILE", help="write the CSV here")


class Api:
    def __init__(self, http: aiohttp.ClientSession, args: argparse.Namespace) -> None:
        self._http = http
        self._base = args.url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
        self._shop = args.shop

    async def call(self, method: str, path: str, body: Any = None, **query: str) -> Any:
        async with self._http.request(
            method,
            f"{self._base}{path}",
            params={"shop": self._shop, **query},
            json=body,
            headers=self._headers,
        ) as response:
            if path.endswith(".csv") and response.status == 200:
                return await response.text()
            answer = await response.json(content_type=None)
            if response.status >= 400:
                raise ApiError(response.status, str((answer or {}).get("error") or answer))
            return answer


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


async def run(args: argparse.Namespace) -> int:
    out = Output(args.json)
    try:
        async with aiohttp.ClientSession() as http:
            api = Api(http, args)
            if args.command == "backfill":
                return await _backfill(api, args, out)
            return await _report(api, args, out)
    except ApiError as exc:
        return out.error(str(exc), NO if exc.status < 500 else UNAVAILABLE)
    except aiohttp.ClientError as exc:
        return out.error(f"could not reach {args.url}: {exc}", UNAVAILABLE)


async def _follow(fetch: Any, done: Any, wait: float) -> Any:
    deadline = time.monotonic() + wait
    current = await fetch()
    while not done(current) and time.monotonic() < deadline:
        await asyncio.sleep(POLL_SECONDS)
        current = await fetch()
    return current


async def _backfill(api: Api, args: argparse.Namespace, out: Output) -> int:
    job_id = args.job if args.action == "status" else None
    if args.action == "start":
        body: dict[str, Any] = {"dry_run": not args.run}
        if args.ids:
            body["ids"] = [int(i) for i in args.ids.split(",") if i.strip()]
        elif args.start and args.end:
            body.update({"from": args.start, "to": args.end})
        else:
            return out.error("give --from and --to, or --ids", USAGE)
        job_id = (await api.call("POST", "/admin/api/backfills.json", body))["backfill"]["id"]

    async def fetch() -> dict[str, Any]:
        query = {"job_id": job_id} if job_id else {}
        answer: dict[str, Any] = (await api.call("GET", "/admin/api/backfills.json", **query))[
            "backfill"
        ]
        return answer

    job = await _follow(fetch, lambda j: j["status"] != "running", args.wait)
    counts = ", ".join(f"{n} {name}" for name, n in job["counts"].items() if n)
    kind = "dry run" if job["dry_run"] else "backfill"
    lines = [
        f"{kind} {job['id']}: {job['status']}, {job['done']} of {job['total']} orders done",
        f"  {counts or 'no orders yet'}",
        *([f"  error: {job['error']}"] if job["error"] else []),
    ]
    data: dict[str, Any] = {"backfill": job}
    if job["dry_run"] and job["status"] == "finished":
        # What the dry run found in Fortnox (the writer looked each order up by its reference).
        data["in_fortnox"] = await _would_match(api, job)
        lines.append(
            f"  Fortnox already has {len(data['in_fortnox'])} of them (matched by reference,"
            " not duplicated)"
        )
    out.result(data, lines)
    return OK if job["status"] != "failed" else NO


async def _would_match(api: Api, job: dict[str, Any]) -> list[str]:
    """The dry run's orders Fortnox already has an invoice of (``would_match``), by id."""
    found: list[str] = []
    after: str | None = None
    while True:
        query = {"job_id": job["id"], "status": "would_match", "limit": "250"}
        if after:
            query["after"] = after
        rows = (await api.call("GET", "/admin/api/backfills/orders.json", **query))["orders"]
        found += [row["order_id"] for row in rows]
        if len(rows) < 250:
            return found
        after = rows[-1]["order_id"]


async def _report(api: Api, args: argparse.Namespace, out: Output) -> int:
    if args.action == "start":
        body = {"from": args.start, "to": args.end}
        answer = await api.call("POST", "/admin/api/reconciliation_reports.json", body)
        report_id = answer["reconciliation_report"]["id"]
    else:
        report_id = args.id
    path = f"/admin/api/reconciliation_reports/{report_id}"

    async def fetch() -> dict[str, Any]:
        answer: dict[str, Any] = (await api.call("GET", f"{path}.json"))["reconciliation_report"]
        return answer

    report = await _follow(fetch, lambda r: r["status"] != "running", args.wait)
    if args.csv and report["status"] == "finished":
        text = await api.call("GET", f"{path}.csv")
        await asyncio.to_thread(Path(args.csv).write_text, text, encoding="utf-8")
    lines = [
        f"report {report['id']} ({report['period']['from']} to {report['period']['to']}): "
        f"{report['status']}"
    ]
    body = report.get("report")
    if body:
        shopify, fortnox = body["totals"]["shopify"], body["totals"]["fortnox"]
        lines += [
            f"  Shopify: {shopify['orders']} orders, total {shopify['total']}, VAT {shopify['vat']}"
            f", refunded {shopify['refunded']}, paid {shopify['paid']}",
            f"  Fortnox: {fortnox['invoices']} invoices, total {fortnox['total']}, VAT "
            f"{fortnox['vat']}, credited {fortnox['credited']}, paid {fortnox['paid']}",
            f"  {len(body['differences'])} differences",
            *[
                f"    {d['order_name'] or d['order_id']}: {d['kind']} {d['what']}"
                + (
                    f" (Shopify {d['shopify']}, Fortnox {d['fortnox']})"
                    if d.get("difference")
                    else ""
                )
                for d in body["differences"][:50]
            ],
        ]
    if report.get("error"):
        lines.append(f"  error: {report['error']}")
    out.result({"reconciliation_report": report}, lines)
    if report["status"] == "failed":
        return NO
    return OK
