"""The Billing page in the browser: free syncs used, a sync waiting on billing with why, the
merchant approving the charges on Shopify's page, and the waiting sync made by itself."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from simulators.shopify.payloads import order_payload
from tests.app.conftest import WAIT_MS, AppFactory, BrowseFactory
from tests.services.fortnox_writer.billing_support import BILLING_SETTINGS, waiting_on_billing

pytestmark = pytest.mark.slow


async def test_the_billing_page_shows_the_wait_and_approving_in_shopify_releases_it(
    app_factory: AppFactory, browse: BrowseFactory
) -> None:
    app = await app_factory(**{**BILLING_SETTINGS, "billing_trial_credits": 1})
    stack = app.stack
    tab = await browse(app)
    page = tab.page
    first, second = order_payload(), order_payload()
    await stack.send_order(first)
    await stack.wait_for(lambda: len(stack.invoices_for(first["id"])) == 1, 30)
    await stack.send_order(second)

    async def waits() -> bool:
        return await waiting_on_billing(stack.pool, stack.shop) == 1

    await stack.wait_for(waits, 30)
    # The order list says which orders wait on billing.
    await page.get_by_role("navigation").get_by_role("link", name="Orders").click()
    await page.get_by_role("tab", name="Waiting on billing").click()
    await expect(page.get_by_text(second["name"], exact=True)).to_be_visible()
    await page.get_by_role("navigation").get_by_role("link", name="Billing").click()
    await expect(page.get_by_text("1 sync waiting on billing")).to_be_visible()
    await expect(page.get_by_text("1 of 1 used, 0 left.")).to_be_visible()
    await expect(page.get_by_text("Waiting for your approval")).to_be_visible()
    await expect(page.get_by_text("The 1 free sync is used", exact=False)).to_be_visible()
    await expect(page.get_by_text("1 free sync, then", exact=False)).to_be_visible()
    # The confirmation is a link named for what it does, not a raw address in the text.
    approve = page.get_by_role("link", name="Approve the charges in Shopify")
    await expect(approve).to_have_count(1)
    href = await approve.get_attribute("href")
    assert href is not None and href.startswith(stack.shopify.base_url) and "/confirm" in href
    await expect(page.get_by_text("/confirm", exact=False)).to_have_count(0)
    await tab.check_accessibility("Billing")
    await tab.shot("billing-waiting")

    # The merchant approves on Shopify's confirmation page, and comes back to the app.
    await approve.click()
    await page.get_by_role("button", name="Approve").click()
    await page.wait_for_url("**/app/billing?**", timeout=WAIT_MS)
    await stack.shopify.drain_webhooks()
    await stack.wait_for(lambda: len(stack.invoices_for(second["id"])) == 1, 30)
    await tab.open("/billing")
    await expect(page.get_by_text("Active", exact=True)).to_be_visible()
    await expect(page.get_by_text("(1 sync billed)", exact=False)).to_be_visible()
    await tab.check_accessibility("Billing, active")
    await tab.shot("billing-active")


async def test_the_billing_page_counts_free_syncs_in_the_plural_and_its_link_takes_the_keyboard(
    app_factory: AppFactory, browse: BrowseFactory
) -> None:
    app = await app_factory(**{**BILLING_SETTINGS, "billing_trial_credits": 2})
    stack = app.stack
    tab = await browse(app)
    page = tab.page
    free = [order_payload(), order_payload()]
    for order in free:
        await stack.send_order(order)
    await stack.wait_for(lambda: all(len(stack.invoices_for(o["id"])) == 1 for o in free), 30)
    late = order_payload()
    await stack.send_order(late)

    async def waits() -> bool:
        return await waiting_on_billing(stack.pool, stack.shop) == 1

    await stack.wait_for(waits, 30)
    await page.get_by_role("navigation").get_by_role("link", name="Billing").click()
    await expect(page.get_by_text("The 2 free syncs are used", exact=False)).to_be_visible()
    await expect(page.get_by_text("2 free syncs, then", exact=False)).to_be_visible()
    await expect(page.get_by_text("2 of 2 used, 0 left.")).to_be_visible()

    # Tab reaches the link (it is one focus stop, named for what it does); Enter follows it.
    approve = page.get_by_role("link", name="Approve the charges in Shopify")
    for _ in range(60):
        await page.keyboard.press("Tab")
        if await approve.evaluate("link => link === document.activeElement"):
            break
    else:
        raise AssertionError("Tab never reached the approval link")
    await page.keyboard.press("Enter")
    await page.get_by_role("button", name="Approve").click()
    await page.wait_for_url("**/app/billing?**", timeout=WAIT_MS)
    await stack.shopify.drain_webhooks()
    await stack.wait_for(lambda: len(stack.invoices_for(late["id"])) == 1, 30)
