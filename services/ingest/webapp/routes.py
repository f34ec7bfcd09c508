"""Serving the app's pages: ``/app/`` (every page: the app routes in the browser) and its assets.

The page is the built ``index.html`` with two things filled in per request:

- when Shopify admin opens the app (``?embedded=1&shop=<name>.myshopify.com&host=...``), the
  ``shopify-api-key`` meta tag and App Bridge (``https://cdn.shopify.com/shopifycloud/
  app-bridge.js``, the first script, as Shopify requires); outside Shopify admin nothing is
  loaded from a CDN;
- the app's configuration as JSON (client id, whether embedded, the shop, whether the
  development login is on).

Headers: ``Content-Security-Policy`` (``frame-ancestors https://{shop} https://admin.shopify.com``
when embedded, ``'none'`` otherwise; scripts only from this origin, and Shopify's CDN when
embedded), ``Cache-Control: no-store`` on the page and one year ``immutable`` on the assets
(their names carry a content hash).
"""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from aiohttp import web

from libs.common.service import runtime_of
from libs.common.settings import Settings
from services.ingest.shopify_oauth import valid_shop

STATIC_DIR = Path(__file__).parent / "static"
APP_BRIDGE = "https://cdn.shopify.com/shopifycloud/app-bridge.js"
SHOPIFY_FONTS = "https://cdn.shopify.com/static/fonts/inter/v4/styles.css"
HEAD_MARK = "<!--fortbridge:head-->"
IMMUTABLE = "public, max-age=31536000, immutable"
NOT_BUILT = (
    "The app's pages are not built. Run scripts/setup.sh (it runs npm ci and npm run build in "
    "services/ingest/webapp/frontend), then reload."
)


@dataclass(frozen=True)
class Pages:
    """Where the built pages are (tests serve a directory of their own)."""

    directory: Path


PAGES = web.AppKey("app_pages", Pages)


@dataclass(frozen=True)
class Opening:
    """How the page was opened: inside Shopify admin (for a shop), or on its own."""

    embedded: bool
    shop: str | None
    host: str | None

    @classmethod
    def of(cls, request: web.Request) -> Opening:
        shop = request.query.get("shop", "").strip().lower()
        shop_ok = valid_shop(shop)
        embedded = request.query.get("embedded") == "1" and shop_ok
        host = request.query.get("host") or None
        return cls(embedded, shop if shop_ok else None, host if embedded else None)


def content_security_policy(opening: Opening) -> str:
    shopify = " https://cdn.shopify.com" if opening.embedded else ""
    ancestors = (
        f"https://{opening.shop} https://admin.shopify.com" if opening.embedded else "'none'"
    )
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self'{shopify}",
            # Polaris sets inline style attributes (CSS custom properties).
            f"style-src 'self' 'unsafe-inline'{shopify}",
            f"font-src 'self'{shopify}",
            f"img-src 'self' data:{shopify}",
            "connect-src 'self'" + (" https://*.shopify.com" if opening.embedded else ""),
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            f"frame-ancestors {ancestors}",
        ]
    )


def page_config(settings: Settings, opening: Opening) -> dict[str, Any]:
    return {
        "apiKey": settings.shopify_api_key,
        "embedded": opening.embedded,
        "shop": opening.shop,
        "host": opening.host,
        "devLogin": settings.app_dev_login,
    }


def render(template: str, settings: Settings, opening: Opening) -> str:
    """The page for this opening; App Bridge goes first in <head>, before any other script."""
    config = json.dumps(page_config(settings, opening)).replace("<", "\\u003c")
    head = []
    if opening.embedded:
        head += [
            f'<meta name="shopify-api-key" content="{escape(settings.shopify_api_key)}" />',
            f'<script src="{APP_BRIDGE}"></script>',
            f'<link rel="stylesheet" href="{SHOPIFY_FONTS}" />',
        ]
    head.append(f'<script type="application/json" id="fortbridge-config">{config}</script>')
    return template.replace(HEAD_MARK, "\n    ".join(head), 1)


def _security_headers(response: web.StreamResponse) -> None:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"


async def page(request: web.Request) -> web.StreamResponse:
    """Every page of the app (the browser routes among them)."""
    settings = runtime_of(request).settings
    index = request.app[PAGES].directory / "index.html"
    if not index.is_file():
        return web.Response(status=503, text=NOT_BUILT, headers={"Cache-Control": "no-store"})
    opening = Opening.of(request)
    response = web.Response(
        text=render(index.read_text(encoding="utf-8"), settings, opening),
        content_type="text/html",
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": content_security_policy(opening),
        },
    )
    _security_headers(response)
    return response


async def app_root(request: web.Request) -> web.StreamResponse:
    location = request.rel_url.with_path("/app/")
    raise web.HTTPMovedPermanently(str(location))


async def asset(request: web.Request) -> web.StreamResponse:
    """A built asset (a content-hashed name: cached for a year)."""
    assets = (request.app[PAGES].directory / "assets").resolve()
    name = request.match_info["name"]
    path = (assets / name).resolve()
    if "/" in name or "\\" in name or not path.is_relative_to(assets) or not path.is_file():
        raise web.HTTPNotFound(text="no such asset")
    response = web.FileResponse(path, headers={"Cache-Control": IMMUTABLE})
    kind, _ = mimetypes.guess_type(name)
    if kind:
        response.content_type = kind
    _security_headers(response)
    return response


def add_routes(app: web.Application, directory: Path = STATIC_DIR) -> None:
    app[PAGES] = Pages(directory)
    app.router.add_get("/app", app_root)
    app.router.add_get("/app/assets/{name}", asset)
    app.router.add_get("/app/", page)
    app.router.add_get("/app/{page:.+}", page)
