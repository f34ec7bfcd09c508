"""The pre-flight check against the simulators, on the running stack: what the shop needs
(settings, rules, recent orders) against what its Fortnox has (registers read through the
writer's rate-limited client); findings stored per shop, the one-click fix, never blocking."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fortbridge.localstack import CLIENT_ID
from libs.common.access import ApiTokenStore
from libs.common.crypto import TokenCipher
from services.fortnox_writer.connections import ConnectionStore
from services.fortnox_writer.preflight.check import PreflightCheck
from services.fortnox_writer.ratelimit import rate_limiter
from simulators.shopify.payloads import LineSpec, order_payload
from tests.conftest import StackFactory
from tests.support.stack import Stack

PATH = "/admin/api/integrations/fortnox/preflight.json"
FIX = "/admin/api/integrations/fortnox/preflight/fix.json"
OTHER_SHOP = "someone-else.myshopify.com"
REGISTER_PATHS = (
    "/3/accounts",
    "/3/modesofpayments",
    "/3/termsofpayments",
    "/3/currencies",
    "/3/vatcodes",
)


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory(admin_api_token="operator-preflight")


async def call(stack: Stack, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with stack.http.request(
        method,
        stack.url("fortnox_writer", path),
        params={"shop": stack.shop},
        json=body,
        headers=stack.admin_headers(),
    ) as response:
        return response.status, await response.json()


async def run(stack: Stack) -> dict[str, Any]:
    status, body = await call(stack, "POST", PATH)
    assert status == 200, body
    return dict(body["preflight"])


def ids(result: dict[str, Any]) -> set[str]:
    return {finding["id"] for finding in result["findings"]}


def german_order() -> dict[str, Any]:
    order = order_payload(lines=[LineSpec("Bier", "10.00", 3, "0.19", "BEER DE/1")])
    order["shipping_address"] = {**(order.get("shipping_address") or {}), "country_code": "DE"}
    return order


async def test_a_shop_with_what_it_needs_is_ok_in_a_few_register_reads(stack: Stack) -> None:
    status, body = await call(stack, "GET", PATH)
    assert (status, body["preflight"]["status"]) == (200, "pending")
    before = len(stack.fortnox.requests)
    result = await run(stack)
    assert result["status"] == "ok", result
    assert result["checked_at"] and result["tenant_id"] == stack.tenant_id
    # Connected for orders and payments (the app's Connect button), Fortnox lets Fortbridge
    # read the chart of accounts and VAT rates but not the settings' and currencies' registers:
    # said (info), not guessed.
    [finding] = result["findings"]
    assert (finding["id"], finding["severity"]) == ("unreadable-registers", "info")
    assert finding["title"] == (
        "Fortbridge could not check your currencies, modes of payment and terms of payment"
    )
    assert "currency and settings" in finding["fix"]
    calls = [r.path for r in stack.fortnox.requests[before:]]
    assert sorted(calls) == sorted(REGISTER_PATHS)  # one list call per register
    assert stack.fortnox.count_429 == 0  # within the tenant's rate limit
    _, body = await call(stack, "GET", PATH)
    assert body["preflight"] == result  # stored
    await grant_every_scope(stack)
    assert (await run(stack))["findings"] == []


async def test_a_missing_vat_rate_is_found_explained_and_clears_once_added(stack: Stack) -> None:
    await stack.send_order(german_order())
    await stack.wait_for(lambda: _failed(stack))
    [job] = await stack.failed_jobs()
    result = await run(stack)
    assert result["status"] == "problems"
    vat = next(f for f in result["findings"] if f["id"] == "vat-19")
    assert vat["severity"] == "error"
    assert "19 %" in vat["title"] and "DE" in vat["explanation"]
    assert "OSS" in vat["fix"] and vat["fix_action"] is None  # the API cannot add a VAT rate
    # The failed job names the finding.
    assert "finding vat-19 " in job["explanation"], job
    # SKUs that are not valid article numbers: what they become.
    sku = next(f for f in result["findings"] if f["id"] == "sku-article-numbers")
    assert "'BEER DE/1' becomes 'BEER_20DE_2F1'" in sku["explanation"]
    # The merchant adds 19 % in Fortnox; the next check no longer finds it.
    stack.fortnox.set_vat_rates(stack.tenant_id, ["25", "12", "6", "0", "19"])
    assert "vat-19" not in ids(await run(stack))


async def _failed(stack: Stack) -> bool:
    return bool(await stack.failed_jobs())


async def test_a_missing_mode_of_payment_is_created_by_the_one_click_fix(stack: Stack) -> None:
    await grant_every_scope(stack)
    stack.fortnox.tenant(stack.tenant_id).modes_of_payment.pop("KLARNA")  # never set up
    await _settings(stack, {"default_payment_mode": "KLARNA"})
    result = await run(stack)
    finding = next(f for f in result["findings"] if f["id"] == "mode-of-payment-KLARNA")
    assert finding["severity"] == "warning" and result["status"] == "warnings"
    action = finding["fix_action"]
    assert (action["method"], action["path"]) == ("POST", FIX)
    status, body = await call(stack, action["method"], action["path"], action["body"])
    assert status == 200, body
    assert "KLARNA" in stack.fortnox.tenant(stack.tenant_id).modes_of_payment
    assert body["fixed"] == "mode-of-payment-KLARNA"
    assert body["preflight"]["status"] == "ok"
    # A finding without a safe fix (or not in the last result) is refused.
    status, body = await call(stack, "POST", FIX, {"finding": "vat-19"})
    assert (status, body["field"]) == (422, "finding")


async def test_accounts_currencies_terms_and_scopes(stack: Stack) -> None:
    await _settings(
        stack,
        {
            "accounts": {"eu_vat": 3011, "sweden": {"25": 3001}},
            "document_fields": {"TermsOfPayment": "45"},
            "document_kind": "order",
        },
    )
    tenant = stack.fortnox.tenant(stack.tenant_id)
    tenant.accounts[3001] = (tenant.accounts[3001][0], False, "MP1")
    tenant.currencies.discard("NOK")
    order = order_payload(lines=[LineSpec("Ull", "100.00", 1, "0.25", "WOOL")])
    order["currency"] = order["presentment_currency"] = "NOK"
    await _remember(stack, order)
    await grant_every_scope(stack)
    await stack.pool.execute(  # as if connected without the orders feature
        "UPDATE fortnox_writer.connections SET scopes = 'invoice customer article "
        "companyinformation bookkeeping settings currency' WHERE shop = $1",
        stack.shop,
    )
    found = {f["id"]: f for f in (await run(stack))["findings"]}
    assert "does not exist" in found["account-3011"]["title"]
    assert "inactive" in found["account-3001"]["title"]
    assert "currency-NOK" in found and "terms-of-payment-45" in found
    assert "scope-order" in found and "Reconnect" in found["scope-order"]["fix"]


async def test_a_register_the_connection_may_not_read_is_said_not_guessed(stack: Stack) -> None:
    await grant_every_scope(stack)
    stack.fortnox.set_licence(stack.tenant_id, "settings", False)
    result = await run(stack)
    finding = next(f for f in result["findings"] if f["id"] == "unreadable-registers")
    assert finding["severity"] == "info" and "licence for settings" in finding["explanation"]
    assert "modes of payment and terms of payment" in finding["title"]
    assert result["status"] == "ok"


async def test_a_feature_the_fortnox_plan_lacks_is_found(stack: Stack) -> None:
    order = order_payload(lines=[LineSpec("Ull", "100.00", 1, "0.25", "WOOL")])
    order["payment_gateway_names"] = ["shopify_payments"]
    await _remember(stack, order)
    result = await run(stack)
    assert not any(f["id"].startswith("licence-") for f in result["findings"])
    stack.fortnox.set_licence(stack.tenant_id, "payment", False)
    before = len(stack.fortnox.requests)
    found = {f["id"]: f for f in (await run(stack))["findings"]}
    assert found["licence-payment"]["severity"] == "error"
    assert f"order {order['name']} was paid" in found["licence-payment"]["explanation"]
    # One read of one row tells: GET /3/invoicepayments?limit=1.
    probes = [r for r in stack.fortnox.requests[before:] if r.path == "/3/invoicepayments"]
    assert [r.query for r in probes] == ["limit=1"]


async def test_a_shop_without_fortnox_gets_one_finding_and_no_fortnox_call(stack: Stack) -> None:
    await stack.pool.execute("DELETE FROM fortnox_writer.connections WHERE shop = $1", stack.shop)
    before = len(stack.fortnox.requests)
    result = await run(stack)
    assert ids(result) == {"fortnox-not-connected"}
    assert len(stack.fortnox.requests) == before


async def test_the_endpoints_check_the_caller(stack: Stack) -> None:
    """C1: credentials, scope, the caller's own shop; C8: bodies and the shop parameter."""
    url = stack.url("fortnox_writer", PATH)
    fix = stack.url("fortnox_writer", FIX)
    async with stack.http.post(url, params={"shop": stack.shop}) as response:
        assert response.status == 401
    async with stack.http.get(
        url, params={"shop": "not a shop"}, headers=stack.admin_headers()
    ) as response:
        assert response.status == 400
    reader = (await ApiTokenStore(stack.pool).create(stack.shop, "read_integrations")).token
    as_reader = {"Authorization": f"Bearer {reader}"}
    async with stack.http.get(url, headers=as_reader) as response:
        assert response.status == 200
    before = len(stack.fortnox.requests)
    for target in (url, fix):
        async with stack.http.post(target, headers=as_reader, json={"finding": "x"}) as response:
            assert response.status == 403  # running the check or a fix needs write_integrations
    assert len(stack.fortnox.requests) == before
    other = (await ApiTokenStore(stack.pool).create(OTHER_SHOP, "write_integrations")).token
    async with stack.http.post(
        url, params={"shop": stack.shop}, headers={"Authorization": f"Bearer {other}"}
    ) as response:
        assert response.status == 403  # another shop's credentials
    assert len(stack.fortnox.requests) == before
    for body, status in ((b"[", 400), (b'{"finding": 1}', 422), (b"{" + b" " * 5000 + b"}", 413)):
        async with stack.http.post(
            fix, params={"shop": stack.shop}, data=body, headers=stack.admin_headers()
        ) as response:
            assert response.status == status, body[:20]


async def grant_every_scope(stack: Stack) -> None:
    """Reconnect the shop with every scope (the settings and currency registers readable)."""
    store = ConnectionStore(
        stack.pool,
        TokenCipher(stack.settings.token_encryption_keys.get_secret_value()),
        stack.http,
        stack.settings,
    )
    tokens = stack.fortnox.issue_tokens(CLIENT_ID, stack.tenant_id)
    await store.save(stack.shop, stack.tenant_id, tokens, company_name="Demo AB")


async def _settings(stack: Stack, settings: dict[str, Any]) -> None:
    await stack.pool.execute(
        "INSERT INTO mapper.shop_settings (shop, settings) VALUES ($1, $2::jsonb)"
        " ON CONFLICT (shop) DO UPDATE SET settings = EXCLUDED.settings",
        stack.shop,
        json.dumps(settings),
    )


async def _remember(stack: Stack, order: dict[str, Any]) -> None:
    await stack.pool.execute(
        "INSERT INTO mapper.order_payloads (shop, order_id, topic, payload) VALUES"
        " ($1, $2, 'orders/create', $3::jsonb)",
        stack.shop,
        str(order["id"]),
        json.dumps(order, default=str),
    )


async def test_the_check_runs_at_connect_and_again_when_a_day_old(stack: Stack) -> None:
    """Connecting through the OAuth flow (as the stack did) marks the shop due (the sweep runs
    what is due); a result older than PREFLIGHT_INTERVAL_SECONDS is due again, a fresh one is
    not."""
    due = await stack.pool.fetchval(
        "SELECT due_at FROM fortnox_writer.preflight_results WHERE shop = $1", stack.shop
    )
    assert due is not None
    check = preflight_check(stack)
    interval = stack.settings.preflight_interval_seconds
    # (The session's database holds other tests' shops too: look at this one only.)
    assert stack.shop in await check.store.due(interval, limit=1_000_000)
    assert (await check.run(stack.shop)).ran
    result = await check.store.get(stack.shop)
    assert result is not None and result.checked_at is not None and result.status == "ok"
    assert stack.shop not in await check.store.due(interval, limit=1_000_000)  # checked: not due
    await stack.pool.execute(
        "UPDATE fortnox_writer.preflight_results SET checked_at = now() - interval '2 days'"
        " WHERE shop = $1",
        stack.shop,
    )
    assert stack.shop in await check.store.due(interval, limit=1_000_000)
    # A shop connected another way (the CLI, a restore) and never checked is due too.
    await stack.pool.execute(
        "DELETE FROM fortnox_writer.preflight_results WHERE shop = $1", stack.shop
    )
    assert stack.shop in await check.store.due(interval, limit=1_000_000)


def preflight_check(stack: Stack) -> PreflightCheck:
    cipher = TokenCipher(stack.settings.token_encryption_keys.get_secret_value())
    return PreflightCheck(
        pool=stack.pool,
        http=stack.http,
        settings=stack.settings,
        connections=ConnectionStore(stack.pool, cipher, stack.http, stack.settings),
        limiter=rate_limiter(stack.pool, stack.settings),
    )
