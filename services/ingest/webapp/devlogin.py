"""The development login: outside Shopify admin, the app signs in as a shop with a session token
made exactly as Shopify makes them (HS256, the app's client secret, a minute's life), so every
admin endpoint treats the local browser as that shop's staff.

``POST /app/dev/session_token.json`` ``{"shop": "name.myshopify.com"}`` answers
``{"session_token", "shop", "expires_in"}``. Only with ``APP_DEV_LOGIN=true`` (off by default;
settings refuse it unless ``SHOPIFY_APP_URL`` is a loopback address) and only for callers on
this machine; otherwise 404, as if it did not exist.
"""

from __future__ import annotations

import ipaddress
import json

from aiohttp import web

from libs.common.access.session_token import issue_session_token
from libs.common.http import json_error
from libs.common.service import runtime_of
from services.ingest.shopify_oauth import valid_shop

PATH = "/app/dev/session_token.json"
TOKEN_SECONDS = 60
OFF = "not found (the development login is off: APP_DEV_LOGIN)"


def _from_loopback(request: web.Request) -> bool:
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


async def session_token(request: web.Request) -> web.Response:
    settings = runtime_of(request).settings
    if not settings.app_dev_login or not _from_loopback(request):
        return json_error(404, OFF)
    try:
        body = json.loads(await request.read() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return json_error(400, "the body is not valid JSON")
    shop = str(body.get("shop", "")).strip().lower() if isinstance(body, dict) else ""
    if not valid_shop(shop):
        return json_error(400, "shop: a shop domain like example.myshopify.com is required")
    token = issue_session_token(
        shop,
        secret=settings.shopify_api_secret.get_secret_value(),
        audience=settings.shopify_api_key,
        ttl_seconds=TOKEN_SECONDS,
    )
    return web.json_response(
        {"session_token": token, "shop": shop, "expires_in": TOKEN_SECONDS},
        headers={"Cache-Control": "no-store"},
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post(PATH, session_token)
