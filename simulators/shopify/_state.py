"""In-memory state of simulated shops: stored REST-shaped payloads, metafields, tags, records."""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .throttle import CostBucket

Payload = dict[str, Any]
MetafieldKey = tuple[str, str, str]  # (owner gid, namespace, key)

# Real Admin API tokens start with shpat_, shpca_, ...: fixtures must never look like them.
_REAL_TOKEN_RE = re.compile(r"^shp[a-z]{2}_")
_GID_RE = re.compile(r"^gid://shopify/(?P<kind>[A-Za-z]+)/(?P<id>\d+)(?:\?.*)?$")

PRIMARY_LOCATION_ID = 81_000_000_001  # every simulated shop's first location ("Lager")
APP_ID = 4_711_000  # id of the simulated app; "$app" namespaces expand to f"app--{APP_ID}"


def gid(kind: str, legacy_id: int | str) -> str:
    return f"gid://shopify/{kind}/{legacy_id}"


def parse_gid(value: object) -> tuple[str, int] | None:
    """Split "gid://shopify/Order/123" into ("Order", 123); None when not a Shopify gid."""
    if not isinstance(value, str):
        return None
    match = _GID_RE.match(value)
    if match is None:
        return None
    return match["kind"], int(match["id"])


def check_token(token: str) -> None:
    if _REAL_TOKEN_RE.match(token):
        raise ValueError(
            "simulator access tokens must not look like real Shopify tokens "
            "(shpat_/shpca_/...); use a prefix such as 'simtok_'"
        )


def split_tags(raw: object) -> list[str]:
    """Shopify accepts a list of tags or one comma-separated string."""
    items: list[object] = list(raw) if isinstance(raw, list | tuple) else [raw]
    tags: list[str] = []
    for item in items:
        if item is None:
            continue
        tags.extend(part.strip() for part in str(item).split(",") if part.strip())
    return tags


def expand_namespace(namespace: str | None) -> str:
    """Expand the app-reserved "$app" prefix the way Shopify does ("app--<app id>")."""
    if namespace is None or namespace == "$app":
        return f"app--{APP_ID}"
    if namespace.startswith("$app:"):
        return f"app--{APP_ID}--{namespace[5:]}"
    return namespace


@dataclass
class MetafieldMeta:
    id: int
    created_at: str


ALL_ORDERS_DAYS = 60
# The access token of the Admin API request being answered (app.py sets it per request).
CALLER_TOKEN: ContextVar[str] = ContextVar("shopify_caller_token", default="")


def _created(order: Payload) -> datetime | None:
    value = order.get("created_at")
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


@dataclass
class PayoutLedger:
    """A shop's Shopify Payments account (kept beside the shop's other state)."""

    payouts: dict[int, Payload] = field(default_factory=dict)
    transactions: dict[int, Payload] = field(default_factory=dict)
    paid_sources: set[tuple[str, int]] = field(default_factory=set)


@dataclass
class ShopState:
    """One simulated shop. Payload stores are keyed by the REST (legacy) integer id."""

    domain: str
    access_token: str
    name: str
    shop_id: int
    bucket: CostBucket
    currency: str = "SEK"
    timezone: str = "Europe/Stockholm"
    orders: dict[int, Payload] = field(default_factory=dict)
    products: dict[int, Payload] = field(default_factory=dict)
    customers: dict[int, Payload] = field(default_factory=dict)
    # (owner gid, namespace, key) -> {"value", "type", "updatedAt"}
    metafields: dict[MetafieldKey, dict[str, str]] = field(default_factory=dict)
    metafield_meta: dict[MetafieldKey, MetafieldMeta] = field(default_factory=dict)
    order_tags: dict[str, list[str]] = field(default_factory=dict)
    product_tags: dict[str, list[str]] = field(default_factory=dict)
    customer_tags: dict[str, list[str]] = field(default_factory=dict)
    # webhookSubscriptionCreate (subscriptions.py): legacy id -> subscription
    webhook_subscriptions: dict[int, Payload] = field(default_factory=dict)
    # Offline tokens granted through OAuth (oauth.py), accepted beside access_token
    granted_tokens: set[str] = field(default_factory=set)
    # Without read_all_orders an app reads only the last 60 days of orders (by created_at):
    # older ones are absent from listings and node look-ups, as in Shopify. A token granted
    # through OAuth (oauth.py) has the scopes it was granted; the shop's preset access_token
    # has read_all_orders when this flag says so.
    read_all_orders: bool = True
    token_scopes: dict[str, frozenset[str]] = field(default_factory=dict)
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # Shopify Payments payouts and balance transactions (payouts.py)
    payments: PayoutLedger = field(default_factory=PayoutLedger)
    # Inventory (inventory.py): locations, available per (inventory item, location), when each
    # level changed, inventory_levels/update payloads not yet handed out, pending races.
    locations: dict[int, str] = field(default_factory=lambda: {PRIMARY_LOCATION_ID: "Lager"})
    inventory: dict[tuple[int, int], int] = field(default_factory=dict)
    inventory_updated: dict[tuple[int, int], str] = field(default_factory=dict)
    inventory_webhooks: list[Payload] = field(default_factory=list)
    inventory_races: dict[tuple[int, int], int] = field(default_factory=dict)
    inventory_group_seq: int = 0
    # The Billing API (billing.py): app subscriptions and usage records by legacy id
    app_subscriptions: dict[int, Payload] = field(default_factory=dict)
    usage_records: dict[int, Payload] = field(default_factory=dict)

    def reads_all_orders(self) -> bool:
        """May the calling token (CALLER_TOKEN) read orders older than 60 days?"""
        granted = self.token_scopes.get(CALLER_TOKEN.get())
        return self.read_all_orders if granted is None else "read_all_orders" in granted

    def readable_orders(self) -> dict[int, Payload]:
        if self.reads_all_orders():
            return self.orders
        oldest = self.now() - timedelta(days=ALL_ORDERS_DAYS)
        return {
            order_id: order
            for order_id, order in self.orders.items()
            if (created := _created(order)) is None or created >= oldest
        }

    def accepts(self, token: str) -> bool:
        """Is this an access token of the shop (constant time against each)?"""
        candidates = [self.access_token, *sorted(self.granted_tokens)]
        return any(hmac.compare_digest(token.encode(), known.encode()) for known in candidates)

    @property
    def gid(self) -> str:
        return gid("Shop", self.shop_id)

    def find_variant(self, variant_id: int) -> tuple[Payload, Payload] | None:
        for product in self.products.values():
            for variant in product.get("variants") or []:
                if variant.get("id") == variant_id:
                    return product, variant
        return None

    def owner_exists(self, owner_gid: object) -> bool:
        parsed = parse_gid(owner_gid)
        if parsed is None:
            return False
        kind, legacy_id = parsed
        if kind == "Order":
            return legacy_id in self.orders
        if kind == "Product":
            return legacy_id in self.products
        if kind == "Customer":
            return legacy_id in self.customers
        if kind == "ProductVariant":
            return self.find_variant(legacy_id) is not None
        if kind == "Shop":
            return legacy_id == self.shop_id
        return False

    def tag_list(self, owner_gid: str) -> list[str] | None:
        """The live tag list of an order, product or customer; None if there is no such owner.
        First use seeds it from the stored payload's comma-separated "tags"."""
        parsed = parse_gid(owner_gid)
        if parsed is None:
            return None
        kind, legacy_id = parsed
        stores = {
            "Order": (self.orders, self.order_tags),
            "Product": (self.products, self.product_tags),
            "Customer": (self.customers, self.customer_tags),
        }
        if kind not in stores or legacy_id not in stores[kind][0]:
            return None
        payloads, tags = stores[kind]
        if owner_gid not in tags:
            tags[owner_gid] = split_tags(payloads[legacy_id].get("tags"))
        return tags[owner_gid]

    def metafields_of(self, owner_gid: str) -> list[tuple[MetafieldKey, dict[str, str]]]:
        return [(key, value) for key, value in self.metafields.items() if key[0] == owner_gid]


@dataclass
class RequestRecord:
    """One request to the Admin GraphQL endpoint, as the simulator saw it."""

    time: float
    shop: str
    operation: str | None
    root_fields: tuple[str, ...]
    cost: int  # points actually charged
    requested_cost: int
    throttled: bool
    status: int
    fault: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["root_fields"] = list(self.root_fields)
        return data
