"""The whole stack in the test's event loop: five services, both simulators, one shop.

Each test gets its own broker namespace, shop domain and Fortnox tenant, so tests never see
each other's messages or documents; the database is the run's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from fortbridge.registry import SERVICES
from libs.common import database
from libs.common.crypto import TokenCipher
from libs.common.service import STATE, serve
from libs.common.settings import Settings
from services.fortnox_writer.connections import ConnectionStore
from services.timeline.credentials import store_shopify_token
from simulators.fortnox import FortnoxSimulator
from simulators.shopify import ShopifySimulator
from simulators.shopify.webhooks import build_webhook, deliver

SHOPIFY_SECRET = "test-shopify-secret"
CLIENT_ID = "fortbridge-test"
CLIENT_SECRET = "fortnox-test-secret"


@dataclass
class Stack:
    settings: Settings
    apps: dict[str, web.Application]
    fortnox: FortnoxSimulator
    shopify: ShopifySimulator
    shop: str
    tenant_id: str
    http: aiohttp.ClientSession
    pool: asyncpg.Pool
    sent: list[dict[str, Any]] = field(default_factory=list)

    def url(self, service: str, path: str) -> str:
        base = self.apps[service][STATE].base_url
        assert base is not None
        return base + path

    async def send_order(self, order: dict[str, Any], *, copies: int = 1) -> list[int]:
        self.shopify.add_order(self.shop, order)
        return await self.send_webhook("orders/create", order, copies=copies)

    async def send_webhook(
        self, topic: str, payload: dict[str, Any], *, copies: int = 1, secret: str | None = None
    ) -> list[int]:
        webhook = build_webhook(topic, self.shop, payload, secret or SHOPIFY_SECRET)
        return await deliver(
            self.http, self.url("ingest", "/webhooks/shopify"), webhook, copies=copies
        )

    def invoices(self) -> list[Any]:
        return list(self.fortnox.tenant(self.tenant_id).invoices.values())

    def invoices_for(self, order_id: int | str) -> list[Any]:
        reference = f"shopify-{order_id}"
        return [i for i in self.invoices() if _field(i, "ExternalInvoiceReference1") == reference]

    async def wait_for(
        self, check: Callable[[], Awaitable[bool] | bool], timeout: float = 20.0
    ) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            outcome = check()
            if isinstance(outcome, Awaitable):
                outcome = await outcome
            if outcome:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("condition not met in time")
            await asyncio.sleep(0.05)

    async def failed_jobs(self) -> list[dict[str, Any]]:
        async with self.http.get(
            self.url("replayer", "/admin/api/integrations/fortnox/failed_jobs.json"),
            params={"shop": self.shop},
        ) as response:
            assert response.status == 200
            return list((await response.json())["failed_jobs"])

    async def timeline(self, order_id: int | str) -> dict[str, Any]:
        async with self.http.get(
            self.url("timeline", f"/admin/api/orders/{order_id}/timeline_events.json"),
            params={"shop": self.shop},
        ) as response:
            return dict(await response.json())


def _field(document: Any, name: str) -> Any:
    if isinstance(document, dict):
        return document.get(name)
    return getattr(document, "fields", {}).get(name) if hasattr(document, "fields") else None


@contextlib.asynccontextmanager
async def running_stack(
    *,
    amqp_url: str,
    database_url: str,
    namespace: str,
    services: Sequence[str] = tuple(SERVICES),
    fortnox: FortnoxSimulator | None = None,
    **overrides: Any,
) -> AsyncIterator[Stack]:
    fortnox = fortnox or FortnoxSimulator()
    shopify = ShopifySimulator()
    shop = f"shop-{uuid.uuid4().hex[:8]}.myshopify.com"
    tenant_id = str(1_000_000 + uuid.uuid4().int % 1_000_000)
    fortnox.add_client(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    fortnox.add_tenant(tenant_id=tenant_id, company_name="Test AB")
    shopify_token = f"simtok_{uuid.uuid4().hex}"
    shopify.add_shop(shop, access_token=shopify_token)
    key = TokenCipher.generate_key()
    async with (
        fortnox.serve(host="127.0.0.1", port=0) as fortnox_url,
        shopify.serve(host="127.0.0.1", port=0) as shopify_url,
        aiohttp.ClientSession() as http,
    ):
        settings = Settings(
            amqp_url=amqp_url,
            amqp_namespace=namespace,
            amqp_retry_delays=(0.2, 0.5, 1.0),
            amqp_max_attempts=4,
            amqp_delivery_limit=3,
            database_url=database_url,
            http_host="127.0.0.1",
            shopify_api_secret=SHOPIFY_SECRET,
            shopify_admin_url=shopify.admin_url_template(shopify_url),
            fortnox_api_url=fortnox_url,
            fortnox_auth_url=fortnox_url,
            fortnox_client_id=CLIENT_ID,
            fortnox_client_secret=CLIENT_SECRET,
            fortnox_timeout_seconds=3.0,
            token_encryption_keys=key,
            outbox_relay_interval_seconds=0.2,
            outbox_relay_age_seconds=1.0,
            **overrides,
        )
        definitions = [SERVICES[name] for name in services]
        async with serve(definitions, settings, ports={name: 0 for name in services}) as apps:
            pool = await database.create_pool(database_url, max_size=4)
            try:
                cipher = TokenCipher(key)
                store = ConnectionStore(pool, cipher, http, settings)
                tokens = fortnox.issue_tokens(CLIENT_ID, tenant_id)
                await store.save(shop, tenant_id, tokens)
                await store_shopify_token(pool, cipher, shop, shopify_token)
                yield Stack(settings, apps, fortnox, shopify, shop, tenant_id, http, pool)
            finally:
                await pool.close()
