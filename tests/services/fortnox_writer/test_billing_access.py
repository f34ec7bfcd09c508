"""Who may read usage and start or raise usage charges (docs/security.md), and what a caller
cannot make the writer do: bill another shop, pick where Shopify sends the merchant, or
fake an approval."""

from __future__ import annotations

import uuid
from typing import Any

from libs.common.access import ApiTokenStore
from tests.conftest import StackFactory
from tests.services.fortnox_writer.billing_support import BILLING_SETTINGS
from tests.support.stack import Stack

OPERATOR = "operator-token-billing"
BASE = "/admin/api/billing"


async def call(
    stack: Stack, method: str, path: str, token: str | None, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with stack.http.request(
        method, stack.url("fortnox_writer", BASE + path), headers=headers, **kwargs
    ) as response:
        return response.status, await response.json(content_type=None)


async def test_usage_and_subscriptions_need_the_shops_credentials_and_scope(
    stack_factory: StackFactory,
) -> None:
    stack = await stack_factory(
        services=("fortnox_writer",), admin_api_token=OPERATOR, **BILLING_SETTINGS
    )
    tokens = ApiTokenStore(stack.pool)
    reader = (await tokens.create(stack.shop, "read_integrations")).token
    writer = (await tokens.create(stack.shop, "write_integrations")).token
    other_shop = f"shop-{uuid.uuid4().hex[:8]}.myshopify.com"
    other = (await tokens.create(other_shop, "write_integrations")).token

    assert (await call(stack, "GET", "/usage.json", None, params={"shop": stack.shop}))[0] == 401
    assert (await call(stack, "POST", "/subscription.json", None))[0] == 401
    assert (await call(stack, "GET", "/usage.json", "fbt_forged"))[0] == 401

    status, body = await call(stack, "GET", "/usage.json", reader)
    assert status == 200 and body["usage"]["shop"] == stack.shop
    assert body["usage"]["trial"]["left"] == 15
    # Reading is not starting: a read_integrations token cannot create a subscription.
    assert (await call(stack, "POST", "/subscription.json", reader))[0] == 403
    body_cap = {"json": {"capped_amount": "300.00"}}
    assert (await call(stack, "POST", "/capped_amount.json", reader, **body_cap))[0] == 403
    # Another shop's credentials cannot read or start this shop's billing.
    named = {"params": {"shop": stack.shop}}
    assert (await call(stack, "GET", "/usage.json", other, **named))[0] == 403
    assert (await call(stack, "POST", "/subscription.json", other, **named))[0] == 403
    assert not stack.shopify.shop(stack.shop).app_subscriptions

    # The caller never chooses where Shopify sends the merchant after approving.
    status, body = await call(
        stack, "POST", "/subscription.json", writer, json={"return_url": "https://evil.example"}
    )
    assert status == 422
    status, body = await call(stack, "POST", "/subscription.json", writer)
    assert status == 201, body
    [sub] = stack.shopify.shop(stack.shop).app_subscriptions.values()
    assert sub["return_url"].startswith(stack.settings.shopify_app_url)
    assert sub["test"] is True
    # Asking again while it waits for approval answers the same confirmation URL.
    again = await call(stack, "POST", "/subscription.json", writer)
    assert again[1]["subscription"]["confirmation_url"] == body["subscription"]["confirmation_url"]
    assert len(stack.shopify.shop(stack.shop).app_subscriptions) == 1

    # Raising a cap needs an active subscription and a sane amount.
    assert (await call(stack, "POST", "/capped_amount.json", writer, **body_cap))[0] == 409
    for bad in ({"capped_amount": 300.5}, {"capped_amount": "NaN"}, {"capped_amount": "-1"},
                {"capped_amount": "1e9"}, {"cap": "300"}, {}):  # fmt: skip
        status, _ = await call(stack, "POST", "/capped_amount.json", writer, json=bad)
        assert status == 422, bad
    # The operator names the shop.
    status, body = await call(stack, "GET", "/usage.json", OPERATOR, params={"shop": stack.shop})
    assert status == 200 and body["usage"]["subscription"]["status"] == "PENDING"
