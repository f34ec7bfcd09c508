"""The inventory settings on the running mapper's settings API: the source of truth (none by
default), the location -> stock point mapping, and the 422s for what cannot work."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import StackFactory
from tests.support.stack import Stack

SETTINGS = "/admin/api/integrations/fortnox/settings.json"


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory(services=("mapper",))


async def call(stack: Stack, method: str, body: Any = None) -> tuple[int, Any]:
    async with stack.http.request(
        method, stack.url("mapper", SETTINGS), json=body, params={"shop": stack.shop}
    ) as response:
        return response.status, await response.json()


async def test_inventory_sync_is_off_until_the_merchant_picks_a_source(stack: Stack) -> None:
    status, body = await call(stack, "GET")
    assert status == 200, body
    assert body["settings"]["inventory_source"] == "none"
    assert body["settings"]["inventory_locations"] == {}

    change = {"inventory_source": "shopify", "inventory_locations": {"1001": "A", "1002": "B"}}
    status, body = await call(stack, "PUT", {"settings": change, "version": 0})
    assert status == 200, body
    assert body["settings"]["inventory_source"] == "shopify"
    assert body["settings"]["inventory_locations"] == {"1001": "A", "1002": "B"}
    status, body = await call(stack, "GET")
    assert body["version"] == 1 and body["settings"]["inventory_source"] == "shopify"


async def test_bad_inventory_settings_answer_422_by_field(stack: Stack) -> None:
    bad = {"inventory_source": "warehouse"}
    status, body = await call(stack, "PUT", {"settings": bad, "version": 0})
    assert status == 422, body
    assert [error["path"] for error in body["errors"]] == ["settings.inventory_source"]
    bad = {"inventory_locations": {"main": "", "7": "x" * 51, "8": "OK"}}
    status, body = await call(stack, "PUT", {"settings": bad, "version": 0})
    assert status == 422, body
    paths = {error["path"] for error in body["errors"]}
    assert paths == {"settings.inventory_locations.7", "settings.inventory_locations.main"}
    status, body = await call(stack, "GET")
    assert body["version"] == 0  # nothing was saved


async def test_fortnox_as_source_writes_one_shopify_location(stack: Stack) -> None:
    two = {"inventory_source": "fortnox", "inventory_locations": {"1": "A", "2": "B"}}
    status, body = await call(stack, "PUT", {"settings": two, "version": 0})
    assert status == 422, body
    assert [e["path"] for e in body["errors"]] == ["settings.inventory_locations"]
    one = {"inventory_source": "fortnox", "inventory_locations": {"2": "B"}}
    status, body = await call(stack, "PUT", {"settings": one, "version": 0})
    assert status == 200, body
