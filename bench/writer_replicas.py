"""Three writer replicas at Fortnox's rate limit: jitter, 429s, calls per order, fairness.

    .venv/bin/python -m bench.writer_replicas [--heavy 5000] [--window 40] [--light-every 1.0]
        [--jitter 0.15] [--corpus 150]

Starts the Fortnox simulator (25 requests per 5 s per tenant, like Fortnox) in this process and
three ``python -m services.fortnox_writer`` subprocesses sharing the local PostgreSQL and
RabbitMQ (AMQP_URL, DATABASE_URL) under a namespace of their own. Prints one JSON object:

- ``saturation``: twice, without and with ``--jitter`` s of random delay on every request on
  its way to the simulator. A heavy tenant gets ``--heavy`` commands at once; once the writers
  have set them aside, a light tenant's order follows every ``--light-every`` s for ``--window``
  s. Figures: the heavy tenant's requests per 5 s as a share of Fortnox's 25 (``rate_use``),
  429s, the shortest span of 26 consecutive requests of the heavy tenant as the simulator
  received them (over 5 s means no 5 s window held 26), calls per order over the window (steady
  state: returning customers, known SKUs), the light tenant's latency (publish -> invoice).
- ``new_customer_corpus``: ``--corpus`` orders on a fresh tenant, every order a new customer,
  two lines each from 30 SKUs of which a third are not in Fortnox yet, published at once:
  Fortnox requests per order, and what they were.
- ``refund``: a full refund (credit) of a booked invoice: its Fortnox requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
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
from libs.common.messages import FortnoxCommand, SourceRef
from libs.common.messaging import Topology
from libs.common.settings import get_settings
from simulators.fortnox.articles import create_article
from simulators.shopify.payloads import LineSpec, order_payload

ROOT = Path(__file__).resolve().parent.parent
REPLICAS = 3
Publish = Callable[[FortnoxCommand], Awaitable[None]]


def _invoiced(stack: LocalStack, tenant_id: str, reference: str) -> bool:
    return any(
        invoice.get("ExternalInvoiceReference1") == reference
        for invoice in stack.fortnox.tenant(tenant_id).invoices.values()
    )


def _order_invoiced(stack: LocalStack, tenant_id: str, order_id: Any) -> bool:
    return _invoiced(stack, tenant_id, f"shopify-{order_id}")


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


async def _wait(check: Callable[[], bool], timeout: float) -> None:
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


def _shortest_span(times: list[float], count: int = 26) -> float | None:
    """The shortest time between the first and last of ``count`` consecutive requests."""
    times = sorted(times)
    spans = [times[i + count - 1] - times[i] for i in range(len(times) - count + 1)]
    return round(min(spans), 3) if spans else None


def _p(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[max(0, int(len(ordered) * share + 0.5) - 1)] * 1000, 1)


async def saturation(
    stack: LocalStack, publish: Publish, heavy_count: int, window: float, every: float
) -> dict[str, Any]:
    """A heavy tenant saturated, a light tenant's orders alongside (fresh tenants each run)."""
    sim = stack.fortnox
    heavy_shop, heavy = await add_connected_shop(stack, "Heavy AB")
    light_shop, light = await add_connected_shop(stack, "Light AB")
    warm = [(heavy_shop, heavy, order_payload()), (light_shop, light, order_payload())]
    for shop, _, order in warm:
        await publish(order_command(shop, order))
    await _wait(lambda: all(_order_invoiced(stack, t, o["id"]) for _, t, o in warm), 60)

    commands = [order_command(heavy_shop, order_payload()) for _ in range(heavy_count)]
    published = time.monotonic()
    for start in range(0, heavy_count, 250):
        await asyncio.gather(*(publish(c) for c in commands[start : start + 250]))
    publish_seconds = time.monotonic() - published
    behind = order_payload()
    behind_started = time.monotonic()
    await publish(order_command(light_shop, behind))
    await _wait(lambda: _order_invoiced(stack, light, behind["id"]), 120)
    behind_burst = time.monotonic() - behind_started
    while await _backlog(stack, heavy_shop) < heavy_count - 300:
        await asyncio.sleep(0.2)
    absorbed = time.monotonic() - published

    window_start = sim.clock()
    before_429 = sim.count_429
    invoices_before = {t: len(sim.tenant(t).invoices) for t in (heavy, light)}
    latencies: list[float] = []
    pending: list[asyncio.Task[None]] = []

    async def light_order() -> None:
        order = order_payload()
        started = time.monotonic()
        await publish(order_command(light_shop, order))
        await _wait(lambda: _order_invoiced(stack, light, order["id"]), 60)
        latencies.append(time.monotonic() - started)

    ends = time.monotonic() + window
    while time.monotonic() < ends:
        pending.append(asyncio.create_task(light_order()))
        await asyncio.sleep(every)
    window_end = sim.clock()
    made = sum(len(sim.tenant(t).invoices) - invoices_before[t] for t in (heavy, light))
    await asyncio.gather(*pending)
    backlog_after = await _backlog(stack, heavy_shop)
    await stack.pool.execute(
        "DELETE FROM fortnox_writer.deferred_commands WHERE shop = ANY($1)",
        [heavy_shop, light_shop],
    )
    span = window_end - window_start
    in_window = [r for r in sim.requests_for(since=window_start) if r.time <= window_end]
    in_window = [r for r in in_window if r.tenant_id in (heavy, light)]
    heavy_requests = [r for r in in_window if r.tenant_id == heavy and r.path.startswith("/3/")]
    heavy_times = [r.time for r in sim.requests_for(heavy) if r.path.startswith("/3/")]
    return {
        "heavy_commands": heavy_count,
        "heavy_publish_seconds": round(publish_seconds, 2),
        "backlog_absorbed_seconds": round(absorbed, 2),
        "light_latency_ms_right_behind_the_burst": round(behind_burst * 1000, 1),
        "window_seconds": round(span, 1),
        "heavy_requests_per_5s": round(len(heavy_requests) / span * 5, 2),
        "rate_use": round(len(heavy_requests) / span * 5 / 25, 3),
        "shortest_span_of_26_at_receiver_s": _shortest_span(heavy_times),
        "heavy_requests": len(heavy_times),
        "responses_429": sim.count_429 - before_429,
        "fortnox_calls_per_steady_state_order": round(len(in_window) / max(made, 1), 3),
        "light_orders": len(latencies),
        "light_latency_ms_p50": round(statistics.median(latencies) * 1000, 1),
        "light_latency_ms_p95": _p(latencies, 0.95),
        "light_latency_ms_max": round(max(latencies) * 1000, 1),
        "heavy_backlog_at_end": backlog_after,
    }


async def new_customer_corpus(stack: LocalStack, publish: Publish, count: int) -> dict[str, Any]:
    """Every order a new customer; a third of the SKUs not in Fortnox yet."""
    shop, tenant_id = await add_connected_shop(stack, "Corpus AB")
    tenant = stack.fortnox.tenant(tenant_id)
    skus = [f"SKU-{n:03d}" for n in range(30)]
    for sku in skus[:20]:  # two thirds exist in Fortnox already
        create_article(tenant, {"ArticleNumber": sku, "Description": f"Vara {sku}"})
    chooser = random.Random(16)

    def order(n: int) -> dict[str, Any]:
        lines = [
            LineSpec(f"Vara {sku}", f"{chooser.randint(50, 900)}.00", 1, "0.25", sku)
            for sku in chooser.sample(skus, 2)
        ]
        return order_payload(lines=lines, email=f"kund-{uuid.uuid4().hex[:10]}@example.com")

    warm = order(-1)  # the first order of a shop reads its registers (pages of 500)
    await publish(order_command(shop, warm))
    await _wait(lambda: _order_invoiced(stack, tenant_id, warm["id"]), 60)
    first = len(stack.fortnox.requests_for(tenant_id))
    orders = [order(n) for n in range(count)]
    started = time.monotonic()
    await asyncio.gather(*(publish(order_command(shop, o)) for o in orders))
    await _wait(lambda: all(_order_invoiced(stack, tenant_id, o["id"]) for o in orders), 600)
    seconds = time.monotonic() - started
    requests = stack.fortnox.requests_for(tenant_id)[first:]
    kinds = Counter(
        f"{r.method} {r.path}" + (" ?lastmodified" if "lastmodified" in r.query else "")
        for r in requests
    )
    new_skus = sum(1 for sku in skus[20:] if sku in tenant.articles)  # made by the writer
    return {
        "orders": count,
        "new_customers": count,
        "new_skus_used": new_skus,
        "fortnox_requests": len(requests),
        "fortnox_requests_per_order": round(len(requests) / count, 3),
        "requests": dict(sorted(kinds.items())),
        "orders_per_minute": round(count / seconds * 60, 1),
        "responses_429": sum(1 for r in requests if r.status == 429),
    }


async def refund(stack: LocalStack, publish: Publish) -> dict[str, Any]:
    """A full refund of a booked invoice: the credit, and what it needs."""
    shop, tenant_id = await add_connected_shop(stack, "Refund AB")
    source = order_payload()
    create = order_command(shop, source)
    assert create.document is not None
    create = create.model_copy(
        update={"document": create.document.model_copy(update={"bookkeep": True})}
    )
    await publish(create)
    tenant = stack.fortnox.tenant(tenant_id)
    await _wait(
        lambda: any(
            i.booked and i.get("ExternalInvoiceReference1") == f"shopify-{source['id']}"
            for i in tenant.invoices.values()
        ),
        60,
    )
    await asyncio.sleep(0.5)  # the writer records the bookkeep after Fortnox answered it
    before = len(stack.fortnox.requests_for(tenant_id))
    reverse = FortnoxCommand(
        shop=shop,
        command_id=uuid.uuid4().hex,
        action="reverse_document",
        document_key=f"{create.document_key}:refund:1",
        source=SourceRef(type="refund", id="1", order_id=str(source["id"])),
        target_document_key=create.document_key,
        allow_cancel=False,
    )
    await publish(reverse)
    await _wait(lambda: any(i.credit for i in tenant.invoices.values()), 60)
    await asyncio.sleep(0.5)
    requests = stack.fortnox.requests_for(tenant_id)[before:]
    return {
        "fortnox_requests": len(requests),
        "requests": [f"{r.method} {r.path}" for r in requests],
    }


async def run(
    heavy_count: int, window: float, every: float, jitter: float, corpus: int
) -> dict[str, Any]:
    settings = get_settings()
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    processes: list[subprocess.Popen[bytes]] = []
    figures: dict[str, Any] = {"replicas": REPLICAS}
    try:
        async with local_stack(
            amqp_url=settings.amqp_url,
            database_url=settings.database_url,
            namespace=namespace,
            services=(),
        ) as stack:
            processes = await _start_writers(stack)
            try:
                async with command_publisher(stack.settings) as publish:
                    figures["saturation_without_jitter"] = await saturation(
                        stack, publish, heavy_count, window, every
                    )
                    stack.fortnox.jitter = jitter
                    with_jitter = await saturation(stack, publish, heavy_count, window, every)
                    figures[f"saturation_with_jitter_0_to_{int(jitter * 1000)}_ms"] = with_jitter
                    stack.fortnox.jitter = 0.0
                    figures["new_customer_corpus"] = await new_customer_corpus(
                        stack, publish, corpus
                    )
                    figures["refund"] = await refund(stack, publish)
            finally:
                for process in processes:
                    process.terminate()
                for process in processes:
                    process.wait(timeout=60)
                await stack.pool.execute(
                    "DELETE FROM fortnox_writer.deferred_commands WHERE tenant_id = ANY($1)",
                    list(stack.fortnox.tenants),
                )
    finally:
        await delete_namespace(settings.amqp_url, Topology(namespace=namespace))
    return figures


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--heavy", type=int, default=5000)
    parser.add_argument("--window", type=float, default=40.0)
    parser.add_argument("--light-every", type=float, default=1.0)
    parser.add_argument("--jitter", type=float, default=0.15)
    parser.add_argument("--corpus", type=int, default=150)
    args = parser.parse_args()
    configure_logging("bench", "ERROR")
    tracing.configure_tracing("fortbridge-bench")
    await database.ensure_database(get_settings().database_url)
    figures = await run(args.heavy, args.window, args.light_every, args.jitter, args.corpus)
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
