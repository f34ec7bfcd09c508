"""First benchmarks: webhooks accepted per second by one ingest process, and the end-to-end
latency from webhook to Fortnox invoice to Shopify status. Prints one JSON object.

    .venv/bin/python -m bench.skeleton [--webhooks 2000] [--concurrency 50] [--orders 30]

Uses the local RabbitMQ and PostgreSQL (AMQP_URL, DATABASE_URL) and a namespace of its own.
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

from fortbridge.localstack import delete_namespace, local_stack, migrate_all
from libs.common import database, tracing
from libs.common.crypto import TokenCipher
from libs.common.logs import configure_logging
from libs.common.messaging import Topology
from libs.common.settings import get_settings
from simulators.shopify.payloads import order_payload
from simulators.shopify.webhooks import build_webhook

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-shopify-secret"


async def ingest_throughput(webhooks: int, concurrency: int, namespace: str) -> dict[str, Any]:
    settings = get_settings()
    port = 18080
    env = {
        **os.environ,
        "AMQP_NAMESPACE": namespace,
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(port),
        "SHOPIFY_API_SECRET": SECRET,
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": settings.database_url,
        "AMQP_URL": settings.amqp_url,
        "TOKEN_ENCRYPTION_KEYS": TokenCipher.generate_key(),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "services.ingest"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                try:
                    async with http.get(f"{base}/readyz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                if process.poll() is not None:
                    raise SystemExit(f"ingest exited with {process.returncode} before it was ready")
                await asyncio.sleep(0.1)
            else:
                raise SystemExit("ingest was not ready within 20 s")
            shop = f"bench-{uuid.uuid4().hex[:6]}.myshopify.com"
            hooks = [
                build_webhook("orders/create", shop, order_payload(), SECRET)
                for _ in range(webhooks)
            ]
            statuses: dict[int, int] = {}
            latencies: list[float] = []
            queue: asyncio.Queue[Any] = asyncio.Queue()
            for hook in hooks:
                queue.put_nowait(hook)

            async def worker() -> None:
                while not queue.empty():
                    hook = queue.get_nowait()
                    started = time.perf_counter()
                    async with http.post(
                        f"{base}/webhooks/shopify", data=hook.body, headers=hook.headers
                    ) as response:
                        await response.read()
                        statuses[response.status] = statuses.get(response.status, 0) + 1
                    latencies.append(time.perf_counter() - started)

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            elapsed = time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=30)
    latencies.sort()
    return {
        "webhooks": webhooks,
        "concurrency": concurrency,
        "seconds": round(elapsed, 3),
        "accepted_per_second": round(statuses.get(200, 0) / elapsed, 1),
        "statuses": statuses,
        "response_ms_p50": round(latencies[len(latencies) // 2] * 1000, 1),
        "response_ms_p99": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
    }


async def end_to_end_latency(orders: int, namespace: str) -> dict[str, Any]:
    settings = get_settings()
    samples: list[float] = []
    async with local_stack(
        amqp_url=settings.amqp_url, database_url=settings.database_url, namespace=namespace
    ) as stack:
        for _ in range(orders):
            order = order_payload()
            key = (f"gid://shopify/Order/{order['id']}", "fortbridge", "sync_status")
            started = time.perf_counter()
            await stack.send_order(order)
            await stack.wait_for(lambda key=key: key in stack.shopify.shop(stack.shop).metafields)
            samples.append(time.perf_counter() - started)
        calls = len(stack.fortnox.requests_for(stack.tenant_id))
    samples.sort()
    return {
        "orders": orders,
        "latency_ms_p50": round(statistics.median(samples) * 1000, 1),
        "latency_ms_p95": round(samples[int(len(samples) * 0.95) - 1] * 1000, 1),
        "latency_ms_max": round(samples[-1] * 1000, 1),
        "fortnox_calls_per_order": round(calls / orders, 2),
        "note": "sequential orders, one shop; first order also creates customer and articles",
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--webhooks", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--orders", type=int, default=30)
    args = parser.parse_args()
    configure_logging("bench", "ERROR")
    tracing.configure_tracing("fortbridge-bench")
    settings = get_settings()
    await database.ensure_database(settings.database_url)
    await migrate_all(settings.database_url)
    namespaces = [f"bench-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    try:
        ingest = await ingest_throughput(args.webhooks, args.concurrency, namespaces[0])
        latency = await end_to_end_latency(args.orders, namespaces[1])
    finally:
        for namespace in namespaces:
            await delete_namespace(settings.amqp_url, Topology(namespace=namespace))
    print(
        json.dumps(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                f"{platform.python_version()}",
                "ingest": ingest,
                "end_to_end": latency,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
