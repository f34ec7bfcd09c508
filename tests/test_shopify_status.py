"""The status an order shows in Shopify follows its current state: a failed order carries the
failure tag and a metafield that says failed; once a replay syncs it, the failure tag is gone
(tagsRemove), the synced tag is on, and the metafield says synced with no error."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from simulators.shopify.payloads import LineSpec, order_payload
from tests.conftest import StackFactory
from tests.support.stack import Stack

FAILED_TAG, SYNCED_TAG = "fortnox-sync-failed", "fortnox-synced"


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory()


def metafield(stack: Stack, order_id: int) -> dict[str, Any]:
    key = (f"gid://shopify/Order/{order_id}", "fortbridge", "sync_status")
    value = stack.shopify.shop(stack.shop).metafields.get(key)
    return {} if value is None else dict(json.loads(value["value"]))


def tags(stack: Stack, order: dict[str, Any]) -> list[str]:
    return list(
        stack.shopify.shop(stack.shop).order_tags.get(f"gid://shopify/Order/{order['id']}", [])
    )


async def test_a_good_replay_removes_the_failure_tag_and_the_metafield_says_synced(
    stack: Stack,
) -> None:
    order = order_payload(lines=[LineSpec("Bier", "10.00", 3, "0.19", "BEER-DE")])
    order["tags"] = "VIP"  # the merchant's own tag
    await stack.send_order(order)
    await stack.wait_for(lambda: metafield(stack, order["id"]).get("status") == "failed")
    await stack.wait_for(lambda: FAILED_TAG in tags(stack, order))
    assert metafield(stack, order["id"])["error_code"] == "2000728"

    stack.fortnox.set_vat_rates(stack.tenant_id, {Decimal(r) for r in ("25", "12", "6", "0", "19")})
    [job] = await stack.failed_jobs()
    async with stack.http.put(
        stack.url(
            "replayer", f"/admin/api/integrations/fortnox/failed_jobs/{job['id']}/retry.json"
        ),
        headers=stack.admin_headers(),
    ) as response:
        assert response.status == 200
    await stack.wait_for(lambda: metafield(stack, order["id"]).get("status") == "synced")
    await stack.wait_for(lambda: FAILED_TAG not in tags(stack, order))

    assert tags(stack, order) == ["VIP", SYNCED_TAG]  # the merchant's own tag is left alone
    status = metafield(stack, order["id"])
    [invoice] = stack.invoices_for(order["id"])
    assert status["document_number"] == str(invoice.document_number)
    assert status["error_code"] is None and "Sync failed" not in status["message"]
    timeline = await stack.timeline(order["id"])
    assert [event["status"] for event in timeline["timeline_events"]] == ["failed", "synced"]
