"""Installing the app on a shop: Shopify's OAuth, or token exchange for the embedded app.

``GET /auth/shopify/install?shop=x.myshopify.com`` answers 302 to the shop's
``/admin/oauth/authorize`` with the app's client id, SHOPIFY_SCOPES (with ``&add=``, optional
scopes a feature needs on top: libs/common/shopify_scopes.py), the redirect URI
(SHOPIFY_APP_URL + /auth/shopify/callback) and a signed, expiring state naming the shop.

``GET /auth/shopify/callback`` checks Shopify's hmac over the query (401 when it does not
match), the state (400: forged, altered, expired, other shop), exchanges the code for the
shop's offline token, stores it encrypted (ShopRegistry.install), subscribes the webhooks the
shop needs (idempotent: existing subscriptions are read first) and sends the merchant on to
the app in their admin.

``POST /auth/shopify/token_exchange`` (Authorization: Bearer <session token>) does the same
for the embedded app: the session token is exchanged for an offline token, no redirects.

The scopes stored with the token are the ones Shopify says it has, never assumed: the token
response's ``scope``; an answer without ``scope`` (shopify.md does not say a token exchange's
answer carries one) is followed by ``currentAppInstallation { accessScopes { handle } }`` with
the new token, and if that cannot be read either, no scopes are recorded (unknown: features are
not second-guessed) rather than SHOPIFY_SCOPES guessed. docs/simulators.md, *Token exchange*.

The code, the state and Shopify's hmac never reach a log line or a span (libs/common/http.py
logs and traces paths without query strings); the redirects carry ``Referrer-Policy:
no-referrer``.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web

from libs.common.access.session_token import SessionTokenError, shop_of_session_token
from libs.common.errors import HandlerError, PermanentError, TransientError
from libs.common.http import json_error
from libs.common.logs import get_logger
from libs.common.service import Runtime, runtime_of
from libs.common.settings import Settings
from libs.common.shopify_admin import ShopifyAdmin
from libs.common.shopify_scopes import missing_scopes, parse_added, requested_scopes
from services.ingest.lifecycle import registry_of
from services.ingest.shopify_oauth import (
    INVENTORY_TOPICS,
    WEBHOOK_TOPICS,
    InstallError,
    admin_base_url,
    authorize_url,
    sign_state,
    topic_enum,
    valid_shop,
    verify_callback_query,
    verify_state,
)

log = get_logger(__name__)

CALLBACK_PATH = "/auth/shopify/callback"
WEBHOOK_PATH = "/webhooks/shopify"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN = "urn:shopify:params:oauth:token-type:offline-access-token"

LIST_SUBSCRIPTIONS = """
query FortbridgeWebhookSubscriptions($first: Int!, $after: String) {
  webhookSubscriptions(first: $first, after: $after) {
    nodes { id topic endpoint { __typename ... on WebhookHttpEndpoint { callbackUrl } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
CREATE_SUBSCRIPTION = """
mutation FortbridgeWebhookSubscriptionCreate(
  $topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!
) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic }
    userErrors { field message }
  }
}
"""
ACCESS_SCOPES = """
query FortbridgeAccessScopes { currentAppInstallation { accessScopes { handle } } }
"""
PAGE_SIZE = 100
# The callback's URL carries Shopify's code, hmac and our state: the browser must not send it on
# as the Referer of the next page (nor keep the answer in a cache).
NO_REFERRER = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def _app_url(settings: Settings, path: str) -> str:
    return settings.shopify_app_url.rstrip("/") + path


def _secret(settings: Settings) -> str:
    return settings.shopify_api_secret.get_secret_value()


async def start_install(request: web.Request) -> web.Response:
    """GET: send the merchant to Shopify to approve the install."""
    runtime = runtime_of(request)
    settings = runtime.settings
    shop = request.query.get("shop", "").strip().lower()
    if not valid_shop(shop):
        return json_error(400, "shop must be the store's name.myshopify.com domain")
    try:
        added = parse_added(request.query.get("add", ""))
    except ValueError as exc:
        return json_error(400, str(exc))
    state = sign_state(shop, _secret(settings), settings.shopify_state_ttl_seconds)
    location = authorize_url(
        admin_base_url(settings.shopify_admin_url, shop),
        client_id=settings.shopify_api_key,
        scopes=requested_scopes(settings, added),
        redirect_uri=_app_url(settings, CALLBACK_PATH),
        state=state,
    )
    log.info("install started", shop=shop, added=added)
    raise web.HTTPFound(location, headers=NO_REFERRER)


async def callback(request: web.Request) -> web.Response:
    """GET: Shopify's redirect after the merchant approved."""
    runtime = runtime_of(request)
    secret = _secret(runtime.settings)
    try:
        params = verify_callback_query(request.query.items(), secret)
        verify_state(params["state"], secret, params["shop"])
        shop = params["shop"]
        token, answered = await _request_token(
            runtime, shop, {"code": params["code"]}, "the authorization code"
        )
    except InstallError as exc:
        log.warning("install callback refused", status=exc.status, reason=str(exc))
        return json_error(exc.status, str(exc))
    scope = answered if answered is not None else await access_scopes(runtime, shop, token)
    failure = await _complete(runtime, shop, token, scope)
    if failure is not None:
        return failure
    admin = admin_base_url(runtime.settings.shopify_admin_url, shop)
    raise web.HTTPFound(f"{admin}/apps/{runtime.settings.shopify_api_key}", headers=NO_REFERRER)


async def token_exchange(request: web.Request) -> web.Response:
    """POST: the embedded app's session token becomes the shop's offline token."""
    runtime = runtime_of(request)
    settings = runtime.settings
    header = request.headers.get("Authorization", "")
    session_token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    try:
        shop = shop_of_session_token(
            session_token, secret=_secret(settings), audience=settings.shopify_api_key
        )
    except SessionTokenError as exc:
        return json_error(401, str(exc))
    grant = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": session_token,
        "subject_token_type": ID_TOKEN,
        "requested_token_type": OFFLINE_TOKEN,
    }
    try:
        token, answered = await _request_token(runtime, shop, grant, "the session token")
    except InstallError as exc:
        log.warning("token exchange refused", shop=shop, status=exc.status, reason=str(exc))
        return json_error(exc.status, str(exc))
    scope = answered if answered is not None else await access_scopes(runtime, shop, token)
    failure = await _complete(runtime, shop, token, scope)
    if failure is not None:
        return failure
    return web.json_response({"shop": shop, "status": "installed", "scope": scope})


async def _request_token(
    runtime: Runtime, shop: str, grant: dict[str, str], what: str
) -> tuple[str, str | None]:
    """POST {shop admin}/oauth/access_token; returns (offline token, the scope Shopify says it
    has, None when the answer names none)."""
    settings = runtime.settings
    url = admin_base_url(settings.shopify_admin_url, shop) + "/oauth/access_token"
    body = {
        "client_id": settings.shopify_api_key,
        "client_secret": _secret(settings),
        **grant,
    }
    try:
        async with runtime.http.post(url, json=body) as response:
            status = response.status
            answer: Any = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        message = f"Shopify could not be reached to finish the install: {exc}"
        raise InstallError(message, 502) from exc
    if status != 200 or not isinstance(answer, dict) or not answer.get("access_token"):
        detail = answer.get("error_description") if isinstance(answer, dict) else None
        raise InstallError(f"Shopify refused {what} ({status}): {detail or answer}")
    scope = answer.get("scope")
    return str(answer["access_token"]), None if scope is None else str(scope)


async def access_scopes(runtime: Runtime, shop: str, token: str) -> str:
    """The token's scopes as Shopify lists them (``currentAppInstallation.accessScopes``);
    "" (unknown) when they cannot be read."""
    settings = runtime.settings
    admin = ShopifyAdmin(runtime.http, settings.shopify_admin_url, settings.shopify_api_version)
    try:
        data = await admin.graphql(shop, token, "FortbridgeAccessScopes", ACCESS_SCOPES, {})
    except HandlerError as exc:
        log.warning("access scopes not read", shop=shop, error=str(exc))
        return ""
    nodes = (data.get("currentAppInstallation") or {}).get("accessScopes") or []
    return ",".join(str(node["handle"]) for node in nodes if node.get("handle"))


async def _complete(runtime: Runtime, shop: str, token: str, scope: str) -> web.Response | None:
    """Store the token and subscribe the webhooks; an error answer if the latter failed."""
    missing = missing_scopes(runtime.settings.shopify_scopes, scope)
    if missing:
        log.warning("install granted fewer scopes", shop=shop, missing=missing)
    await registry_of(runtime).install(shop, token, scope)
    try:
        outcome = await subscribe_webhooks(runtime, shop, token, scope)
    except (PermanentError, TransientError) as exc:
        log.warning("webhook subscription failed", shop=shop, error=str(exc))
        return json_error(
            502,
            f"{shop} is installed, but its webhooks could not be subscribed ({exc}); "
            "open the install link again to retry.",
        )
    log.info("shop installed", shop=shop, scope=scope, **outcome)
    return None


async def subscribe_webhooks(
    runtime: Runtime, shop: str, token: str, granted: str = ""
) -> dict[str, list[str]]:
    """Create the subscriptions the shop lacks (topic + our callback URL); never duplicates.
    The inventory topics when the grant (else SHOPIFY_SCOPES) has read_inventory."""
    settings = runtime.settings
    admin = ShopifyAdmin(runtime.http, settings.shopify_admin_url, settings.shopify_api_version)
    callback_url = _app_url(settings, WEBHOOK_PATH)
    existing: list[str] = []
    elsewhere: list[str] = []
    after: str | None = None
    while True:
        data = await admin.graphql(
            shop,
            token,
            "FortbridgeWebhookSubscriptions",
            LIST_SUBSCRIPTIONS,
            {"first": PAGE_SIZE, "after": after},
            expected_cost=PAGE_SIZE + 2,
        )
        page = data.get("webhookSubscriptions") or {}
        for node in page.get("nodes") or []:
            url = (node.get("endpoint") or {}).get("callbackUrl")
            (existing if url == callback_url else elsewhere).append(str(node.get("topic")))
        info = page.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            break
        after = info.get("endCursor")
    created: list[str] = []
    inventory = not missing_scopes("read_inventory", granted or settings.shopify_scopes)
    topics = WEBHOOK_TOPICS + (INVENTORY_TOPICS if inventory else ())
    for topic in topics:
        enum = topic_enum(topic)
        if enum in existing:
            continue
        data = await admin.graphql(
            shop,
            token,
            "FortbridgeWebhookSubscriptionCreate",
            CREATE_SUBSCRIPTION,
            {"topic": enum, "webhookSubscription": {"callbackUrl": callback_url, "format": "JSON"}},
        )
        errors = (data.get("webhookSubscriptionCreate") or {}).get("userErrors") or []
        if errors:
            messages = "; ".join(str(error.get("message")) for error in errors)
            raise PermanentError(f"{topic}: {messages}", code="shopify_webhook_subscription")
        created.append(topic)
    if elsewhere:
        # Subscriptions of this app pointing at another address (an old SHOPIFY_APP_URL).
        log.warning("webhook subscriptions to another address", shop=shop, topics=elsewhere)
    return {"created": created, "existing": sorted(existing)}


def add_routes(app: web.Application) -> None:
    app.router.add_get("/auth/shopify/install", start_install)
    app.router.add_get(CALLBACK_PATH, callback)
    app.router.add_post("/auth/shopify/token_exchange", token_exchange)
