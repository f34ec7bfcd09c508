"""``fortbridge preflight --shop S [--json]``: the pre-flight check from the command line, against
the running stack's database and the Fortnox simulator (a process of its own)."""

from __future__ import annotations

import asyncio

import pytest

from simulators.shopify.payloads import LineSpec, order_payload
from tests.conftest import StackFactory
from tests.support.stack import Stack
from tests.test_cli import fortbridge

pytestmark = pytest.mark.slow


async def test_the_cli_runs_the_check_and_prints_its_findings(
    stack_factory: StackFactory,
) -> None:
    stack = await stack_factory()
    order = order_payload(lines=[LineSpec("Bier", "10.00", 1, "0.19", "BEER")])
    await stack.send_order(order)
    await stack.wait_for(lambda: _payload_stored(stack, str(order["id"])))
    settings = stack.settings
    env = {
        "DATABASE_URL": settings.database_url,
        "FORTNOX_API_URL": settings.fortnox_api_url,
        "FORTNOX_AUTH_URL": settings.fortnox_auth_url,
        "FORTNOX_CLIENT_ID": settings.fortnox_client_id,
        "FORTNOX_CLIENT_SECRET": settings.fortnox_client_secret.get_secret_value(),
        "TOKEN_ENCRYPTION_KEYS": settings.token_encryption_keys.get_secret_value(),
        "LOG_LEVEL": "WARNING",
    }
    code, out, err = await asyncio.to_thread(
        fortbridge, "preflight", "--shop", stack.shop, "--json", **env
    )
    assert code == 1, (out, err)  # a problem: exit 1
    assert out["shop"] == stack.shop
    assert "vat-19" in {f["id"] for f in out["preflight"]["findings"]}
    code, text, _ = await asyncio.to_thread(fortbridge, "preflight", "--shop", stack.shop, **env)
    assert code == 1 and "[error] vat-19: VAT rate 19 % is missing in Fortnox" in text
    stack.fortnox.set_vat_rates(stack.tenant_id, ["25", "12", "6", "0", "19"])
    code, out, _ = await asyncio.to_thread(
        fortbridge, "preflight", "--shop", stack.shop, "--json", **env
    )
    assert code == 0 and out["preflight"]["status"] == "ok", out
    code, out, _ = await asyncio.to_thread(
        fortbridge, "preflight", "--shop", "not a shop", "--json", **env
    )
    assert code == 1 and "shop domain" in out["error"]


async def _payload_stored(stack: Stack, order_id: str) -> bool:
    return bool(
        await stack.pool.fetchval(
            "SELECT 1 FROM mapper.order_payloads WHERE order_id = $1", order_id
        )
    )
