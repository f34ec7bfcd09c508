"""The Accounting page in the browser: a month's reconciliation report that ties out, then a
backfill dry run and import of past orders followed by its progress bar to 100 %."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import expect

from simulators.fortnox.customers import create_customer
from simulators.fortnox.invoices import create_invoice
from simulators.shopify.payloads import order_payload
from tests.app.conftest import WAIT_MS, AppFactory, BrowseFactory

pytestmark = pytest.mark.slow


async def test_a_report_ties_out_and_past_orders_are_imported(
    app_factory: AppFactory, browse: BrowseFactory
) -> None:
    app = await app_factory()
    stack = app.stack
    today = datetime.now(UTC).replace(microsecond=0)
    live = order_payload(created_at=today, updated_at=today)
    await stack.send_order(live)
    await stack.wait_for(lambda: len(stack.invoices_for(live["id"])) == 1, 30)
    past_day = today - timedelta(days=120)
    past = [order_payload(created_at=past_day, updated_at=past_day) for _ in range(8)]
    for order in past:
        stack.shopify.add_order(stack.shop, order)
    # One of them an earlier integration booked already, with our reference.
    tenant = stack.fortnox.tenant(stack.tenant_id)
    customer = create_customer(tenant, {"Name": "Tidigare kund"})
    create_invoice(
        tenant,
        {
            "CustomerNumber": customer.customer_number,
            "ExternalInvoiceReference1": f"shopify-{past[0]['id']}",
            "InvoiceDate": past_day.date().isoformat(),
            "VATIncluded": True,
            "InvoiceRows": [
                {"Description": "Order", "DeliveredQuantity": 1, "Price": past[0]["total_price"]}
            ],
        },
    )

    tab = await browse(app)
    page = tab.page
    await page.get_by_role("navigation").get_by_role("link", name="Accounting").click()
    report = page.locator("section[data-report]")
    await report.get_by_label("First day").fill(today.date().isoformat())
    await report.get_by_label("Last day").fill(today.date().isoformat())
    await report.get_by_role("button", name="Make the report").click()
    await expect(report.get_by_text("Ties out")).to_be_visible(timeout=WAIT_MS)
    await expect(report).to_contain_text(live["total_price"])
    await tab.shot("report")

    backfill = page.locator("section[data-backfill]")
    await backfill.get_by_label("Created from").fill(past_day.date().isoformat())
    await backfill.get_by_label("Created until").fill(past_day.date().isoformat())
    # The install granted the default scopes only: 120 days ago needs read_all_orders, and
    # the page says so with the link that asks Shopify for it.
    granted = "SELECT scopes FROM shops.installations WHERE shop = $1"
    set_scopes = "UPDATE shops.installations SET scopes = $2 WHERE shop = $1"
    await stack.pool.execute(set_scopes, stack.shop, stack.settings.shopify_scopes)
    await backfill.get_by_role("button", name="Dry run").click()
    await expect(backfill).to_contain_text("Shopify permission needed: read_all_orders")
    await expect(backfill).to_contain_text("more than 60 days ago")
    grant = backfill.get_by_role("link", name="Grant the permission in Shopify")
    assert "add=read_all_orders" in (await grant.get_attribute("href") or "")
    await tab.check_accessibility("Accounting, permission needed")
    await tab.shot("backfill-needs-read-all-orders")
    # Granted (what the re-authorisation's callback stores): the same dry run starts.
    scopes = await stack.pool.fetchval(granted, stack.shop)
    await stack.pool.execute(set_scopes, stack.shop, f"{scopes},read_all_orders")
    await backfill.get_by_role("button", name="Dry run").click()
    await expect(backfill.get_by_text("Shopify permission needed")).to_have_count(0)
    await expect(backfill).to_contain_text("7 would create, 1 would match", timeout=WAIT_MS)
    await expect(backfill).to_contain_text("Fortnox already has 1 of them", timeout=WAIT_MS)
    await backfill.get_by_role("button", name="Import them").click()
    await expect(backfill).to_contain_text("8 orders: 7 created, 1 matched", timeout=60_000)
    await expect(backfill).to_contain_text("Import: 100 %")
    await expect(backfill.get_by_text("Done")).to_be_visible()
    for order in past:
        assert len(stack.invoices_for(order["id"])) == 1
    await tab.shot("backfill-done")
    await tab.check_accessibility("Accounting")
