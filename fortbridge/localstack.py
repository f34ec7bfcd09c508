"""The whole stack in one event loop: five services, both simulators, one connected shop.

Used by ``fortbridge demo``, the benchmarks and the end-to-end tests. The shop is connected the
way a merchant connects it: Fortnox through the writer's connect flow (start.json with the
shop's API token, launch, the simulator's consent, the callback with the browser's cookie;
fortnox_connect.py), Shopify with an offline access token. A stack without the writer stores the
connection from an authorization code directly (the CLI's path).

The stack turns on ADMIN_API_ALLOW_LOOPBACK (local development only): the demo's and the tests'
calls from this machine without credentials act as the operator, unless a test sets
ADMIN_API_TOKEN or turns the switch off.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aio_pika
import aiohttp
import asyncpg
from aiohttp import web

from fortbridge import fortnox_connect
from fortbridge.registry import SERVICES
from libs.common import database
from libs.common.access import ApiTokenStore
from libs.common.crypto import TokenCipher
from libs.common.messages import FortnoxCommand
from libs.common.messaging import Publisher, Topology
from libs.common.messaging.namespace import delete_namespace
from libs.common.service import STATE, serve
from libs.common.settings import Settings
from libs.common.shared_schemas import migrate_shared
from libs.common.shops import ShopRegistry
from services.fortnox_writer.connections import ConnectionStore
from services.fortnox_writer.switching import connect_with_code
from services.mapper.accounting import ShopSettings, invoice_command
from simulators.fortnox import FortnoxSimulator, Tenant
from simulators.shopify import ShopifySimulator
from simulators.shopify.webhooks import build_webhook, deliver
from simulators.vies import ViesSimulator

__all__ = ["LocalStack", "delete_namespace", "local_stack", "migrate_all"]

SHOPIFY_SECRET = "local-shopify-secret"
CLIENT_ID = "fortbridge-local"
CLIENT_SECRET = "local-fortnox-secret"
REDIRECT_URI = "http://127.0.0.1/auth/fortnox/callback"
LOCAL_TRIAL_CREDITS = 1_000_000


@dataclass
class LocalStack:
    settings: Settings
    apps: dict[str, web.Application]
    fortnox: FortnoxSimulator
    shopify: ShopifySimulator
    shop: str
    tenant_id: str
    http: aiohttp.ClientSession
    pool: asyncpg.Pool
    vies: ViesSimulator = field(default_factory=ViesSimulator)  # VIES_URL points at it

    def url(self, service: str, path: str) -> str:
        base = self.apps[service][STATE].base_url
        assert base is not None
        return base + path

    async def send_order(self, order: dict[str, Any], *, copies: int = 1) -> list[int]:
        """Put the order in the Shopify simulator and deliver its signed orders/create."""
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
        return [i for i in self.invoices() if i.get("ExternalInvoiceReference1") == reference]

    def admin_headers(self) -> dict[str, str]:
        """The operator's credentials, when the stack has an ADMIN_API_TOKEN."""
        token = self.settings.admin_api_token.get_secret_value()
        return {"Authorization": f"Bearer {token}"} if token else {}

    async def failed_jobs(self) -> list[dict[str, Any]]:
        """The shop's failed jobs, from the replayer's admin API."""
        async with self.http.get(
            self.url("replayer", "/admin/api/integrations/fortnox/failed_jobs.json"),
            params={"shop": self.shop},
            headers=self.admin_headers(),
        ) as response:
            response.raise_for_status()
            return list((await response.json())["failed_jobs"])

    async def timeline(self, order_id: int | str) -> dict[str, Any]:
        """An order's sync timeline, from the timeline's admin API."""
        async with self.http.get(
            self.url("timeline", f"/admin/api/orders/{order_id}/timeline_events.json"),
            params={"shop": self.shop},
            headers=self.admin_headers(),
        ) as response:
            return dict(await response.json())

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


async def connect_through_writer(
    pool: asyncpg.Pool,
    http: aiohttp.ClientSession,
    writer_url: str,
    shop: str,
    tenant_id: str,
    *,
    switch_company: bool = False,
    features: tuple[str, ...] = ("orders", "payments"),
) -> dict[str, Any]:
    """The merchant connects Fortnox from the app: an API token of the shop starts the flow."""
    issued = await ApiTokenStore(pool).create(shop, "write_integrations", label="local stack")
    return await fortnox_connect.connect(
        http,
        writer_url,
        {"Authorization": f"Bearer {issued.token}"},
        tenant_id,
        features=features,
        switch_company=switch_company,
    )


async def connect_fortnox(
    fortnox_url: str,
    tenant_id: str,
    store: ConnectionStore,
    http: aiohttp.ClientSession,
    settings: Settings,
    shop: str,
) -> None:
    """The CLI's path: the simulator's consent, then the code exchange (no writer needed)."""
    params = {
        "client_id": settings.fortnox_client_id,
        "redirect_uri": REDIRECT_URI,
        # bookkeeping, settings, currency: the registers the pre-flight check reads.
        "scope": "invoice order payment customer article companyinformation "
        "bookkeeping settings currency",
        "state": uuid.uuid4().hex,
        "access_type": "offline",
        "response_type": "code",
        "tenant_id": tenant_id,
    }
    async with http.get(
        f"{fortnox_url}/oauth-v1/auth", params=params, allow_redirects=False
    ) as response:
        location = response.headers["Location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    await connect_with_code(store, http, settings, shop=shop, code=code, redirect_uri=REDIRECT_URI)


@contextlib.asynccontextmanager
async def local_stack(
    *,
    amqp_url: str,
    database_url: str,
    namespace: str,
    services: Sequence[str] = tuple(SERVICES),
    fortnox: FortnoxSimulator | None = None,
    shopify: ShopifySimulator | None = None,
    fortnox_connected: bool = True,
    vies: ViesSimulator | None = None,
    **overrides: Any,
) -> AsyncIterator[LocalStack]:
    """The stack; ``fortnox_connected=False`` leaves the shop to connect Fortnox itself."""
    fortnox = fortnox or FortnoxSimulator()
    shopify = shopify or ShopifySimulator()
    vies = vies or ViesSimulator()
    shop = f"shop-{uuid.uuid4().hex[:8]}.myshopify.com"
    tenant_id = str(1_000_000 + uuid.uuid4().int % 1_000_000)
    fortnox.add_client(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    set_up_company(fortnox.add_tenant(tenant_id=tenant_id, company_name="Demo AB"))
    shopify_token = f"simtok_{uuid.uuid4().hex}"
    shopify.add_shop(shop, access_token=shopify_token)
    key = TokenCipher.generate_key()
    async with (
        fortnox.serve(host="127.0.0.1", port=0) as fortnox_url,
        shopify.serve(host="127.0.0.1", port=0) as shopify_url,
        vies.serve(host="127.0.0.1", port=0) as vies_url,
        aiohttp.ClientSession() as http,
    ):
        settings = Settings(
            **{
                "amqp_url": amqp_url,
                "amqp_namespace": namespace,
                "database_url": database_url,
                "http_host": "127.0.0.1",
                "shopify_api_secret": SHOPIFY_SECRET,
                "shopify_admin_url": shopify.admin_url_template(shopify_url),
                "fortnox_api_url": fortnox_url,
                "fortnox_auth_url": fortnox_url,
                "fortnox_client_id": CLIENT_ID,
                "fortnox_client_secret": CLIENT_SECRET,
                "token_encryption_keys": key,
                "admin_api_allow_loopback": True,
                "vies_url": f"{vies_url}/rest-api",
                # Usage billing stays on, with enough trial credits that local work never
                # waits on it; billing tests pass billing_trial_credits=15 (docs/billing.md).
                "billing_trial_credits": LOCAL_TRIAL_CREDITS,
                **overrides,
            }
        )
        definitions = [SERVICES[name] for name in services]
        await migrate_all(database_url)
        async with serve(definitions, settings, ports={name: 0 for name in services}) as apps:
            pool = await database.create_pool(database_url, max_size=4)
            try:
                cipher = TokenCipher(key)
                # Without fortnox_connected the shop connects Fortnox itself (the app's button).
                if fortnox_connected and "fortnox_writer" in apps:
                    writer_url = apps["fortnox_writer"][STATE].base_url
                    assert writer_url is not None
                    await connect_through_writer(pool, http, writer_url, shop, tenant_id)
                elif fortnox_connected:
                    store = ConnectionStore(pool, cipher, http, settings)
                    await connect_fortnox(fortnox_url, tenant_id, store, http, settings, shop)
                await ShopRegistry(pool, cipher).install(shop, shopify_token)
                if "ingest" in apps:  # the billing webhooks Shopify sends to the app
                    subscribe_billing_webhooks(shopify, shop, apps["ingest"][STATE].base_url)
                yield LocalStack(
                    settings, apps, fortnox, shopify, shop, tenant_id, http, pool, vies
                )
            finally:
                await pool.close()


def subscribe_billing_webhooks(
    shopify: ShopifySimulator, shop: str, ingest_url: str | None
) -> None:
    """The shop's app_subscriptions webhooks go to ingest, signed with the app's secret (an
    install through OAuth subscribes them itself: services/ingest/install.py)."""
    if ingest_url is None:
        return
    shopify.webhook_secret = SHOPIFY_SECRET
    state = shopify.shop(shop)
    for topic in ("APP_SUBSCRIPTIONS_UPDATE", "APP_SUBSCRIPTIONS_APPROACHING_CAPPED_AMOUNT"):
        sub_id = 1_300_000_000 + len(state.webhook_subscriptions) + 1
        state.webhook_subscriptions[sub_id] = {
            "id": sub_id,
            "topic": topic,
            "format": "JSON",
            "uri": f"{ingest_url}/webhooks/shopify",
            "include_fields": [],
            "created_at": "2026-01-01T00:00:00Z",
        }


async def migrate_all(database_url: str) -> None:
    """Every service's migrations, so a stack that runs some services elsewhere still works."""
    pool = await database.create_pool(database_url, max_size=1)
    try:
        await migrate_shared(pool)
        for definition in SERVICES.values():
            if definition.migrations is not None:
                await database.migrate(pool, definition.name, definition.migrations)
    finally:
        await pool.close()


def set_up_company(tenant: Tenant) -> Tenant:
    """A company set up the way the pre-flight check asks: the modes of payment Fortbridge's
    default settings use exist (booked to 1930, as its fix makes them). Fortnox refuses a
    payment with a mode the company lacks."""
    defaults = ShopSettings()
    for code in {
        *defaults.payment_modes.values(),
        defaults.default_payment_mode,
        defaults.gift_card_payment_mode,
    }:
        tenant.modes_of_payment.setdefault(code, (code.title(), 1930))
    return tenant


async def add_connected_shop(stack: LocalStack, company_name: str = "Other AB") -> tuple[str, str]:
    """Another shop connected to its own Fortnox tenant (company); returns (shop, tenant id)."""
    shop = f"shop-{uuid.uuid4().hex[:8]}.myshopify.com"
    tenant_id = str(1_000_000 + uuid.uuid4().int % 1_000_000)
    set_up_company(stack.fortnox.add_tenant(tenant_id=tenant_id, company_name=company_name))
    if "fortnox_writer" in stack.apps:
        writer_url = stack.url("fortnox_writer", "")
        await connect_through_writer(stack.pool, stack.http, writer_url, shop, tenant_id)
        return shop, tenant_id
    cipher = TokenCipher(stack.settings.token_encryption_keys.get_secret_value())
    store = ConnectionStore(stack.pool, cipher, stack.http, stack.settings)
    await connect_fortnox(
        stack.settings.fortnox_api_url, tenant_id, store, stack.http, stack.settings, shop
    )
    return shop, tenant_id


def order_command(shop: str, order: dict[str, Any]) -> FortnoxCommand:
    """The writer command the mapper makes of an order (to feed the writer directly)."""
    return invoice_command(shop, order, ShopSettings(), event_uid=uuid.uuid4().hex)


@contextlib.asynccontextmanager
async def command_publisher(
    settings: Settings,
) -> AsyncIterator[Callable[[FortnoxCommand], Awaitable[None]]]:
    """Publish writer commands straight to the writer's queue (tests and benchmarks)."""
    connection = await aio_pika.connect_robust(settings.amqp_url)
    async with connection:
        publisher = Publisher(
            connection, Topology(namespace=settings.amqp_namespace).events_exchange
        )
        await publisher.start()

        async def publish(command: FortnoxCommand) -> None:
            await publisher.publish(command, f"fortnox.command.{command.action}")

        try:
            yield publish
        finally:
            await publisher.close()


def service_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment variables that give a service subprocess these settings."""
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        if isinstance(value, tuple | list):
            env[name.upper()] = json.dumps([float(v) for v in value])
        elif isinstance(value, bool):
            env[name.upper()] = "true" if value else "false"
        else:
            env[name.upper()] = str(value)
    env.update(extra)
    return env
