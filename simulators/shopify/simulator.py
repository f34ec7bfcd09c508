"""ShopifySimulator: the Python API over shops, payloads, faults and the HTTP server."""

from __future__ import annotations

import asyncio
import copy
import itertools
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

from . import inventory
from ._state import Payload, RequestRecord, ShopState, check_token, gid, split_tags
from .app import create_app
from .billing import Billing
from .faults import FaultSet
from .mutations import touch
from .oauth import DEFAULT_APP_SCOPES, OAuthState, RegisteredApp
from .payouts import make_payout
from .subscriptions import topic_enum
from .throttle import CostBucket
from .webhooks import DEFAULT_API_VERSION, Webhook, build_webhook, deliver

SHOP_ID_BASE = 60_000_000_000


def _unwrap(payload: Mapping[str, Any], key: str) -> Payload:
    if not isinstance(payload, Mapping):
        raise TypeError(f"a {key} payload must be a JSON object")
    if set(payload) == {key} and isinstance(payload[key], Mapping):
        payload = payload[key]
    stored = copy.deepcopy(dict(payload))
    legacy_id = stored.get("id")
    if not isinstance(legacy_id, int) or isinstance(legacy_id, bool) or legacy_id <= 0:
        raise ValueError(f"a {key} payload needs a positive integer 'id'")
    return stored


class ShopifySimulator:
    """In-process Shopify Admin GraphQL subset.

    sim = ShopifySimulator(restore_rate=100.0, bucket_size=1000.0)
    sim.add_shop("demo.myshopify.com", access_token="simtok_demo")
    async with sim.serve() as base_url:
        url = sim.admin_url_template(base_url)  # .../shops/{shop}/admin/api/{version}/graphql.json
    """

    def __init__(
        self,
        *,
        restore_rate: float = 100.0,
        bucket_size: float = 1000.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.restore_rate = restore_rate
        self.bucket_size = bucket_size
        self.shops: dict[str, ShopState] = {}
        self.requests: list[RequestRecord] = []
        self.faults = FaultSet()
        self._clock = clock
        self._now = now or (lambda: datetime.now(UTC))
        self._shop_ids = itertools.count(SHOP_ID_BASE + 1)
        self.oauth = OAuthState(clock=time.time)
        # The Billing API (billing.py): its webhooks go to the shop's subscriptions of their
        # topic, signed with webhook_secret (default: the one registered app's secret).
        self.base_url = ""
        self.webhook_secret: str | None = None
        self.billing = Billing(self.now, lambda: self.base_url)
        self.billing_webhooks_sent: list[dict[str, Any]] = []
        self._deliveries: set[asyncio.Task[None]] = set()

    def register_app(
        self,
        client_id: str,
        client_secret: str,
        *,
        scopes: str = DEFAULT_APP_SCOPES,
        exchange_answers_scope: bool = True,
    ) -> RegisteredApp:
        """An app that may install on the shops: OAuth codes are signed with its secret."""
        app = RegisteredApp(client_id, client_secret, scopes, exchange_answers_scope)
        self.oauth.apps[client_id] = app
        return app

    def uninstall_app(self, domain: str) -> None:
        """The merchant removes the app: granted tokens stop working, subscriptions go."""
        shop = self.shop(domain)
        shop.granted_tokens.clear()
        shop.token_scopes.clear()
        shop.webhook_subscriptions.clear()
        self.oauth.forget(shop.domain)

    def now(self) -> datetime:
        return self._now()

    def _secret(self) -> str | None:
        if self.webhook_secret is not None:
            return self.webhook_secret
        apps = list(self.oauth.apps.values())
        return apps[0].client_secret if len(apps) == 1 else None

    def send_billing_webhooks(self) -> None:
        """Deliver the billing webhooks the last change made, in the background (as Shopify
        does: after the answer, at least once)."""
        outgoing, self.billing.outgoing = self.billing.outgoing, []
        for domain, topic, payload in outgoing:
            shop = self.shops[domain]
            urls = [
                str(sub["uri"])
                for sub in shop.webhook_subscriptions.values()
                if sub["topic"] == topic_enum(topic)
            ]
            record: dict[str, Any] = {
                "shop": domain,
                "topic": topic,
                "payload": payload,
                "statuses": [],
            }
            self.billing_webhooks_sent.append(record)
            secret = self._secret()
            if not urls or secret is None:
                continue
            hook = build_webhook(topic, domain, payload, secret)
            task = asyncio.get_running_loop().create_task(self._deliver(urls, hook, record))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)

    async def _deliver(self, urls: list[str], hook: Webhook, record: dict[str, Any]) -> None:
        async with aiohttp.ClientSession() as session:
            for url in urls:
                for _attempt in range(5):
                    statuses = await deliver(session, url, hook)
                    record["statuses"].extend(statuses)
                    if 200 <= statuses[0] < 300:
                        break
                    await asyncio.sleep(0.2)

    async def drain_webhooks(self) -> None:
        """Wait until the billing webhooks sent so far were delivered (tests)."""
        while self._deliveries:
            await asyncio.gather(*list(self._deliveries), return_exceptions=True)

    def add_shop(
        self,
        domain: str,
        access_token: str | None = None,
        *,
        name: str | None = None,
        currency: str = "SEK",
        restore_rate: float | None = None,
        bucket_size: float | None = None,
        read_all_orders: bool = True,
    ) -> ShopState:
        key = domain.lower()
        if key in self.shops:
            raise ValueError(f"shop {domain} already exists")
        token = access_token or f"simtok_{secrets.token_hex(16)}"
        check_token(token)
        bucket = CostBucket(
            self.bucket_size if bucket_size is None else bucket_size,
            self.restore_rate if restore_rate is None else restore_rate,
            self._clock,
        )
        shop = ShopState(
            domain=key,
            access_token=token,
            name=name or key.split(".")[0].replace("-", " ").title(),
            shop_id=next(self._shop_ids),
            bucket=bucket,
            currency=currency,
            read_all_orders=read_all_orders,
            now=self.now,
        )
        self.shops[key] = shop
        return shop

    def shop(self, domain: str) -> ShopState:
        try:
            return self.shops[domain.lower()]
        except KeyError:
            raise KeyError(f"no simulated shop {domain!r}") from None

    def add_order(self, shop_domain: str, payload: Mapping[str, Any]) -> str:
        """Store (or replace) an order from its REST payload; returns its gid. Tags added
        through the API since are kept. No webhook is sent (``order_webhook`` builds one), so
        this is also an order whose webhooks Shopify never delivered."""
        shop = self.shop(shop_domain)
        order = _unwrap(payload, "order")
        order_gid = order.setdefault("admin_graphql_api_id", gid("Order", order["id"]))
        tags = split_tags(order.get("tags"))
        known = {t.lower() for t in tags}
        tags += [t for t in shop.order_tags.get(order_gid, []) if t.lower() not in known]
        order["tags"] = ", ".join(tags)
        shop.orders[order["id"]] = order
        shop.order_tags[order_gid] = tags
        return str(order_gid)

    def add_refund(self, shop_domain: str, order_id: int, refund: Mapping[str, Any]) -> str:
        """Refund a stored order (its REST refund payload joins the order's ``refunds``) and
        move the order's updated_at forward, as Shopify does; no webhook is sent (the app's
        reconciliation tests use it for a refunds/create that never came). Returns its gid."""
        order = self.shop(shop_domain).orders[order_id]
        stored = _unwrap(refund, "refund")
        stored.setdefault("order_id", order_id)
        stored.setdefault("admin_graphql_api_id", gid("Refund", stored["id"]))
        refunds = [r for r in order.get("refunds") or [] if r.get("id") != stored["id"]]
        order["refunds"] = [*refunds, stored]
        touch(order, self.now())
        return str(stored["admin_graphql_api_id"])

    def add_product(self, shop_domain: str, payload: Mapping[str, Any]) -> str:
        shop = self.shop(shop_domain)
        product = _unwrap(payload, "product")
        product_gid = product.setdefault("admin_graphql_api_id", gid("Product", product["id"]))
        for variant in product.get("variants") or []:
            variant.setdefault("admin_graphql_api_id", gid("ProductVariant", variant["id"]))
        shop.products[product["id"]] = product
        shop.product_tags.pop(str(product_gid), None)
        inventory.seed_levels(shop, product)
        return str(product_gid)

    # --- inventory (inventory.py) ---------------------------------------------------------
    def add_location(self, shop_domain: str, name: str) -> int:
        shop = self.shop(shop_domain)
        location = max(shop.locations) + 1
        shop.locations[location] = name
        return location

    def set_available(
        self, shop_domain: str, item: int, available: int, location: int | None = None
    ) -> None:
        """The merchant edits a level in Shopify admin (an inventory_levels/update follows)."""
        shop = self.shop(shop_domain)
        where = location if location is not None else min(shop.locations)
        inventory.set_level(shop, (item, where), available, inventory.now_text(self.now()))

    def sell(self, shop_domain: str, item: int, quantity: int, location: int | None = None) -> int:
        """A sale takes ``quantity`` from a level; returns the new available quantity."""
        shop = self.shop(shop_domain)
        where = location if location is not None else min(shop.locations)
        left = shop.inventory.get((item, where), 0) - quantity
        inventory.set_level(shop, (item, where), left, inventory.now_text(self.now()))
        return left

    def race_next_write(
        self, shop_domain: str, item: int, delta: int, location: int | None = None
    ) -> None:
        """A sale (delta < 0) lands just before the next inventorySetQuantities of the level."""
        shop = self.shop(shop_domain)
        where = location if location is not None else min(shop.locations)
        shop.inventory_races[(item, where)] = delta

    def available(self, shop_domain: str, item: int, location: int | None = None) -> int:
        shop = self.shop(shop_domain)
        return shop.inventory.get(
            (item, location if location is not None else min(shop.locations)), 0
        )

    def take_inventory_webhooks(self, shop_domain: str) -> list[Payload]:
        """The inventory_levels/update payloads queued since the last call."""
        shop = self.shop(shop_domain)
        payloads, shop.inventory_webhooks = shop.inventory_webhooks, []
        return payloads

    def add_customer(self, shop_domain: str, payload: Mapping[str, Any]) -> str:
        shop = self.shop(shop_domain)
        customer = _unwrap(payload, "customer")
        customer_gid = customer.setdefault("admin_graphql_api_id", gid("Customer", customer["id"]))
        shop.customers[customer["id"]] = customer
        shop.customer_tags.pop(str(customer_gid), None)
        return str(customer_gid)

    def make_payout(self, shop_domain: str, **options: Any) -> Payload:
        """Pay out the shop's Shopify Payments charges and refunds not paid out yet (see
        payouts.py for the options); returns the REST payout. No webhook: Shopify has none."""
        shop = self.shop(shop_domain)
        return make_payout(shop, shop.payments, now=self.now(), **options)

    def order_webhook(
        self,
        shop_domain: str,
        order_id: int,
        secret: str,
        *,
        topic: str = "orders/create",
        **options: Any,
    ) -> Webhook:
        """A signed webhook carrying the stored REST payload of an order."""
        shop = self.shop(shop_domain)
        return build_webhook(topic, shop.domain, shop.orders[order_id], secret, **options)

    @staticmethod
    def admin_url_template(base_url: str) -> str:
        return f"{base_url.rstrip('/')}/shops/{{shop}}/admin/api/{{version}}/graphql.json"

    def graphql_url(
        self, base_url: str, shop_domain: str, api_version: str = DEFAULT_API_VERSION
    ) -> str:
        template = self.admin_url_template(base_url)
        return template.replace("{shop}", shop_domain).replace("{version}", api_version)

    @asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Run the HTTP server (port 0: any free port) and yield its base URL."""
        runner = web.AppRunner(create_app(self), access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            bound_port = runner.addresses[0][1]
            shown = f"[{host}]" if ":" in host else host
            self.base_url = f"http://{shown}:{bound_port}"
            yield self.base_url
        finally:
            await runner.cleanup()
