"""Connecting Fortnox from the Get started page.

The connect flow is being rebuilt (branch ``sec``): ``POST /auth/fortnox/start.json`` with the
session token and ``{"features": [...], "switch_company": false}`` answers ``{"launch_url",
"expires_in"}``; the page opens ``launch_url`` top-level; it redirects to Fortnox, back to
``/auth/fortnox/callback``, and then to ``{SHOPIFY_APP_URL}/app/`` with a success flag or an
error code. The page's side of that contract is tested here now; the whole flow through the
writer waits for it (skipped below, with the reason).
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
    await tab.page.goto(app.app_url("/app/?fortnox_error=access_denied"))
    await expect(tab.page.get_by_text("Fortnox was not connected")).to_be_visible()
    await expect(tab.page.get_by_text("(access_denied)")).to_be_visible()
    await expect(step(tab, "fortnox")).to_have_attribute("data-state", "todo")
    await tab.shot("get-started-connect-refused")


@pytest.mark.skip(
    reason="needs the rebuilt Fortnox connect flow (branch sec: POST /auth/fortnox/start.json, "
    "GET /auth/fortnox/launch, the callback redirecting to the app's Get started page and the "
    "company name in connection.json); main does not have it yet"
)
async def test_connect_fortnox_from_get_started_through_the_writer(
    app_factory: AppFactory, browse: BrowseFactory
) -> None:
    app = await app_factory(fortnox_connected=False)
    tab = await browse(app)
    fortnox = step(tab, "fortnox")
    await expect(fortnox).to_have_attribute("data-state", "todo")
    # Launch, Fortnox's consent (the simulator consents for its only company), the callback,
    # and back on Get started.
    await fortnox.get_by_role("button", name="Connect Fortnox").click()
    await expect(tab.page.get_by_text("Fortnox is connected")).to_be_visible(timeout=WAIT_MS)
    await expect(fortnox).to_have_attribute("data-state", "done")
    await expect(fortnox).to_contain_text("Connected to Demo AB")
    await tab.shot("get-started-connected")
    order = sample_order()
    await app.stack.send_order(order)
    await app.stack.wait_for(lambda: len(app.stack.invoices_for(order["id"])) == 1, 30)
