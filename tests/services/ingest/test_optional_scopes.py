"""Features that need Shopify scopes SHOPIFY_SCOPES does not ask for (inventory sync, payouts):
turned on in a shop that did not grant them, the settings, the inventory status and the
installation answer say so plainly with the re-authorisation link; once granted, they do not."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from libs.common.settings import Settings
from libs.common.shopify_scopes import (
    access,
    missing_scopes,
    parse_added,
    requested_scopes,
)
from tests.conftest import StackFactory
from tests.support.stack import Stack

SETTINGS = "/admin/api/integrations/fortnox/settings.json"
INVENTORY = "/admin/api/inventory/status.json"
INSTALLATION = "/admin/api/integrations/shopify/installation.json"


async def call(
    stack: Stack, service: str, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    async with stack.http.request(
        method, stack.url(service, path), params={"shop": stack.shop}, json=body
    ) as response:
        return response.status, await response.json()


def added(url: str) -> list[str]:
    query = dict(parse_qsl(urlsplit(url).query))
    return query["add"].split(",")


async def test_features_turned_on_without_their_scopes_say_so_until_granted(
    stack_factory: StackFactory,
) -> None:
    stack = await stack_factory(services=("ingest", "mapper"))
    defaults = stack.settings.shopify_scopes
    await stack.pool.execute(
        "UPDATE shops.installations SET scopes = $2 WHERE shop = $1", stack.shop, defaults
    )
    status, body = await call(stack, "mapper", "GET", SETTINGS)
    assert status == 200 and body["shopify_access"] == []  # nothing optional is on yet
    change = {"inventory_source": "shopify", "payouts": {"enabled": True}}
    status, body = await call(
        stack, "mapper", "PUT", SETTINGS, {"version": body["version"], "settings": change}
    )
    assert status == 200, body
    told = {item["feature"]: item for item in body["shopify_access"]}
    assert set(told) == {"inventory", "payouts"}
    assert told["inventory"]["missing_scopes"] == ["read_inventory", "write_inventory"]
    assert "read_inventory, write_inventory" in told["inventory"]["what_to_do"]
    assert added(told["inventory"]["reauthorize_url"]) == ["read_inventory", "write_inventory"]
    assert added(told["payouts"]["reauthorize_url"]) == ["read_shopify_payments_payouts"]
    assert "read_shopify_payments_payouts" in told["payouts"]["what_to_do"]

    status, body = await call(stack, "ingest", "GET", INVENTORY)
    assert status == 200
    inventory = body["inventory"]["shopify_access"]
    assert (
        inventory["granted"] is False
        and inventory["missing_scopes"] == told["inventory"]["missing_scopes"]
    )
    status, body = await call(stack, "ingest", "GET", INSTALLATION)
    features = body["installation"]["features"]
    assert features["inventory"]["on"] and features["payouts"]["on"]
    assert not features["all_orders"]["on"] and not features["all_orders"]["granted"]

    # Granted (the re-authorisation's callback stores what Shopify granted): nothing to say.
    await stack.pool.execute(
        "UPDATE shops.installations SET scopes = $2 WHERE shop = $1",
        stack.shop,
        f"{defaults},write_inventory,read_shopify_payments_payouts",
    )
    status, body = await call(stack, "mapper", "GET", SETTINGS)
    assert body["shopify_access"] == []
    status, body = await call(stack, "ingest", "GET", INVENTORY)
    assert body["inventory"]["shopify_access"]["granted"] is True
    assert "reauthorize_url" not in body["inventory"]["shopify_access"]
    # A later link keeps what was granted: asking for read_all_orders keeps the others.
    status, body = await call(stack, "ingest", "GET", INSTALLATION)
    link = body["installation"]["features"]["all_orders"]["reauthorize_url"]
    assert added(link) == ["write_inventory", "read_shopify_payments_payouts", "read_all_orders"]


def test_a_reauthorisation_adds_only_optional_scopes_to_the_default_ones() -> None:
    settings = Settings(shopify_scopes="read_orders,write_orders")
    assert requested_scopes(settings, ["read_all_orders"]) == (
        "read_orders,write_orders,read_all_orders"
    )
    assert parse_added("read_inventory, write_inventory") == ["read_inventory", "write_inventory"]
    with pytest.raises(ValueError, match="write_products"):
        parse_added("read_all_orders,write_products")
    # A grant that recorded nothing (a token stored with the CLI) is not second-guessed.
    assert access(settings, "s.myshopify.com", "inventory", "")["granted"] is True
    assert missing_scopes("read_inventory", "write_inventory") == []
