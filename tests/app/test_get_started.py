"""The Get started page in the browser: a checklist that says what is true, a test order, the
place for the pre-flight findings, keyboard use and accessibility."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.async_api import Route, expect

from simulators.shopify.payloads import LineSpec, order_payload
from tests.app.conftest import WAIT_MS, AppFactory, BrowseFactory, axe_violations
from tests.services.fortnox_writer.test_preflight import grant_every_scope

pytestmark = pytest.mark.slow


def step(tab: Any, name: str) -> Any:
    return tab.page.locator(f"[data-step='{name}']")


async def test_the_checklist_reflects_the_shop_and_a_test_order_reaches_fortnox(
    app_factory: AppFactory, browse: BrowseFactory
) -> None:
    app = await app_factory()
    tab = await browse(app)
    page = tab.page
    await expect(step(tab, "shopify")).to_have_attribute("data-state", "done")
    await expect(step(tab, "fortnox")).to_have_attribute("data-state", "done")
    await expect(step(tab, "fortnox")).to_contain_text("Connected to Demo AB")  # the company
    await expect(step(tab, "settings")).to_have_attribute("data-state", "todo")
    await expect(step(tab, "first-order")).to_have_attribute("data-state", "todo")
    await tab.shot("get-started-new-shop")
    await tab.check_accessibility("Get started")

    await page.get_by_role("button", name="Send a test order").click()
    await expect(step(tab, "first-order")).to_have_attribute("data-state", "done", timeout=WAIT_MS)
    [invoice] = app.stack.invoices()
    await expect(step(tab, "first-order")).to_contain_text(
        f"became Fortnox invoice {invoice.document_number}"
    )
    await expect(step(tab, "first-order")).to_contain_text("is in Fortnox")
    await tab.shot("get-started-after-test-order")


async def test_a_connection_fortnox_refused_says_why_and_offers_to_reconnect(
    app_factory: AppFactory, browse: BrowseFactory
) -> None:
    app = await app_factory()
    app.stack.fortnox.revoke(app.stack.tenant_id)  # the merchant revoked Fortbridge in Fortnox
    await app.stack.send_order(sample_order())
    tab = await browse(app)
    await expect(step(tab, "fortnox")).to_have_attribute("data-state", "attention", timeout=WAIT_MS)
    fortnox = step(tab, "fortnox")
    await expect(fortnox.get_by_role("button", name="Reconnect Fortnox")).to_be_visible()
    await expect(fortnox).to_contain_text("Fortnox needs to be connected again")
    await expect(fortnox).to_contain_text(
        "1 sync is waiting and will run by itself once you reconnect"
    )
    await tab.shot("get-started-reconnect")
    await tab.check_accessibility("Get started, reconnect")


def sample_order() -> dict[str, Any]:
    from fortbridge.devserver import sample_order as order

    return order()


async def test_a_missing_vat_rate_is_found_and_clears_once_added_in_fortnox(
    app_factory: AppFactory, browse: BrowseFactory
) -> None:
    """The pre-flight check for real: the shop sells to Germany at 19 %, which the Fortnox
    company lacks; the Get started page shows the finding with its fix; the merchant adds the
    rate in Fortnox (the simulator's control) and "Check again" clears it."""
    app = await app_factory()
    german = order_payload(lines=[LineSpec("Bier", "10.00", 3, "0.19", "BEER-DE")])
    german["shipping_address"] = {**(german.get("shipping_address") or {}), "country_code": "DE"}
    await app.stack.send_order(german)
    await app.stack.wait_for(lambda: _stored(app, str(german["id"])))
    tab = await browse(app)
    card = step(tab, "preflight")
    await expect(card).to_contain_text("not checked your Fortnox yet")
    await card.get_by_role("button", name="Check now").click()
    await expect(card).to_have_attribute("data-state", "attention", timeout=WAIT_MS)
    await expect(card).to_contain_text("VAT rate 19 % is missing in Fortnox")
    await expect(card).to_contain_text("How to fix it: Fortnox's API cannot add VAT rates")
    await tab.shot("get-started-preflight-vat-missing")
    await tab.check_accessibility("Get started, pre-flight finding")

    app.stack.fortnox.set_vat_rates(app.stack.tenant_id, ["25", "12", "6", "0", "19"])
    await card.get_by_role("button", name="Check again").click()
    await expect(card).not_to_contain_text("VAT rate 19 % is missing", timeout=WAIT_MS)
    await expect(card).to_have_attribute("data-state", "done")
    await tab.shot("get-started-preflight-vat-added")


async def test_a_missing_mode_of_payment_is_created_with_one_click(
    app_factory: AppFactory, browse: BrowseFactory
) -> None:
    app = await app_factory()
    await grant_every_scope(app.stack)  # modes of payment readable (Fortnox's settings scope)
    app.stack.fortnox.tenant(app.stack.tenant_id).modes_of_payment.pop("KLARNA")  # never set up
    await app.stack.pool.execute(
        "INSERT INTO mapper.shop_settings (shop, settings) VALUES ($1, $2::jsonb)",
        app.stack.shop,
        json.dumps({"default_payment_mode": "KLARNA"}),
    )
    tab = await browse(app)
    card = step(tab, "preflight")
    await card.get_by_role("button", name="Check now").click()
    await expect(card).to_contain_text(
        "Mode of payment KLARNA is missing in Fortnox", timeout=WAIT_MS
    )
    await card.get_by_role("button", name="Create KLARNA in Fortnox").click()
    await expect(card).not_to_contain_text("KLARNA is missing", timeout=WAIT_MS)
    await expect(card).to_have_attribute("data-state", "done")
    assert "KLARNA" in app.stack.fortnox.tenant(app.stack.tenant_id).modes_of_payment
    await tab.shot("get-started-preflight-mode-created")


async def _stored(app: Any, order_id: str) -> bool:
    return bool(
        await app.stack.pool.fetchval(
            "SELECT 1 FROM mapper.order_payloads WHERE order_id = $1", order_id
        )
    )


async def test_pre_flight_findings_have_their_place_with_explanation_fix_and_one_click_fix(
    app_factory: AppFactory, browse: BrowseFactory
) -> None:
    """A finding as the API answers it (here intercepted): severity as the banner's tone, the
    fix, and the one-click fix calls what it names."""
    app = await app_factory()
    calls: list[tuple[str, str, Any]] = []
    finding = {
        "id": "vat-19",
        "severity": "error",
        "title": "VAT rate 19 % is missing in Fortnox",
        "explanation": "Your shop sells to Germany at 19 %, which Fortnox does not know.",
        "fix": "Add 19 % under Settings, VAT in Fortnox, or let Fortbridge add it.",
        "fix_action": {"label": "Add 19 % in Fortnox", "method": "POST", "path": "/admin/api/x"},
    }

    async def preflight(route: Route) -> None:
        request = route.request
        calls.append((request.method, request.url, request.headers.get("authorization")))
        body = {"preflight": {"status": "problems", "checked_at": None, "findings": [finding]}}
        await route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    async def fix(route: Route) -> None:
        calls.append((route.request.method, route.request.url, None))
        await route.fulfill(status=200, content_type="application/json", body="{}")

    tab = await browse(app)
    await tab.page.route("**/admin/api/integrations/fortnox/preflight.json", preflight)
    await tab.page.route("**/admin/api/x", fix)
    await tab.page.reload()
    card = step(tab, "preflight")
    await expect(card).to_have_attribute("data-state", "attention")
    await expect(card).to_contain_text("VAT rate 19 % is missing in Fortnox")
    await expect(card).to_contain_text("How to fix it: Add 19 %")
    await tab.shot("get-started-preflight-finding")
    async with tab.page.expect_request("**/admin/api/x") as fixing:
        await card.get_by_role("button", name="Add 19 % in Fortnox").click()
    assert (await fixing.value).method == "POST"
    assert all(c[2] and c[2].startswith("Bearer ") for c in calls if "preflight" in c[1])


async def test_without_the_pre_flight_endpoint_no_empty_step_is_shown(
    app_factory: AppFactory, browse: BrowseFactory
) -> None:
    """An older deployment without the endpoint (404): no empty step."""
    tab = await browse(await app_factory())

    async def missing(route: Route) -> None:
        await route.fulfill(status=404, content_type="application/json", body='{"error": "x"}')

    await tab.page.route("**/admin/api/integrations/fortnox/preflight.json", missing)
    await tab.page.reload()
    await expect(step(tab, "settings")).to_be_visible()
    await expect(step(tab, "preflight")).to_have_count(0)


async def test_the_app_is_usable_with_the_keyboard_in_a_sensible_order(
    app_factory: AppFactory, browse: BrowseFactory
) -> None:
    tab = await browse(await app_factory())
    page = tab.page
    await expect(step(tab, "fortnox")).to_have_attribute("data-state", "done")
    names = []
    for _ in range(16):
        await page.keyboard.press("Tab")
        names.append(
            await page.evaluate(
                "() => { const e = document.activeElement;"
                " return (e.getAttribute('aria-label') || e.innerText || e.value || '').trim(); }"
            )
        )
    menu = ["Get started", "Orders", "Failed syncs", "Settings", "Rules", "Catalog"]
    # First a way past the menus, then the shop's menu, the app's menu, and the page.
    assert names[0] == "Skip to content", names
    assert names[2:8] == menu, names
    page_controls = names[8:]
    assert page_controls.index("Switch Fortnox company") < page_controls.index("Review settings")
    assert page_controls.index("Review settings") < page_controls.index("Send a test order")
    # Enter on a menu item opens its page.
    await page.get_by_role("navigation").get_by_role("link", name="Orders", exact=True).focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Orders", exact=True)).to_be_visible()
    await tab.check_accessibility("Orders (empty)")


async def test_the_accessibility_check_finds_what_it_is_there_to_find(
    app_factory: AppFactory, browse: BrowseFactory
) -> None:
    """The axe-core check every browser test runs reports a field without a label."""
    tab = await browse(await app_factory())
    await expect(step(tab, "fortnox")).to_have_attribute("data-state", "done")
    assert await axe_violations(tab.page) == []
    await tab.page.evaluate(
        "() => document.querySelector('main').appendChild(document.createElement('input'))"
    )
    found = await axe_violations(tab.page)
    assert any(problem.startswith("label (critical)") for problem in found), found
