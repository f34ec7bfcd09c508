"""The least a correct webhook ingest must do: the yardstick of bench/ingest_vs_reference.py.

One aiohttp process, on the same asyncio event loop as Fortbridge's ingest:
- the HMAC over the raw body (401, nothing stored),
- the headers it needs (400),
- an inbox INSERT deduplicated on the webhook id and on the event id (committed),
- a persistent publish to a durable quorum queue, awaiting the broker's publisher confirm,
- 200.

Nothing else: no JSON parsing, no trace, no metric, no log line, no outbox bookkeeping. It is not
part of the product and nothing imports it; ``python -m bench.reference_ingest`` serves it with
DATABASE_URL, AMQP_URL, AMQP_NAMESPACE, HTTP_PORT and SHOPIFY_API_SECRET from the environment.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import signal
from typing import Any

import aio_pika
import asyncpg
from aiohttp import web

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS bench_reference;
CREATE TABLE IF NOT EXISTS bench_reference.inbox (
    id          bigserial PRIMARY KEY,
    shop        text NOT NULL,
    topic       text NOT NULL,
    webhook_id  text NOT NULL,
    event_id    text,
    received_at timestamptz NOT NULL DEFAULT now(),
    body        text NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS inbox_webhook_id ON bench_reference.inbox (shop, webhook_id);
CREATE UNIQUE INDEX IF NOT EXISTS inbox_event_id ON bench_reference.inbox (shop, topic, event_id)
    WHERE event_id IS NOT NULL;
"""

INSERT = """
INSERT INTO bench_reference.inbox (shop, topic, webhook_id, event_id, body)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT DO NOTHING
RETURNING id
"""


def queue_name(namespace: str) -> str:
    return f"{namespace}.reference.inbox"


class Reference:
    def __init__(self, secret: bytes, pool: asyncpg.Pool, exchange: Any, queue: str) -> None:
        self.secret = secret
        self.pool = pool
        self.exchange = exchange
        self.queue = queue

    async def receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = request.headers
        signature = headers.get("X-Shopify-Hmac-Sha256", "")
        expected = base64.b64encode(hmac.new(self.secret, body, hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(expected, signature):
            return web.Response(status=401, text="bad hmac")
        shop = headers.get("X-Shopify-Shop-Domain")
        topic = headers.get("X-Shopify-Topic")
        webhook_id = headers.get("X-Shopify-Webhook-Id")
        if not shop or not topic or not webhook_id:
            return web.Response(status=400, text="missing headers")
        inserted = await self.pool.fetchval(
            INSERT, shop, topic, webhook_id, headers.get("X-Shopify-Event-Id"), body.decode()
        )
        if inserted is None:
            return web.Response(text="duplicate")
        await self.exchange.publish(
            aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=self.queue,
            mandatory=True,
        )
        return web.Response(text="ok")


async def main() -> None:
    namespace = os.environ.get("AMQP_NAMESPACE", "bench")
    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=2, max_size=10)
    await pool.execute(SCHEMA)
    connection = await aio_pika.connect_robust(os.environ["AMQP_URL"])
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    queue = queue_name(namespace)
    await channel.declare_queue(queue, durable=True, arguments={"x-queue-type": "quorum"})
    secret = os.environ["SHOPIFY_API_SECRET"].encode()
    reference = Reference(secret, pool, channel.default_exchange, queue)
    app = web.Application(client_max_size=5 * 1024 * 1024)
    app.router.add_post("/webhooks/shopify", reference.receive)

    async def ready(_request: web.Request) -> web.Response:
        return web.Response(text="ready")

    app.router.add_get("/readyz", ready)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", int(os.environ.get("HTTP_PORT", "18090")))
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    await connection.close()
    await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
