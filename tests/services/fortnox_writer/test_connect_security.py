"""Attacks on connecting Fortnox, performed against the running writer and the Fortnox simulator.

Issue 12, finding 1: the old flow let anyone start connecting any shop and overwrite its Fortnox
company with their own. Each test here performs one attack (or one way of losing control of
the connection) and shows it fails, and that nothing was stored or changed. What a switch of
company (asked for) does to the shop's work is test_company_switch.py.
"""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest

from fortbridge import fortnox_connect
from fortbridge.localstack import (
    LocalStack,
    command_publisher,
    order_command,
)
from libs.common.messaging import Topology
from simulators.shopify.payloads import order_payload
from tests.services.fortnox_writer.connect_support import (
    OPERATOR,
    bearer,
    connection,
    new_tenant,
    writer,
    writer_stack,
)
from tests.support.stack import SHOPIFY_SECRET

pytestmark = pytest.mark.slow

CONNECTION = "/admin/api/integrations/fortnox/connection.json"
RELEASE = "/admin/api/integrations/fortnox/connection/release.json"


@pytest.fixture
async def stack(
    amqp_url: str, database_url: str, broker_cleanup: Topology
) -> AsyncIterator[LocalStack]:
    async with writer_stack(amqp_url, database_url, broker_cleanup.namespace) as running:
        yield running


def session_token(stack: LocalStack, shop: str) -> str:
    now = int(time.time())
    claims = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": stack.settings.shopify_api_key,
        "sub": "42",
        "exp": now + 60,
        "nbf": now - 5,
    }
    return sign(claims, SHOPIFY_SECRET)


def sign(claims: dict[str, Any], key: str) -> str:
    with warnings.catch_warnings():  # the simulators' secrets are shorter than production's
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(claims, key, algorithm="HS256")


async def stored_attempts(stack: LocalStack, shop: str) -> int:
    tickets = await stack.pool.fetchval(
        "SELECT count(*) FROM fortnox_writer.connect_tickets WHERE shop = $1", shop
    )
    states = await stack.pool.fetchval(
        "SELECT count(*) FROM fortnox_writer.oauth_states WHERE shop = $1", shop
    )
    return int(tickets) + int(states)


async def start(
    stack: LocalStack, headers: dict[str, str], **params: str
) -> tuple[int, dict[str, Any]]:
    async with stack.http.post(
        f"{writer(stack)}/auth/fortnox/start.json", params=params, json={}, headers=headers
    ) as response:
        return response.status, await response.json(content_type=None)


async def until_consent(
    stack: LocalStack, headers: dict[str, str], tenant: str, *, switch: bool = False
) -> tuple[dict[str, str], str]:
    """Start, launch and consent (for ``tenant``): the callback's query and the cookie."""
    launch = await fortnox_connect.start(stack.http, writer(stack), headers, switch_company=switch)
    return await fortnox_connect.consent(stack.http, launch, tenant)


async def callback(
    stack: LocalStack, query: dict[str, str], cookie: str | None
) -> fortnox_connect.ConnectAnswer:
    return await fortnox_connect.callback(stack.http, writer(stack), query, cookie)


async def test_anonymous_or_forged_callers_cannot_start_and_nothing_is_stored(
    stack: LocalStack,
) -> None:
    shop = stack.shop
    before = await stored_attempts(stack, shop)
    # The old anonymous route is gone (404), whatever it is asked.
    async with stack.http.get(
        f"{writer(stack)}/auth/fortnox/start", params={"shop": shop}, allow_redirects=False
    ) as response:
        assert response.status == 404
    # No credentials, from this machine too (the operator needs ADMIN_API_TOKEN): 401.
    status, body = await start(stack, {}, shop=shop)
    assert status == 401 and "credentials" in body["error"]
    # A session token not signed by Shopify with the app's secret: 401.
    forged = sign(
        {"dest": f"https://{shop}", "aud": stack.settings.shopify_api_key, "exp": 2**31},
        "not-the-app-secret",
    )
    assert (await start(stack, {"Authorization": f"Bearer {forged}"}))[0] == 401
    assert (await start(stack, {"Authorization": "Bearer fbt_made-up"}))[0] == 401
    # The shop's own token without write_integrations: 403.
    assert (await start(stack, await bearer(stack, shop, "read_integrations")))[0] == 403
    assert await stored_attempts(stack, shop) == before

    # The legitimate callers do get a ticket: the shop's session token, its API token with
    # write_integrations, the deployment's operator for a named shop.
    session = {"Authorization": f"Bearer {session_token(stack, shop)}"}
    assert (await start(stack, session))[0] == 200
    assert (await start(stack, await bearer(stack, shop)))[0] == 200
    assert (await start(stack, {"Authorization": f"Bearer {OPERATOR}"}, shop=shop))[0] == 200
    assert await stored_attempts(stack, shop) == before + 3


async def test_another_shops_credentials_cannot_start_for_this_shop(stack: LocalStack) -> None:
    other = f"attacker-{uuid.uuid4().hex[:8]}.myshopify.com"
    before = await stored_attempts(stack, stack.shop)
    # The attacker's shop's API token (every scope) and session token, naming our shop.
    token = await bearer(stack, other, "manage_apps")
    session = {"Authorization": f"Bearer {session_token(stack, other)}"}
    for headers in (token, session):
        status, body = await start(stack, headers, shop=stack.shop)
        assert status == 403, body
    # Without ?shop= they only ever start for their own shop.
    status, body = await start(stack, token)
    assert status == 200 and body["shop"] == other
    assert await stored_attempts(stack, stack.shop) == before


async def test_a_used_ticket_or_state_is_refused_the_second_time(stack: LocalStack) -> None:
    headers = await bearer(stack, stack.shop)
    launch = await fortnox_connect.start(stack.http, writer(stack), headers)
    query, cookie = await fortnox_connect.consent(stack.http, launch, stack.tenant_id)
    async with stack.http.get(launch, allow_redirects=False) as response:  # the ticket again
        assert response.status == 400
        assert "already used" in await response.text()
        assert "Location" not in response.headers and fortnox_connect.COOKIE not in response.cookies
    first = await callback(stack, query, cookie)
    assert first.status == 200 and first.body["action"] == "reconnected"
    row = await connection(stack, stack.shop)
    second = await callback(stack, query, cookie)
    assert second.status == 400 and second.body["reason"] == "state_used", second.body
    assert await connection(stack, stack.shop) == row  # untouched

    async with stack.http.get(
        f"{writer(stack)}/auth/fortnox/launch", params={"ticket": "made-up"}
    ) as response:
        assert response.status == 400 and "not one Fortbridge issued" in await response.text()


async def test_a_callback_in_another_browser_is_refused(stack: LocalStack) -> None:
    attacker_tenant = new_tenant(stack, "Attacker AB")
    headers = await bearer(stack, stack.shop)
    query, cookie = await until_consent(stack, headers, attacker_tenant, switch=True)
    _, other_cookie = await until_consent(stack, headers, attacker_tenant, switch=True)
    for wrong in (None, other_cookie, "forged"):
        answer = await callback(stack, query, wrong)
        assert answer.status == 400 and answer.body["reason"] == "other_browser", answer.body
    row = await connection(stack, stack.shop)
    assert row["tenant_id"] == stack.tenant_id
    # The refusals did not spend the state: the browser that launched it still can.
    answer = await callback(stack, query, cookie)
    assert answer.status == 200 and answer.body["action"] == "switched"


async def test_consent_with_another_company_does_not_replace_the_shops_company(
    stack: LocalStack,
) -> None:
    """Someone who can start the flow (say, a leaked staff token) consents with their own
    Fortnox company without asking to switch: refused, and orders still go to the shop's."""
    attacker_tenant = new_tenant(stack, "Attacker AB")
    row = await connection(stack, stack.shop)
    query, cookie = await until_consent(stack, await bearer(stack, stack.shop), attacker_tenant)
    answer = await callback(stack, query, cookie)
    assert answer.status == 409 and answer.body["reason"] == "company_mismatch", answer.body
    assert "Demo AB" in answer.body["error"] and "Attacker AB" in answer.body["error"]
    assert await connection(stack, stack.shop) == row
    assert not await stack.pool.fetchval(
        "SELECT count(*) FROM fortnox_writer.connection_audit WHERE shop = $1 AND to_tenant = $2",
        stack.shop,
        attacker_tenant,
    )
    order = order_payload()
    async with command_publisher(stack.settings) as publish:
        await publish(order_command(stack.shop, order))
    await stack.wait_for(lambda: bool(stack.invoices_for(order["id"])))
    assert not stack.fortnox.tenant(attacker_tenant).invoices


async def test_a_company_changed_since_the_start_is_refused(stack: LocalStack) -> None:
    headers = await bearer(stack, stack.shop)
    second, third = new_tenant(stack, "Second AB"), new_tenant(stack, "Third AB")
    # Flow 1 starts while the shop is connected to the first company ...
    stale_query, stale_cookie = await until_consent(stack, headers, second, switch=True)
    # ... flow 2 switches the shop to the third company meanwhile ...
    query, cookie = await until_consent(stack, headers, third, switch=True)
    assert (await callback(stack, query, cookie)).status == 200
    # ... so flow 1, which was about the first company, may not switch it again.
    answer = await callback(stack, stale_query, stale_cookie)
    assert answer.status == 409 and answer.body["reason"] == "company_changed", answer.body
    assert (await connection(stack, stack.shop))["tenant_id"] == third


async def test_expired_tickets_and_states_are_refused(stack: LocalStack) -> None:
    headers = await bearer(stack, stack.shop)
    launch = await fortnox_connect.start(stack.http, writer(stack), headers)
    await stack.pool.execute(
        "UPDATE fortnox_writer.connect_tickets SET expires_at = now() - interval '1 second'"
        " WHERE shop = $1 AND used_at IS NULL",
        stack.shop,
    )
    async with stack.http.get(launch, allow_redirects=False) as response:
        assert response.status == 400 and "expired" in await response.text()
    states = await stored_attempts(stack, stack.shop)

    query, cookie = await until_consent(stack, headers, stack.tenant_id)
    await stack.pool.execute(
        "UPDATE fortnox_writer.oauth_states SET expires_at = now() - interval '1 second'"
        " WHERE shop = $1 AND used_at IS NULL",
        stack.shop,
    )
    answer = await callback(stack, query, cookie)
    assert answer.status == 400 and answer.body["reason"] == "expired", answer.body
    assert states < await stored_attempts(stack, stack.shop)
