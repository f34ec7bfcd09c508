"""The app as Shopify admin opens it (``?embedded=1&shop=...&host=...``): App Bridge is loaded
first, the pages call the admin API with its session token, the menu goes to Shopify admin's
sidebar, and a shop Shopify installed the app on gets its access token by token exchange.

App Bridge comes from Shopify's CDN, which tests never reach: the browser is given a stand-in at
that address that answers ``shopify.idToken()`` with a session token signed as Shopify signs
them (the stand-in for Shopify admin around the frame).
"""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import Browser, Request, Route, expect

from libs.common.access.session_token import issue_session_token
from services.ingest.webapp.routes import APP_BRIDGE, SHOPIFY_FONTS
from tests.app.conftest import AppFactory, screenshot_folder, watch

pytestmark = pytest.mark.slow


async def test_inside_shopify_admin_the_app_uses_app_bridge_and_installs_by_token_exchange(
    app_factory: AppFactory, browser: Browser, request: pytest.FixtureRequest
) -> None:
    app = await app_factory()
    settings = app.stack.settings
    app.stack.shopify.register_app(
        settings.shopify_api_key, settings.shopify_api_secret.get_secret_value()
    )
    shop = (
        f"new-{uuid.uuid4().hex[:8]}.myshopify.com"  # Shopify installed the app; we have no token
    )
    app.stack.shopify.add_shop(shop)
    token = issue_session_token(
        shop,
        secret=settings.shopify_api_secret.get_secret_value(),
        audience=settings.shopify_api_key,
        ttl_seconds=600,
    )
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    problems: list[str] = []
    watch(page, problems)
    bridge_calls: list[str] = []

    async def app_bridge(route: Route) -> None:
        bridge_calls.append(route.request.url)
        script = f"window.shopify = {{ idToken: async () => {token!r} }};"
        await route.fulfill(status=200, content_type="text/javascript", body=script)

    async def fonts(route: Route) -> None:
        await route.fulfill(status=200, content_type="text/css", body="")

    await page.route(APP_BRIDGE, app_bridge)
    await page.route(SHOPIFY_FONTS, fonts)
    api_calls: list[Request] = []
    page.on(
        "request",
        lambda r: api_calls.append(r) if "/admin/api/" in r.url or "/auth/" in r.url else None,
    )
    await page.goto(app.app_url(f"/app/?embedded=1&shop={shop}&host=YWRtaW4uc2hvcGlmeS5jb20"))

    first_script = await page.evaluate("() => document.querySelector('head script').src")
    assert first_script == APP_BRIDGE
    await expect(page.locator("[data-step='shopify']")).to_have_attribute("data-state", "done")
    installation = await app.stack.pool.fetchrow(
        "SELECT status FROM shops.installations WHERE shop = $1", shop
    )
    assert installation is not None and installation["status"] == "installed"
    await expect(page.get_by_label("Shop domain")).to_have_count(0)  # no development login
    # The menu is App Bridge's (Shopify admin shows it); the app draws none of its own.
    menu = page.locator("ui-nav-menu a")
    await expect(menu).to_have_count(8)  # the pages of App.tsx, Accounting and Billing included
    assert await menu.first.get_attribute("rel") == "home"
    await expect(page.locator(".Polaris-Navigation")).to_have_count(0)
    await page.screenshot(path=str(screenshot_folder(request) / "01-embedded-get-started.png"))

    assert bridge_calls == [APP_BRIDGE]
    assert any(r.url.endswith("/auth/shopify/token_exchange") for r in api_calls)
    for call in api_calls:
        assert call.headers.get("authorization") == f"Bearer {token}", call.url
    # Only Shopify's App Bridge and fonts came from outside this machine, as stand-ins.
    outside = [p for p in problems if p.startswith("a request off this machine")]
    assert sorted(outside) == sorted(
        f"a request off this machine: {url}" for url in (APP_BRIDGE, SHOPIFY_FONTS)
    )
    assert [p for p in problems if p not in outside] == []
