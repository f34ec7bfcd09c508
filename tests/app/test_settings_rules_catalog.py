"""Settings, rules and the catalog in the browser: a change previewed on a real order, refused
by field when wrong, saved, and followed by the next order; a rule made with the form, previewed
on an order before it is saved, reordered and switched off with the keyboard; a product sync
whose progress bar moves until 100 %, with what did not sync listed."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from simulators.shopify.payloads import order_payload
from tests.app.conftest import WAIT_MS, AppFactory, BrowseFactory, Browsing

pytestmark = pytest.mark.slow
RULES = "/admin/api/integrations/fortnox/mapping_rules"


def fortnox_orders_for(stack: Any, order_id: int) -> list[Any]:
    orders = stack.fortnox.tenant(stack.tenant_id).orders.values()
    return [o for o in orders if o.get("ExternalInvoiceReference1") == f"shopify-{order_id}"]


async def synced_order(tab: Browsing, **fields: Any) -> dict[str, Any]:
    """An order the shop received and Fortnox has (previews run on real orders)."""
    order = order_payload(**fields)
    await tab.stack.send_order(order)
    await tab.stack.wait_for(lambda: len(tab.stack.invoices_for(order["id"])) == 1, 30)
    return order


async def test_a_setting_is_previewed_refused_by_field_saved_and_followed_by_the_next_order(
    app_factory: AppFactory, browse: BrowseFactory
) -> None:
    app = await app_factory()
    tab = await browse(app)
    page = tab.page
    first = await synced_order(tab)
    await page.get_by_role("navigation").get_by_role("link", name="Settings").click()
    make = page.get_by_label("Make in Fortnox")
    await expect(make).to_have_value("invoice")
    await tab.check_accessibility("Settings")
    await make.select_option("order")

    await page.get_by_label("Order to preview").select_option(str(first["id"]))
    await page.get_by_role("button", name="Preview").click()
    changes = page.get_by_role("region", name="What changes")
    await expect(changes.locator("li[data-change='document_kind']")).to_have_text(
        "Fortnox document: invoice → order"
    )
    await expect(
        page.get_by_text("A Fortnox order, made when the order is created")
    ).to_be_visible()
    await tab.shot("settings-preview")
    assert app.stack.fortnox.tenant(app.stack.tenant_id).orders == {}  # a preview sends nothing

    # A wrong account is refused by its field; nothing is saved.
    account = page.get_by_label("EU consumers charged VAT (OSS)")
    await account.fill("12")
    await page.get_by_role("button", name="Save").first.click()
    await expect(page.get_by_text("1 field needs fixing")).to_be_visible()
    await expect(page.get_by_text("must be at least 1000")).to_be_visible()
    await tab.shot("settings-refused-by-field")
    await tab.check_accessibility("Settings with an error")
    await account.fill("3106")
    await page.get_by_role("button", name="Save").first.click()
    await expect(page.get_by_text("Settings saved")).to_be_visible()
    await expect(page.get_by_text("Version 1, saved")).to_be_visible()
    await tab.shot("settings-saved")

    # The next order follows the saved setting: a Fortnox order, not an invoice.
    following = order_payload()
    await app.stack.send_order(following)
    await app.stack.wait_for(lambda: len(fortnox_orders_for(app.stack, following["id"])) == 1, 30)
    assert app.stack.invoices_for(following["id"]) == []
    [made] = fortnox_orders_for(app.stack, following["id"])
    await tab.open("/orders")
    row = page.get_by_role("row").filter(has_text=following["name"])
    await expect(row).to_contain_text(f"Order {made.document_number}", timeout=WAIT_MS)
    await tab.shot("orders-after-setting")


async def test_a_rule_is_made_with_the_form_previewed_on_an_order_and_saved(
    app_factory: AppFactory, browse: BrowseFactory
) -> None:
    app = await app_factory()
    tab = await browse(app)
    page = tab.page
    b2b = await synced_order(tab, tags="B2B")
    await page.get_by_role("navigation").get_by_role("link", name="Rules").click()
    await expect(page.get_by_text("No rules: every order follows the settings.")).to_be_visible()
    await page.get_by_role("button", name="Create rule").click()

    await page.get_by_label("Name").fill("B2B orders")
    await page.locator("label").filter(has_text="Orders that match all of these").click()
    await page.get_by_label("Condition 1: field").select_option("tags")
    await page.get_by_label("Test").select_option("contains")
    await page.get_by_label("Value", exact=True).fill("B2B")
    await page.get_by_label("Make in Fortnox").select_option("order")
    await page.get_by_label("Terms of payment (Fortnox code)").fill("30")
    await page.get_by_role("button", name="Add document field").click()
    await page.get_by_label("Fortnox field").fill("Remarks")
    # A template is plain text to the form: the order's name goes in with a placeholder.
    await page.get_by_role("textbox", name="Template for Remarks").fill("Shopify order {{ name }}")
    await tab.check_accessibility("Rule form")

    await page.get_by_label("Order to preview").select_option(str(b2b["id"]))
    await page.get_by_role("button", name="Preview").click()
    await expect(page.get_by_text("This rule (draft): B2B orders")).to_be_visible()
    await expect(page.get_by_text(f"Remarks = Shopify order {b2b['name']}")).to_be_visible()
    await expect(page.get_by_text("TermsOfPayment = 30")).to_be_visible()
    await expect(
        page.get_by_text("A Fortnox order, made when the order is created")
    ).to_be_visible()
    await tab.shot("rule-preview")
    async with app.stack.http.get(
        app.stack.url("mapper", f"{RULES}.json"), params={"shop": app.stack.shop}
    ) as response:
        assert (await response.json())["mapping_rules"] == []  # previewed, not saved

    await page.get_by_role("button", name="Save rule").first.click()
    await expect(page.get_by_role("heading", name="B2B orders")).to_be_visible()
    await expect(page.locator("li[data-rule]")).to_contain_text(
        "Orders whose order tags include B2B"
    )
    await tab.shot("rules-list")

    # A second rule, then reorder and switch off with the keyboard.
    await page.get_by_role("button", name="Create rule").click()
    await page.get_by_label("Name").fill("Everything else")
    await page.get_by_label("Our reference").fill("Webbshop")
    await page.get_by_role("button", name="Save rule").first.click()
    rules = page.locator("li[data-rule]")
    await expect(rules).to_have_count(2)
    await page.get_by_role("button", name="Move Everything else up").focus()
    await page.keyboard.press("Enter")
    await expect(rules.first).to_contain_text("Everything else")
    await expect(page.get_by_role("button", name="Move Everything else down")).to_be_focused()
    enabled = rules.filter(has_text="B2B orders").get_by_label("Enabled")
    await enabled.focus()
    await page.keyboard.press("Space")
    await expect(rules.filter(has_text="B2B orders")).to_contain_text("Disabled")
    await tab.shot("rules-reordered")
    await tab.check_accessibility("Rules")
    # Edit: the form opens with the saved rule, and saving keeps its place.
    await page.get_by_role("link", name="Edit Everything else").click()
    await expect(page.get_by_label("Name")).to_have_value("Everything else")
    await expect(page.get_by_label("Our reference")).to_have_value("Webbshop")
    await page.get_by_label("Name").fill("All other orders")
    await page.get_by_role("button", name="Save rule").first.click()
    await expect(rules.first).to_contain_text("All other orders")
    async with app.stack.http.get(
        app.stack.url("mapper", f"{RULES}.json"), params={"shop": app.stack.shop}
    ) as response:
        saved = (await response.json())["mapping_rules"]
    assert [(r["name"], r["enabled"]) for r in saved] == [
        ("All other orders", True),
        ("B2B orders", False),
    ]
    assert saved[0]["actions"]["our_reference"] == "Webbshop"
    assert not saved[0]["actions"]["fields"] and saved[0]["conditions"] is None
    assert saved[1]["actions"]["fields"] == {"Remarks": "Shopify order {{ name }}"}
    assert saved[1]["conditions"] == {"all": [{"field": "tags", "op": "contains", "value": "B2B"}]}


def product(n: int, *, sku: bool = True) -> dict[str, Any]:
    product_id = 7_100_000_000_000 + n
    return {
        "id": product_id,
        "title": f"Mugg {n}",
        "status": "active",
        "tags": "",
        "created_at": "2026-11-01T10:00:00+01:00",
        "updated_at": "2026-11-20T10:00:00+01:00",
        "variants": [
            {
                "id": product_id * 10,
                "product_id": product_id,
                "title": "Default Title",
                "sku": f"MUG-{n}" if sku else "",
                "barcode": None,
                "price": "149.00",
                "taxable": True,
                "position": 1,
            }
        ]
        if sku
        else [],
    }


async def test_a_product_sync_moves_its_progress_bar_to_100_and_lists_what_did_not_sync(
    app_factory: AppFactory, browse: BrowseFactory
) -> None:
    app = await app_factory()
    for n in range(60):  # more than Fortnox takes in a few seconds (24 calls per 5 s)
        app.stack.shopify.add_product(app.stack.shop, product(n))
    app.stack.shopify.add_product(app.stack.shop, product(99, sku=False))
    tab = await browse(app)
    page = tab.page
    await page.get_by_role("navigation").get_by_role("link", name="Catalog").click()
    products = page.locator("section[data-catalog='products']")
    await products.get_by_role("button", name="Sync products to Fortnox").click()
    bar = products.locator("progress")
    seen: list[int] = []
    while not seen or seen[-1] < 100:
        await expect(bar).to_be_visible()
        value = int(await bar.get_attribute("value") or 0)
        if not seen or value != seen[-1]:
            seen.append(value)
            if 0 < value < 100 and len(seen) == 2:
                await tab.shot("catalog-progress")
        await page.wait_for_timeout(200)
        assert len(seen) < 500
    assert seen == sorted(seen) and seen[-1] == 100, seen
    assert any(0 < value < 100 for value in seen), f"the bar never moved between: {seen}"
    await expect(products.get_by_text("Done")).to_be_visible()
    await expect(products).to_contain_text("60 synced, 0 failed, 1 skipped of 61")
    await expect(products).to_contain_text(f"Product {7_100_000_000_099}: skipped")
    articles = app.stack.fortnox.tenant(app.stack.tenant_id).articles
    assert set(articles) == {f"MUG-{n}" for n in range(60)}
    await tab.shot("catalog-done")
    await tab.check_accessibility("Catalog")


async def test_the_stock_source_is_picked_on_the_settings_page(
    app_factory: AppFactory, browse: BrowseFactory
) -> None:
    app = await app_factory()
    # The install granted the default scopes only: inventory needs two more.
    set_scopes = "UPDATE shops.installations SET scopes = $2 WHERE shop = $1"
    defaults = app.stack.settings.shopify_scopes
    await app.stack.pool.execute(set_scopes, app.stack.shop, defaults)
    tab = await browse(app)
    page = tab.page
    await page.get_by_role("navigation").get_by_role("link", name="Settings").click()
    source = page.get_by_label("Stock is kept in")
    await expect(source).to_have_value("none")
    await expect(page.get_by_text("Shopify permissions needed")).to_have_count(0)
    await source.select_option("fortnox")
    await page.get_by_role("button", name="Save").first.click()
    await expect(page.get_by_text("Settings saved")).to_be_visible()
    # Turned on without its scopes: the page says so, with the link that asks Shopify for them.
    needed = "Shopify permissions needed: read_inventory, write_inventory"
    await expect(page.get_by_text(needed)).to_be_visible()
    grant = page.get_by_role("link", name="Grant the permissions in Shopify")
    href = await grant.get_attribute("href") or ""
    assert "/auth/shopify/install?" in href and "add=read_inventory%2Cwrite_inventory" in href
    await tab.check_accessibility("Settings, inventory permissions needed")
    await app.stack.pool.execute(set_scopes, app.stack.shop, f"{defaults},write_inventory")
    stored = await app.stack.pool.fetchval(
        "SELECT settings->>'inventory_source' FROM mapper.shop_settings WHERE shop = $1",
        app.stack.shop,
    )
    assert stored == "fortnox"
    # The sync's status shows beside the choice once a source is picked.
    await tab.open("/settings")
    status = page.get_by_label("Inventory sync status")
    await expect(status).to_contain_text("to Shopify", timeout=WAIT_MS)
    await expect(page.get_by_text("Shopify permissions needed")).to_have_count(0)  # granted
    await tab.check_accessibility("Settings with inventory")
