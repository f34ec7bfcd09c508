"""Connecting Fortnox from the Get started page, through the writer's connect flow.

``POST /auth/fortnox/start.json`` with the session token and ``{"features": [...],
"switch_company": false}`` answers ``{"launch_url", "expires_in"}``; the page opens
``launch_url`` top-level; the writer sets its cookie and sends the browser to Fortnox (the
simulator consents for its only company), Fortnox back to ``/auth/fortnox/callback``, and the
writer on to ``{SHOPIFY_APP_URL}/app/?fortnox=connected`` (or ``?fortnox=error&reason=...``).
Everything goes through the development gateway, one origin as the Ingress makes it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.async_api import Route, expect

from fortbridge.devserver import sample_order
from tests.app.conftest import WAIT_MS, AppFactory, BrowseFactory

pytestmark = pytest.mark.slow
START = "**/auth/fortnox/start.json"


def step(tab: Any, name: str) -> Any:
    return tab.page.locator(f"[data-step='{name}']")


async def test_connect_asks_for_a_launch_url_and_opens_it_top_level(
    app_factory: AppFactory, browse: BrowseFactory
) -> None:
    app = await app_factory(fortnox_connected=False)
    tab = await browse(app)
    fortnox = step(tab, "fortnox")
    await expect(fortnox).to_have_attribute("data-state", "todo")
    await expect(fortnox).to_contain_text("Sign in to Fortnox and allow Fortbridge")
    await tab.shot("get-started-not-connected")
    await tab.check_accessibility("Get started, not connected")

    asked: list[dict[str, Any]] = []

    async def start(route: Route) -> None:
        request = route.request
        asked.append(
            {
                "method": request.method,
                "body": json.loads(request.post_data or "{}"),
                "bearer": (request.headers.get("authorization") or "").startswith("Bearer ey"),
            }
        )
        # Stands in for the writer: a launch URL that (after Fortnox) lands back on the app.
        launch = app.app_url("/app/?fortnox=connected")
        await route.fulfill(
            status=200,
            content_type="application/json",
            body=json.dumps({"launch_url": launch, "expires_in": 300}),
        )

    await tab.page.route(START, start)
    await fortnox.get_by_role("button", name="Connect Fortnox").click()
    await expect(tab.page.get_by_text("Fortnox is connected")).to_be_visible()
    assert asked == [
        {
            "method": "POST",
            "body": {"features": ["invoices", "payments"], "switch_company": False},
            "bearer": True,
        }
    ]
    # The flag is read once: the address no longer carries it.
    assert "fortnox=" not in tab.page.url


async def test_coming_back_with_an_error_says_so(
    app_factory: AppFactory, browse: BrowseFactory
) -> None:
    app = await app_factory(fortnox_connected=False)
    tab = await browse(app)
    await tab.page.goto(app.app_url("/app/?fortnox=error&reason=denied"))
    await expect(tab.page.get_by_text("Fortnox was not connected")).to_be_visible()
    await expect(tab.page.get_by_text("(you did not allow Fortbridge in Fortnox)")).to_be_visible()
    await expect(step(tab, "fortnox")).to_have_attribute("data-state", "todo")
    await tab.shot("get-started-connect-refused")


async def test_connect_fortnox_from_get_started_through_the_writer(
    app_factory: AppFactory, browse: BrowseFactory
) -> None:
    app = await app_factory(fortnox_connected=False)
    tab = await browse(app)
    fortnox = step(tab, "fortnox")
    await expect(fortnox).to_have_attribute("data-state", "todo")
    # Launch, Fortnox's consent (the simulator consents for its only company), the callback,
    # and back on Get started.
    order = sample_order()  # an order that comes before Fortnox is connected waits for it
    await app.stack.send_order(order)
    fortnox_pages: list[str] = []
    tab.page.on(
        "request",
        lambda r: fortnox_pages.append(r.url) if "/oauth-v1/auth" in r.url else None,
    )
    await fortnox.get_by_role("button", name="Connect Fortnox").click()
    await expect(tab.page.get_by_text("Fortnox is connected")).to_be_visible(timeout=WAIT_MS)
    assert len(fortnox_pages) == 1  # the browser itself went to Fortnox's consent page
    assert "fortnox=" not in tab.page.url
    await expect(fortnox).to_have_attribute("data-state", "done")
    await expect(fortnox).to_contain_text("Connected to Demo AB")
    await tab.shot("get-started-connected")
    await tab.check_accessibility("Get started, connected")
    # The waiting order goes on to Fortnox by itself.
    await app.stack.wait_for(lambda: len(app.stack.invoices_for(order["id"])) == 1, 30)


async def test_switching_company_is_never_silent_and_held_syncs_go_where_the_merchant_says(
    app_factory: AppFactory, browse: BrowseFactory
) -> None:
    app = await app_factory()
    stack = app.stack
    stack.fortnox.revoke(stack.tenant_id)  # the first company's connection stops working
    waiting = sample_order()
    await stack.send_order(waiting)
    tab = await browse(app)
    page = tab.page
    fortnox = step(tab, "fortnox")
    await expect(fortnox).to_have_attribute("data-state", "attention", timeout=WAIT_MS)
    other = str(int(stack.tenant_id) + 1)
    stack.fortnox.add_tenant(tenant_id=other, company_name="Other AB")
    stack.fortnox.default_tenant_for_consent = other  # the merchant signs in to another company

    # Reconnecting is not switching: Fortnox's other company is refused, and the page says so.
    await fortnox.get_by_role("button", name="Reconnect Fortnox").click()
    refused = page.get_by_text("You signed in to another Fortnox company")
    await expect(refused).to_be_visible(timeout=WAIT_MS)
    await tab.shot("connect-other-company-refused")
    await page.get_by_role("button", name="Switch to the other company").click()
    await page.get_by_role("dialog").get_by_role("button", name="Switch company").click()
    await expect(page.get_by_text("Fortnox is connected to the new company")).to_be_visible(
        timeout=WAIT_MS
    )
    await expect(fortnox).to_contain_text("Connected to Other AB")
    # The order made for the first company is held back until the merchant decides.
    await expect(fortnox).to_contain_text("1 sync was made for the Fortnox company you used before")
    await expect(fortnox).to_have_attribute("data-state", "attention")  # a decision is needed
    await tab.shot("switched-held-back")
    await tab.check_accessibility("Get started, held back")
    assert stack.invoices_for(waiting["id"]) == []
    await fortnox.get_by_role("button", name="Send to Other AB").click()
    await expect(fortnox).not_to_contain_text("held back", timeout=WAIT_MS)
    await expect(fortnox).to_have_attribute("data-state", "done")
    await stack.wait_for(
        lambda: any(
            i.get("ExternalInvoiceReference1") == f"shopify-{waiting['id']}"
            for i in stack.fortnox.tenant(other).invoices.values()
        ),
        30,
    )
