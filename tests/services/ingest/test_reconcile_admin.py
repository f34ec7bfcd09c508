"""The reconciliation admin endpoint: the caller's shop's figures, run now, access refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from libs.common.access import ApiTokenStore
from simulators.shopify.payloads import LineSpec, order_payload
from tests.conftest import StackFactory
from tests.support.stack import Stack

PATH = "/admin/api/integrations/fortnox/reconciliation.json"
LINES = [LineSpec("Ullsockor", "199.00", 2, "0.25", "SOCK-WOOL-001")]


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory(
        services=("ingest",),
        admin_api_token="operator-token-reconcile",
        reconcile_interval_seconds=0,
    )


async def call(
    stack: Stack, method: str, token: str | None, **params: str
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with stack.http.request(
        method, stack.url("ingest", PATH), headers=headers, params=params
    ) as response:
        return response.status, await response.json()


async def test_the_shop_sees_its_figures_and_runs_a_round_now(stack: Stack) -> None:
    store = ApiTokenStore(stack.pool)
    reader = (await store.create(stack.shop, "read_integrations")).token
    writer = (await store.create(stack.shop, "write_integrations")).token
    status, body = await call(stack, "GET", reader)
    assert status == 200, body
    assert body["reconciliation"]["shop"] == stack.shop
    assert body["reconciliation"]["last_run"] is None  # never ran
    assert body["reconciliation"]["enabled"] is False

    now = datetime.now(UTC).replace(microsecond=0)
    for minutes in (1, 2):
        stack.shopify.add_order(
            stack.shop,
            order_payload(lines=LINES, created_at=now, updated_at=now + timedelta(minutes=minutes)),
        )
    assert (await call(stack, "POST", reader))[0] == 403  # running it needs write
    status, body = await call(stack, "POST", writer)
    assert status == 200, body
    figures = body["reconciliation"]
    assert figures["last_run"]["status"] == "finished"
    assert figures["last_run"]["orders_checked"] == 2
    assert figures["last_run"]["orders_recovered"] == 2
    assert figures["orders_recovered_total"] == 2
    assert figures["last_error"] is None
    assert figures["checkpoint"] == (now + timedelta(minutes=2)).isoformat()

    status, body = await call(stack, "GET", reader)
    assert status == 200
    assert body["reconciliation"]["last_run"]["orders_recovered"] == 2
    assert (
        body["reconciliation"]["last_run"]["started_at"]
        <= body["reconciliation"]["last_run"]["finished_at"]
    )

    # A second round finds nothing missing.
    status, body = await call(stack, "POST", writer)
    assert body["reconciliation"]["last_run"]["orders_recovered"] == 0
    assert body["reconciliation"]["orders_recovered_total"] == 2


async def test_a_failed_round_shows_its_error(stack: Stack) -> None:
    stack.shopify.faults.add("status", status=502, times=None, shop=stack.shop)
    status, body = await call(stack, "POST", "operator-token-reconcile", shop=stack.shop)
    assert status == 200, body
    assert body["reconciliation"]["last_run"]["status"] == "failed"
    assert "could not be reached" in body["reconciliation"]["last_error"]
    assert body["reconciliation"]["last_error_at"] is not None


async def test_without_credentials_or_for_another_shop_nothing_is_shown(stack: Stack) -> None:
    await call(stack, "POST", "operator-token-reconcile", shop=stack.shop)
    assert (await call(stack, "GET", None))[0] == 401
    assert (await call(stack, "POST", None))[0] == 401
    assert (await call(stack, "GET", "fbt_not_a_token"))[0] == 401
    other = (await ApiTokenStore(stack.pool).create("other.myshopify.com", "manage_apps")).token
    assert (await call(stack, "GET", other, shop=stack.shop))[0] == 403
    assert (await call(stack, "POST", other, shop=stack.shop))[0] == 403
    status, body = await call(stack, "GET", other)  # its own shop: nothing of this one
    assert status == 200
    assert body["reconciliation"]["shop"] == "other.myshopify.com"
    assert body["reconciliation"]["last_run"] is None
    assert body["reconciliation"]["checkpoint"] is None
    # Another shop without a Shopify token cannot run one.
    status, body = await call(stack, "POST", other)
    assert status == 409
    assert "no Shopify access token" in body["error"]
