"""Three writer replicas at Fortnox's rate limit: saturation, 429s, calls per order, fairness.

    .venv/bin/python -m bench.writer_replicas [--heavy 5000] [--window 40] [--light-every 1.0]

Starts the Fortnox simulator (25 requests per 5 s per tenant, like Fortnox) in this process and
three ``python -m services.fortnox_writer`` subprocesses sharing the local PostgreSQL and
RabbitMQ (AMQP_URL, DATABASE_URL) under a namespace of their own. Two shops, each its own
Fortnox tenant, are warmed up (customer and articles cached). Then ``--heavy`` commands for the
heavy tenant are published at once; once the writers have taken them off the broker, a light
tenant's order is published every ``--light-every`` seconds for ``--window`` seconds. Prints one
JSON object:

- ``heavy_share_of_fortnox_limit``: the heavy tenant's requests per 5 s over the window, as a
  share of Fortnox's 25 (the writer's own limit is 24, so 0.96 is the ceiling);
- ``responses_429``: 429s the simulator answered over the whole run;
- ``fortnox_calls_per_steady_state_order``: requests / invoices over the window (both tenants);
- ``light_latency_ms_p95``: publish -> invoice in Fortnox, for the light tenant's orders while
  the heavy tenant's backlog stays in the thousands.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from fortbridge.localstack import (
    LocalStack,
    add_connected_shop,
    command_publisher,
    delete_namespace,
    local_stack,
    order_command,
    service_env,
)
from libs.common import database, tracing
from libs.common.logs import configure_logging
from libs.common.messaging import Topology
from libs.common.settings import get_settings
from simulators.shopify.payloads import order_payload

ROOT = Path(__file__).resolve().parent.parent
REPLICAS = 3


def _invoiced(stack: LocalStack, tenant_id: str, order_id: Any) -> bool:
    reference = f"shopify-{order_id}"
    return any(
        invoice.get("ExternalInvoiceReference1") == reference
        for invoice in stack.fortnox.tenant(tenant_id).invoices.values()
    )


async def _start_writers(stack: LocalStack) -> list[subprocess.Popen[bytes]]:
    processes = []
    ports = [18200 + n for n in range(REPLICAS)]
    for port in ports:
        env = service_env(
            stack.settings, HTTP_HOST="127.0.0.1", HTTP_PORT=str(port), LOG_LEVEL="WARNING"
        )
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "services.fortnox_writer"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
            )
        )
    async with aiohttp.ClientSession() as http:
        for port in ports:
            for _ in range(300):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
    return processes


async def _wait(check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not met in time")
        await asyncio.sleep(0.01)


async def _backlog(stack: LocalStack, shop: str) -> int:
    return int(
        await stack.pool.fetchval(
            "SELECT count(*) FROM fortnox_writer.deferred_commands WHERE shop = $1", shop
        )
    )


async def run(heavy_count: int, window: float, light_every: float) -> dict[str, Any]:
    settings = get_settings()
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        async with local_stack(
            amqp_url=settings.amqp_url,
            database_url=settings.database_url,
            namespace=namespace,
            services=(),
        ) as stack:
            heavy_shop, heavy = stack.shop, stack.tenant_id
            light_shop, light = await add_connected_shop(stack, "Light AB")
            processes = await _start_writers(stack)
            sim = stack.fortnox
            try:
                async with command_publisher(stack.settings) as publish:
                    warm = [
                        (heavy_shop, heavy, order_payload()),
                        (light_shop, light, order_payload()),
                    ]
                    for shop, _, order in warm:
                        await publish(order_command(shop, order))
                    await _wait(lambda: all(_invoiced(stack, t, o["id"]) for _, t, o in warm), 60)

                    commands = [
                        order_command(heavy_shop, order_payload()) for _ in range(heavy_count)
                    ]
                    published = time.monotonic()
                    for start in range(0, heavy_count, 250):
                        await asyncio.gather(*(publish(c) for c in commands[start : start + 250]))
                    publish_seconds = time.monotonic() - published
                    # A light order right behind the burst waits for the burst to be set aside.
                    behind = order_payload()
                    behind_started = time.monotonic()
                    await publish(order_command(light_shop, behind))
                    await _wait(lambda: _invoiced(stack, light, behind["id"]), 120)
                    behind_burst = time.monotonic() - behind_started
                    # The writers take the backlog off the broker into PostgreSQL.
                    while await _backlog(stack, heavy_shop) < heavy_count - 300:
                        await asyncio.sleep(0.2)
                    absorbed = time.monotonic() - published

                    window_start = sim.clock()
                    invoices_before = {t: len(sim.tenant(t).invoices) for t in (heavy, light)}
                    latencies: list[float] = []
                    pending: list[asyncio.Task[None]] = []

                    async def light_order() -> None:
                        order = order_payload()
                        started = time.monotonic()
                        await publish(order_command(light_shop, order))
                        await _wait(lambda: _invoiced(stack, light, order["id"]), 60)
                        latencies.append(time.monotonic() - started)

                    ends = time.monotonic() + window
                    while time.monotonic() < ends:
                        pending.append(asyncio.create_task(light_order()))
                        await asyncio.sleep(light_every)
                    window_end = sim.clock()
                    made = sum(
                        len(sim.tenant(t).invoices) - invoices_before[t] for t in (heavy, light)
                    )
                    await asyncio.gather(*pending)
                    backlog_after = await _backlog(stack, heavy_shop)
            finally:
                for process in processes:
                    process.terminate()
                for process in processes:
                    process.wait(timeout=60)
                await stack.pool.execute(
                    "DELETE FROM fortnox_writer.deferred_commands WHERE shop = ANY($1)",
                    [heavy_shop, light_shop],
                )
            span = window_end - window_start
            in_window = sim.requests_for(since=window_start)
            in_window = [r for r in in_window if r.time <= window_end]
            heavy_requests = [r for r in in_window if r.tenant_id == heavy]
            times = sorted(r.time for r in sim.requests_for(heavy))
            busiest = max(sum(1 for t in times if s <= t < s + 5.0) for s in times)
    finally:
        await delete_namespace(settings.amqp_url, Topology(namespace=namespace))
    latencies.sort()
    return {
        "replicas": REPLICAS,
        "heavy_commands": heavy_count,
        "heavy_publish_seconds": round(publish_seconds, 2),
        "backlog_absorbed_seconds": round(absorbed, 2),
        "light_latency_ms_right_behind_the_burst": round(behind_burst * 1000, 1),
        "window_seconds": round(span, 1),
        "heavy_requests_per_5s": round(len(heavy_requests) / span * 5, 2),
        "heavy_share_of_fortnox_limit": round(len(heavy_requests) / span * 5 / 25, 3),
        "heavy_busiest_5s_window": busiest,
        "responses_429": sim.count_429,
        "responses_429_in_window": sum(1 for r in in_window if r.status == 429),
        "fortnox_calls_per_steady_state_order": round(len(in_window) / made, 3),
        "light_orders": len(latencies),
        "light_latency_ms_p50": round(statistics.median(latencies) * 1000, 1),
        "light_latency_ms_p95": round(latencies[max(0, int(len(latencies) * 0.95) - 1)] * 1000, 1),
        "light_latency_ms_max": round(latencies[-1] * 1000, 1),
        "heavy_backlog_at_end": backlog_after,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--heavy", type=int, default=5000)
    parser.add_argument("--window", type=float, default=40.0)
    parser.add_argument("--light-every", type=float, default=1.0)
    args = parser.parse_args()
    configure_logging("bench", "ERROR")
    tracing.configure_tracing("fortbridge-bench")
    await database.ensure_database(get_settings().database_url)
    figures = await run(args.heavy, args.window, args.light_every)
    print(
        json.dumps(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                f"{platform.python_version()}",
                "writer_replicas": figures,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
