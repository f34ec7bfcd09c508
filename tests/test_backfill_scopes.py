"""A backfill from more than 60 days ago needs Shopify's read_all_orders (Shopify shows an app
only the last 60 days of orders without it): a shop that did not grant it is told so, with the
re-authorisation link that asks for it, instead of a silent partial import; once granted
through that link, the same backfill imports every order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

from simulators.shopify.payloads import order_payload
from tests.conftest import StackFactory
from tests.support.stack import SHOPIFY_SECRET
from tests.test_backfill import LINES, call, finished, open_stack


async def test_a_backfill_older_than_60_days_needs_read_all_orders_and_reauthorising_adds_it(
    stack_factory: StackFactory,
) -> None:
    stack = await open_stack(stack_factory)
    settings = stack.settings
    stack.shopify.register_app(settings.shopify_api_key, SHOPIFY_SECRET)
    shop = stack.shopify.shop(stack.shop)
    shop.read_all_orders = False  # the stack's token: the last 60 days only
    await stack.pool.execute(
        "UPDATE shops.installations SET scopes = $2 WHERE shop = $1",
        stack.shop,
        settings.shopify_scopes,  # what the install granted: the default scopes
    )
    now = datetime.now(UTC)
    old = order_payload(lines=LINES, created_at=now - timedelta(days=90))
    new = order_payload(lines=LINES, created_at=now - timedelta(days=5))
    stack.shopify.add_order(stack.shop, old)
    stack.shopify.add_order(stack.shop, new)
    window = {"from": (now - timedelta(days=120)).isoformat(), "to": now.isoformat()}

    status, body = await call(stack, "POST", "/admin/api/backfills.json", window)
    assert status == 403, body
    assert "read_all_orders" in body["error"] and "60 days" in body["error"], body
    assert body["missing_scopes"] == ["read_all_orders"]
    link = urlsplit(body["reauthorize_url"])
    assert link.path == "/auth/shopify/install"
    assert dict(parse_qsl(link.query)) == {"shop": stack.shop, "add": "read_all_orders"}
    status, _ = await call(stack, "GET", "/admin/api/backfills.json")
    assert status == 404  # nothing was started
    # A window within the last 60 days needs no added permission.
    recent = {"from": (now - timedelta(days=30)).isoformat(), "to": now.isoformat()}
    status, body = await call(stack, "POST", "/admin/api/backfills.json", recent)
    assert status == 202, body
    assert (await finished(stack, body["backfill"]["id"]))["total"] == 1
    # By ids, the old order (and an id Shopify has not) is not_found with why: never skipped
    # silently, and the why names the permission while the shop lacks it.
    unknown = 999_000_000_001
    ids = {"ids": [old["id"], new["id"], unknown]}
    status, body = await call(stack, "POST", "/admin/api/backfills.json", ids)
    assert status == 202, body
    plan = await finished(stack, body["backfill"]["id"])
    assert (plan["total"], plan["counts"]["not_found"]) == (3, 2), plan
    whys = {item["order_id"]: item for item in plan["failures"]}
    assert set(whys) == {str(old["id"]), str(unknown)}
    assert {item["status"] for item in whys.values()} == {"not_found"}
    assert "read_all_orders" in whys[str(old["id"])]["error"]

    # The merchant follows the link: Shopify is asked for the default scopes and the added one.
    async with stack.http.get(
        stack.url("ingest", f"{link.path}?{link.query}"), allow_redirects=False
    ) as response:
        assert response.status == 302
        authorize = response.headers["Location"]
    asked = dict(parse_qsl(urlsplit(authorize).query))["scope"].split(",")
    assert asked == [*settings.shopify_scopes.split(","), "read_all_orders"]
    async with stack.http.get(authorize, allow_redirects=False) as response:
        assert response.status == 302, await response.text()
        approved = urlsplit(response.headers["Location"]).query
    async with stack.http.get(
        stack.url("ingest", f"/auth/shopify/callback?{approved}"), allow_redirects=False
    ) as response:
        assert response.status == 302, await response.text()
    granted = await stack.pool.fetchval(
        "SELECT scopes FROM shops.installations WHERE shop = $1", stack.shop
    )
    assert "read_all_orders" in granted.split(",")

    status, body = await call(stack, "POST", "/admin/api/backfills.json", window)
    assert status == 202, body
    assert (await finished(stack, body["backfill"]["id"]))["total"] == 2
    # Granted: the old order is listed by its id too; the unknown id still is not, and its why
    # no longer speaks of the permission.
    status, body = await call(stack, "POST", "/admin/api/backfills.json", ids)
    plan = await finished(stack, body["backfill"]["id"])
    assert plan["counts"]["not_found"] == 1, plan
    [why] = plan["failures"]
    assert why["order_id"] == str(unknown) and "read_all_orders" not in why["error"]
