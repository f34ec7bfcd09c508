"""Shopify Payments payouts on the Settings page: turned on with the keyboard and given its
accounts, a wrong account refused beside its field (the settings API's message, announced as the
field's description), then saved into the shop's settings with the payouts permission asked for."""

from __future__ import annotations

import json
import re

import pytest
from playwright.async_api import expect

from tests.app.conftest import AppFactory, BrowseFactory

pytestmark = pytest.mark.slow
SETTINGS = "/admin/api/integrations/fortnox/settings.json"
STORED = "SELECT (settings->'payouts')::text FROM mapper.shop_settings WHERE shop = $1"


async def test_payouts_are_turned_on_with_their_accounts_and_a_wrong_account_is_refused(
    app_factory: AppFactory, browse: BrowseFactory
) -> None:
    app = await app_factory()
    stack = app.stack
    # The install granted the default scopes only: booking payouts needs one more.
    set_scopes = "UPDATE shops.installations SET scopes = $2 WHERE shop = $1"
    await stack.pool.execute(set_scopes, stack.shop, stack.settings.shopify_scopes)
    tab = await browse(app)
    page = tab.page
    await page.get_by_role("navigation").get_by_role("link", name="Settings").click()
    book = page.get_by_role("checkbox", name="Book Shopify Payments payouts in Fortnox")
    await expect(book).not_to_be_checked()
    clearing = page.get_by_role("textbox", name="Clearing account for card settlements")
    await expect(clearing).to_have_value("1580")  # the default, BAS 1580
    await expect(page.get_by_text("Shopify permission needed")).to_have_count(0)
    await tab.check_accessibility("Settings with payouts off")

    # On with the keyboard, and a wrong clearing account: refused by its field, nothing saved.
    await book.focus()
    await page.keyboard.press("Space")
    await expect(book).to_be_checked()
    await clearing.fill("12")
    await page.get_by_role("textbox", name="Fee account").fill("6570")
    await page.get_by_role("textbox", name="Bank account").fill("1940")
    await page.get_by_role("button", name="Save").first.click()
    await expect(page.get_by_text("1 field needs fixing")).to_be_visible()
    await expect(clearing).to_have_attribute("aria-invalid", "true")
    await expect(clearing).to_have_accessible_description(re.compile("must be at least 1000"))
    await expect(page.get_by_role("textbox", name="Fee account")).not_to_have_attribute(
        "aria-invalid", "true"
    )
    assert await stack.pool.fetchval(STORED, stack.shop) is None
    await tab.shot("payouts-refused-by-field")
    await tab.check_accessibility("Settings with a wrong payouts account")

    await clearing.fill("1581")
    await page.get_by_role("button", name="Save").first.click()
    await expect(page.get_by_text("Settings saved")).to_be_visible()
    await expect(book).to_be_checked()
    await expect(clearing).to_have_value("1581")
    # Only what changed is sent: the other payout fields keep Fortbridge's defaults.
    async with stack.http.get(
        stack.url("mapper", SETTINGS), params={"shop": stack.shop}
    ) as response:
        assert response.status == 200
        payouts = (await response.json())["settings"]["payouts"]
    assert payouts == {
        "enabled": True,
        "voucher_series": "A",
        "clearing_account": 1581,
        "fee_account": 6570,
        "bank_account": 1940,
        "adjustment_account": 6990,
        "reserve_account": 1680,
    }
    stored = json.loads(await stack.pool.fetchval(STORED, stack.shop))
    assert stored == {
        "enabled": True,
        "clearing_account": 1581,
        "fee_account": 6570,
        "bank_account": 1940,
    }

    # Turned on without its scope: the payouts section says so, with the re-authorisation link.
    await expect(
        page.get_by_text("Shopify permission needed: read_shopify_payments_payouts")
    ).to_be_visible()
    grant = page.get_by_role("link", name="Grant the permission in Shopify")
    assert "add=read_shopify_payments_payouts" in (await grant.get_attribute("href") or "")
    await tab.shot("payouts-saved")
    await tab.check_accessibility("Settings with payouts on")
