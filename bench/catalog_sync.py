"""A bulk product sync through both simulators: how long 1,000 products take to become Fortnox
articles, and how many Fortnox calls each article costs. Prints one JSON object.

    .venv/bin/python -m bench.catalog_sync [--products 1000] [--variants 1]

Uses the local RabbitMQ and PostgreSQL (AMQP_URL, DATABASE_URL) and a namespace of its own. The
Shopify simulator applies its cost-based throttling (restore rate 100 points/s, as a Standard
plan); Fortnox's 25 requests per 5 s per tenant bounds the duration (the writer runs at 24).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from fortbridge.localstack import delete_namespace, local_stack, migrate_all
from libs.common import database, tracing
from libs.common.logs import configure_logging
from libs.common.messaging import Topology
from libs.common.settings import get_settings
from simulators.shopify import ShopifySimulator

BASE_ID = 7_100_000_000_000


def product(n: int, variants: int) -> dict[str, Any]:
    product_id = BASE_ID + n
    return {
        "id": product_id,
        "title": f"Produkt {n}",
        "status": "active",
        "created_at": "2026-11-01T10:00:00+01:00",
        "updated_at": "2026-11-20T10:00:00+01:00",
        "variants": [
            {
                "id": product_id * 100 + v,
                "product_id": product_id,
                "title": "Default Title" if variants == 1 else f"Variant {v}",
                "sku": f"P{n}-{v}",
                "price": "199.00",
                "position": v + 1,
            }
            for v in range(variants)
        ],
    }


async def run(products: int, variants: int, namespace: str) -> dict[str, Any]:
    settings = get_settings()
    async with local_stack(
        amqp_url=settings.amqp_url,
        database_url=settings.database_url,
        namespace=namespace,
        services=("ingest", "mapper", "fortnox_writer"),
        shopify=ShopifySimulator(restore_rate=100.0, bucket_size=1000.0),
    ) as stack:
        for n in range(products):
            stack.shopify.add_product(stack.shop, product(n, variants))
        url = stack.url("ingest", "/admin/api/products/fortnox_sync.json")
        status_url = stack.url("ingest", "/admin/api/products/fortnox_sync_status.json")
        started = time.perf_counter()
        async with stack.http.post(url, params={"shop": stack.shop}) as response:
            assert response.status == 202, await response.text()
        job: dict[str, Any] = {}
        while job.get("status") in (None, "running"):
            await asyncio.sleep(0.5)
            async with stack.http.get(status_url, params={"shop": stack.shop}) as response:
                job = (await response.json())["fortnox_sync"]
        elapsed = time.perf_counter() - started
        requests = stack.fortnox.requests_for(stack.tenant_id)
        article_calls = [r for r in requests if "/3/articles" in r.path]
        articles = len(stack.fortnox.tenant(stack.tenant_id).articles)
        shopify_calls = [r for r in stack.shopify.requests if r.shop == stack.shop]
        throttled = sum(1 for r in shopify_calls if r.throttled)
    return {
        "products": products,
        "variants_per_product": variants,
        "job": {k: job[k] for k in ("status", "total", "done", "failed", "skipped")},
        "articles_in_fortnox": articles,
        "seconds": round(elapsed, 1),
        "articles_per_second": round(articles / elapsed, 2),
        "fortnox_calls": len(requests),
        "fortnox_calls_per_article": round(len(article_calls) / max(articles, 1), 3),
        "fortnox_429": sum(1 for r in requests if r.status == 429),
        "shopify_graphql_calls": len(shopify_calls),
        "shopify_throttled": throttled,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--variants", type=int, default=1)
    args = parser.parse_args()
    configure_logging("bench", "ERROR")
    tracing.configure_tracing("fortbridge-bench")
    settings = get_settings()
    await database.ensure_database(settings.database_url)
    await migrate_all(settings.database_url)
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    try:
        figures = await run(args.products, args.variants, namespace)
    finally:
        await delete_namespace(settings.amqp_url, Topology(namespace=namespace))
    print(
        json.dumps(
            {
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                f"{platform.python_version()}",
                "catalog_sync": figures,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
