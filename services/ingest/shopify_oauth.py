"""The pure parts of the Shopify install: shop names, the signed state, Shopify's query hmac.

No I/O here; ``install.py`` does the HTTP. The state names the shop, expires, carries a nonce
and is signed with a key derived from the app's client secret (HMAC-SHA256), so a callback can
only complete a flow this app started, for the shop it started it for, within the TTL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode

from services.ingest.webhook import SHOP_DOMAIN

# Every topic a shop is subscribed to at install (the privacy topics are declared in the app's
# configuration instead: Shopify does not let apps subscribe to them through the API).
WEBHOOK_TOPICS = (
    "orders/create",
    "orders/updated",
    "orders/edited",
    "orders/paid",
    "orders/fulfilled",
    "orders/cancelled",
    "refunds/create",
    "products/create",
    "products/update",
    "customers/create",
    "customers/update",
    "app/uninstalled",
    # Usage billing (docs/billing.md): the subscription's state and the approaching cap.
    "app_subscriptions/update",
    "app_subscriptions/approaching_capped_amount",
)
# Subscribed too when SHOPIFY_SCOPES asks for read_inventory (the inventory sync needs it; Shopify
# refuses the subscription without the scope).
INVENTORY_TOPICS = ("inventory_levels/update",)
PRIVACY_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")
# A callback's timestamp may run this far ahead of our clock.
CLOCK_SKEW_SECONDS = 90.0


class InstallError(ValueError):
    """A refused install step; ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class InstallState:
    shop: str
    expires_at: float
    nonce: str


def valid_shop(shop: str) -> bool:
    return bool(SHOP_DOMAIN.match(shop))


def topic_enum(topic: str) -> str:
    """``orders/create`` -> ``ORDERS_CREATE`` (GraphQL's WebhookSubscriptionTopic)."""
    return topic.replace("/", "_").upper()


def admin_base_url(admin_url_template: str, shop: str) -> str:
    """The shop's admin base from SHOPIFY_ADMIN_URL (the one place this is derived).

    ``https://{shop}/admin/api/{version}/graphql.json`` -> ``https://{shop}/admin``;
    the simulator's ``http://h/shops/{shop}/admin/api/...`` -> ``http://h/shops/{shop}/admin``.
    """
    url = admin_url_template.replace("{shop}", shop)
    cut = url.find("/admin/api/")
    if cut < 0:
        raise ValueError("SHOPIFY_ADMIN_URL must contain /admin/api/ (the Admin API path)")
    return url[:cut] + "/admin"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _state_key(app_secret: str) -> bytes:
    # A key of its own, so nothing else signed with the app secret can pass as a state.
    return hashlib.sha256(b"fortbridge-shopify-install-state:" + app_secret.encode()).digest()


def sign_state(shop: str, app_secret: str, ttl: float, *, now: float | None = None) -> str:
    issued = time.time() if now is None else now
    body = {"shop": shop, "exp": int(issued + ttl), "nonce": secrets.token_hex(8)}
    payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(_state_key(app_secret), payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(mac)}"


def verify_state(
    state: str, app_secret: str, shop: str, *, now: float | None = None
) -> InstallState:
    """The state's content if it is ours, unaltered, unexpired and for ``shop``."""
    payload, _, mac = state.partition(".")
    expected = _b64(hmac.new(_state_key(app_secret), payload.encode(), hashlib.sha256).digest())
    if not payload or not hmac.compare_digest(mac.encode(), expected.encode()):
        raise InstallError("the state was not issued by this app (forged or altered)")
    try:
        body = json.loads(_unb64(payload))
        parsed = InstallState(str(body["shop"]), float(body["exp"]), str(body["nonce"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise InstallError("the state is malformed") from exc
    if parsed.expires_at < (time.time() if now is None else now):
        raise InstallError("the install took too long and its state expired; start it again")
    if parsed.shop != shop:
        raise InstallError("the state was issued for another shop")
    return parsed


def query_hmac(params: Iterable[tuple[str, str]], app_secret: str) -> str:
    """Shopify's hex HMAC-SHA256 over the query's other parameters, sorted, as ``k=v&k=v``."""
    signed = sorted((k, v) for k, v in params if k not in ("hmac", "signature"))
    message = "&".join(f"{key}={value}" for key, value in signed)
    return hmac.new(app_secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify_callback_query(
    query: Iterable[tuple[str, str]], app_secret: str, *, now: float | None = None
) -> dict[str, str]:
    """Check Shopify's signature of an OAuth callback; returns its parameters."""
    pairs = list(query)
    params = dict(pairs)
    if len(params) != len(pairs):
        raise InstallError("the callback repeats a query parameter")
    signature = params.get("hmac", "")
    expected = query_hmac(pairs, app_secret)
    if not signature or not hmac.compare_digest(signature.lower().encode(), expected.encode()):
        raise InstallError("the callback's hmac does not match: it did not come from Shopify", 401)
    for name in ("code", "shop", "state", "timestamp"):
        if not params.get(name):
            raise InstallError(f"the callback lacks the {name} parameter")
    if not valid_shop(params["shop"]):
        raise InstallError(f"shop must be a name.myshopify.com domain: {params['shop']!r}")
    try:
        stamp = float(params["timestamp"])
    except ValueError as exc:
        raise InstallError("the callback's timestamp is not a number") from exc
    if stamp > (time.time() if now is None else now) + CLOCK_SKEW_SECONDS:
        raise InstallError("the callback's timestamp lies in the future")
    return params


def authorize_url(
    admin_base: str, *, client_id: str, scopes: str, redirect_uri: str, state: str
) -> str:
    """Where the merchant approves the install (an offline token: no per-user grant)."""
    query = urlencode(
        {"client_id": client_id, "scope": scopes, "redirect_uri": redirect_uri, "state": state}
    )
    return f"{admin_base}/oauth/authorize?{query}"
