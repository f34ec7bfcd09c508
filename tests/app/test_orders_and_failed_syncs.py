"""Orders and failed syncs in the browser: an order synced with its invoice number; a Fortnox
that refuses (a VAT rate it lacks) explained with its fix; retried from the page, one and then
all of the cause (after the count), until synced; a discard with its reason in the history."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from playwright.async_api import expect

from simulators.shopify.payloads import LineSpec, order_payload
from tests.app.conftest import WAIT_MS, AppFactory, BrowseFactory

pytestmark = pytest.mark.slow
SWEDISH_AND_GERMAN = {Decimal(rate) for rate in ("25", "12", "6", "0", "19")}


def beer(quantity: int = 3) -> dict[str, Any]:
    """19 % VAT: the simulated Fortnox company has not set that rate up."""
    return order_payload(lines=[LineSpec("Bier", "10.00", quantity, "0.19", "BEER-DE")])


async def test_orders_show_their_invoice_and_a_failure_is_explained_retried_and_synced(
    app_factory: AppFactory, browse: BrowseFactory
) -> None:
    app = await app_factory()
    stack = app.stack
    tab = await browse(app)
    page = tab.page
    await page.get_by_role("navigation").get_by_role("link", name="Orders", exact=True).click()
    await expect(page.get_by_role("heading", name="Orders", exact=True)).to_be_visible()

    good = order_payload()
    await stack.send_order(good)
    await page.get_by_role("button", name="Refresh").click()  # it follows the order from here
    row = page.get_by_role("row").filter(has_text=good["name"])
    await expect(row).to_contain_text("Synced", timeout=WAIT_MS)
    [invoice] = stack.invoices_for(good["id"])
    await expect(row).to_contain_text(f"Invoice {invoice.document_number}")
    await expect(row).to_contain_text("536.00 SEK")  # the order total and Fortnox's, side by side
    await expect(row.get_by_text("Differs")).to_have_count(0)
    await tab.shot("orders-synced")
    await tab.check_accessibility("Orders")
    # Re-sync asks Shopify for the order's current state; nothing changed, so nothing new.
    await row.get_by_role("button", name=f"Re-sync order {good['name']}").click()
    await expect(page.get_by_text(f"Order {good['name']} is being synced")).to_be_visible()
    await expect(row).to_contain_text("Synced")
    assert len(stack.invoices_for(good["id"])) == 1

    failing = [beer(1), beer(2), beer(3)]
    for order in failing:
        await stack.send_order(order)

    async def all_failed() -> bool:
        return len(await stack.failed_jobs()) == len(failing)

    await stack.wait_for(all_failed, timeout=60)
    await page.get_by_role("tab", name="Failed").click()
    for order in failing:
        failed_row = page.get_by_role("row").filter(has_text=order["name"])
        await expect(failed_row).to_contain_text("Failed", timeout=WAIT_MS)
    await expect(page.get_by_role("row").filter(has_text=failing[0]["name"])).to_contain_text("VAT")
    await tab.shot("orders-failed-filter")

    await page.get_by_role("navigation").get_by_role("link", name="Failed syncs").click()
    cause = page.locator("section[data-cause]").filter(
        has=page.get_by_role("heading", name="VAT rate 19 % missing in Fortnox")
    )
    await expect(cause).to_contain_text("3 syncs", timeout=WAIT_MS)
    await expect(cause).to_contain_text("How to fix it:")
    await expect(cause).to_contain_text("19 %")
    await tab.shot("failed-syncs-explained")
    await tab.check_accessibility("Failed syncs")

    # The merchant adds 19 % in Fortnox, then retries one order from the page.
    stack.fortnox.set_vat_rates(stack.tenant_id, SWEDISH_AND_GERMAN)
    first = failing[0]
    await cause.get_by_role("button", name=f"Retry {first['name']}").click()
    synced = page.get_by_text(f"Order {first['name']} is synced")
    await expect(synced).to_be_visible(timeout=WAIT_MS)
    [retried] = stack.invoices_for(first["id"])
    await expect(page.get_by_text(f"Fortnox invoice {retried.document_number}.")).to_be_visible()
    await tab.shot("failed-syncs-retried-one")

    # Then every other sync of the cause: the count first, then the retry.
    await expect(cause).to_contain_text("2 syncs", timeout=WAIT_MS)
    await cause.get_by_role("button", name="Retry all of this cause").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_contain_text("Retry 2 failed syncs?")
    await tab.shot("failed-syncs-retry-all-count")
    await tab.check_accessibility("Failed syncs, retry all")
    await dialog.get_by_role("button", name="Retry 2").click()
    await expect(page.get_by_text("2 failed syncs are being retried")).to_be_visible()
    for order in failing[1:]:
        await stack.wait_for(lambda order=order: len(stack.invoices_for(order["id"])) == 1, 30)
    await expect(page.get_by_text("No failed syncs.")).to_be_visible()

    await page.get_by_role("navigation").get_by_role("link", name="Orders", exact=True).click()
    for order in failing:
        row = page.get_by_role("row").filter(has_text=order["name"])
        await expect(row).to_contain_text("Synced", timeout=WAIT_MS)
        [made] = stack.invoices_for(order["id"])
        await expect(row).to_contain_text(f"Invoice {made.document_number}")
    await tab.shot("orders-all-synced")


async def test_a_discarded_sync_keeps_its_reason_in_the_history(
    app_factory: AppFactory, browse: BrowseFactory
) -> None:
    app = await app_factory()
    order = beer()
    await app.stack.send_order(order)
    tab = await browse(app)
    page = tab.page
    await tab.open("/failed")
    job = page.locator("li[data-job]").filter(has_text=order["name"])
    await expect(job).to_be_visible(timeout=WAIT_MS)
    await job.get_by_role("button", name=f"Discard {order['name']}").click()
    dialog = page.get_by_role("dialog")
    discard = dialog.get_by_role("button", name="Discard")
    await expect(discard).to_be_disabled()  # a reason is required
    await dialog.get_by_label("Why discard it?").fill("Test order, booked by hand")
    await tab.shot("discard-with-reason")
    await discard.click()
    await expect(
        page.get_by_text(f"Discarded: {order['name']} will not be synced.")
    ).to_be_visible()
    await expect(job).to_have_count(0)
    await expect(page.get_by_role("dialog")).to_have_count(0)  # the discard dialog has closed

    await page.get_by_label("Show").select_option("discarded")
    await expect(job).to_contain_text("Test order, booked by hand")
    await job.get_by_role("button", name=f"History of {order['name']}").click()
    history = page.get_by_role("dialog")
    await expect(history).to_contain_text(
        f"discarded by session:{app.stack.shop} (“Test order, booked by hand”)"
    )
    await tab.shot("discard-history")
    await tab.check_accessibility("Failed syncs, history")
