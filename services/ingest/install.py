"""Installing the app on a shop: Shopify's OAuth, or token exchange for the embedded app.

``GET /auth/shopify/install?shop=x.myshopify.com`` answers 302 to the shop's
``/admin/oauth/authorize`` with the app's client id, SHOPIFY_SCOPES, the redirect URI
(SHOPIFY_APP_URL + /auth/shopify/callback) and a signed, expiring state naming the shop.

``GET /auth/shopify/callback`` checks Shopify's hmac over the query (401 when it does not
match), the state (400: forged, altered, expired, other shop), exchanges the code for the
shop's offline token, stores it encrypted (ShopRegistry.install), subscribes the webhooks the
shop needs (idempotent: existing subscriptions are read first) and sends the merchant on to
the app in their admin.

``POST /auth/shopify/token_exchange`` (Authorization: Bearer <session token>) does the same
for the embedded app: the session token is exchanged for an offline token, no redirects.

The code, the state and Shopify's hmac never reach a log line or a span (libs/common/http.py
logs and traces paths without query strings); the redirects carry ``Referrer-Policy:
no-referrer``.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web

from libs.common.access.session_token import SessionTokenError, shop_of_session_token
from libs.common.errors import PermanentError, TransientError
from libs.common.http import json_error
from libs.common.logs import get_logger
from libs.common.service import Runtime, runtime_of
from libs.common.settings import Settings
from libs.common.shopify_admin import ShopifyAdmin
from services.ingest.lifecycle import registry_of
from services.ingest.shopify_oauth import (
    INVENTORY_TOPICS,
    WEBHOOK_TOPICS,
    InstallError,
    admin_base_url,
    authorize_url,
    missing_scopes,
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
    state = sign_state(shop, _secret(settings), settings.shopify_state_ttl_seconds)
    location = authorize_url(
        admin_base_url(settings.shopify_admin_url, shop),
        client_id=settings.shopify_api_key,
        scopes=settings.shopify_scopes,
        redirect_uri=_app_url(settings, CALLBACK_PATH),
        state=state,
    )
    log.info("install started", shop=shop)
    raise web.HTTPFound(location, headers=NO_REFERRER)


async def callback(request: web.Request) -> web.Response:
    """GET: Shopify's redirect after the merchant approved."""
    runtime = runtime_of(request)
    secret = _secret(runtime.settings)
    try:
        params = verify_callback_query(request.query.items(), secret)
        verify_state(params["state"], secret, params["shop"])
        shop = params["shop"]
        token, scope = await _request_token(
            runtime, shop, {"code": params["code"]}, "the authorization code"
        )
    except InstallError as exc:
        log.warning("install callback refused", status=exc.status, reason=str(exc))
        return json_error(exc.status, str(exc))
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
        token, scope = await _request_token(runtime, shop, grant, "the session token")
    except InstallError as exc:
        log.warning("token exchange refused", shop=shop, status=exc.status, reason=str(exc))
        return json_error(exc.status, str(exc))
    failure = await _complete(runtime, shop, token, scope)
    if failure is not None:
        return failure
    return web.json_response({"shop": shop, "status": "installed", "scope": scope})


async def _request_token(
    runtime: Runtime, shop: str, grant: dict[str, str], what: str
) -> tuple[str, str]:
    """POST {shop admin}/oauth/access_token; returns (offline token, granted scope)."""
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
    return str(answer["access_token"]), str(answer.get("scope", ""))


async def _complete(runtime: Runtime, shop: str, token: str, scope: str) -> web.Response | None:
    """Store the token and subscribe the webhooks; an error answer if the latter failed."""
    missing = missing_scopes(runtime.settings.shopify_scopes, scope)
    if missing:
        log.warning("install granted fewer scopes", shop=shop, missing=missing)
    await registry_of(runtime).install(shop, token, scope)
    try:
        outcome = await subscribe_webhooks(runtime, shop, token)
    except (PermanentError, TransientError) as exc:
        log.warning("webhook subscription failed", shop=shop, error=str(exc))
        return json_error(
            502,
            f"{shop} is installed, but its webhooks could not be subscribed ({exc}); "
            "open the install link again to retry.",
        )
    log.info("shop installed", shop=shop, scope=scope, **outcome)
    return None


async def subscribe_webhooks(runtime: Runtime, shop: str, token: str) -> dict[str, list[str]]:
    """Create the subscriptions the shop lacks (topic + our callback URL); never duplicates."""
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
    scopes = {s.strip() for s in settings.shopify_scopes.split(",")}
    topics = WEBHOOK_TOPICS + (INVENTORY_TOPICS if "read_inventory" in scopes else ())
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
