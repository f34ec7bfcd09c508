"""``fortbridge quiet`` and ``fortbridge namespace delete``: the operator's view of a running
deployment and the clean-up of a namespace, straight against its database and broker."""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import aio_pika
import aiohttp

from fortbridge.output import NO, OK, Output, json_flag
from libs.common import database
from libs.common.messaging import Topology
from libs.common.messaging.inspect import ManagementApi
from libs.common.messaging.namespace import NamespaceInUse, delete_namespace
from libs.common.messaging.topology import RETRY_DELAYS_SECONDS
from libs.common.settings import Settings


def add_parsers(commands: Any) -> None:
    quiet = commands.add_parser(
        "quiet",
        parents=[json_flag()],
        help="is anything still in flight? exit 0 when quiet, 1 when not",
    )
    quiet.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="keep asking until quiet (for --settle seconds in a row) or SECONDS have passed",
    )
    quiet.add_argument(
        "--settle",
        type=float,
        default=6.0,
        metavar="SECONDS",
        help="with --wait: how long it must stay quiet (default 6: longer than RabbitMQ's "
        "5 s statistics interval and a typical handler)",
    )
    namespace = commands.add_parser("namespace", help="a broker namespace's exchanges and queues")
    actions = namespace.add_subparsers(dest="action", required=True)
    delete = actions.add_parser(
        "delete",
        parents=[json_flag()],
        help="delete a namespace's exchanges and queues (refused while its queues hold "
        "messages or have consumers, unless --force)",
    )
    delete.add_argument("name", help="the namespace (AMQP_NAMESPACE of the stack it belonged to)")
    delete.add_argument(
        "--force", action="store_true", help="delete even queues holding messages (lost)"
    )


async def quiet(settings: Settings, args: argparse.Namespace) -> int:
    from services.replayer.quiet import quiet_report

    out = Output(args.json)
    pool = await database.create_pool(settings.database_url, max_size=2, attempts=3)
    try:
        connection = await aio_pika.connect(settings.amqp_url)
        async with connection, aiohttp.ClientSession() as http:
            deadline = time.monotonic() + args.wait
            quiet_since: float | None = None
            while True:
                report = await quiet_report(pool, connection, http, settings)
                now = time.monotonic()
                quiet_since = (quiet_since or now) if report["quiet"] else None
                settled = quiet_since is not None and now - quiet_since >= args.settle
                if args.wait <= 0 or settled or now >= deadline:
                    break
                await asyncio.sleep(1.0)
    finally:
        await pool.close()
    out.result(report, _describe(report))
    return OK if report["quiet"] else NO


def _describe(report: dict[str, Any]) -> list[str]:
    lines = [f"{'quiet' if report['quiet'] else 'NOT quiet'} (namespace {report['namespace']})"]
    lines += [f"  busy: {reason}" for reason in report["busy"]]
    lines += [f"  waiting for people: {reason}" for reason in report["waiting_for_people"]]
    lines += [f"  not measured: {reason}" for reason in report["unmeasured"]]
    for name, service in report["services"].items():
        ready = sum(q.get("ready") or 0 for q in service["queues"].values())
        unacked = [q.get("unacked") for q in service["queues"].values() if q.get("exists", True)]
        handled = "?" if any(u is None for u in unacked) else str(sum(u or 0 for u in unacked))
        extra = {k: v for k, v in service.items() if k not in ("quiet", "queues")}
        lines.append(
            f"  {name:<15} {'quiet' if service['quiet'] else 'busy':<6} ready {ready}, "
            f"unacked {handled}" + (f", {extra}" if extra else "")
        )
    return lines


async def delete(settings: Settings, args: argparse.Namespace) -> int:
    out = Output(args.json)
    topology = Topology(namespace=args.name, retry_delays=settings.amqp_retry_delays)
    try:
        deleted = await delete_namespace(
            settings.amqp_url,
            topology,
            extra_delays=RETRY_DELAYS_SECONDS,
            management=ManagementApi.configured(settings.amqp_management_url, settings.amqp_url),
            force=args.force,
        )
    except NamespaceInUse as exc:
        return out.error(
            str(exc),
            NO,
            namespace=args.name,
            busy=[{"queue": q.name, "ready": q.ready, "consumers": q.consumers} for q in exc.busy],
        )
    out.result(
        {"namespace": deleted.namespace, "queues": deleted.queues, "exchanges": deleted.exchanges},
        f"deleted namespace {deleted.namespace}: {len(deleted.queues)} queues, "
        f"{len(deleted.exchanges)} exchanges",
    )
    return OK
