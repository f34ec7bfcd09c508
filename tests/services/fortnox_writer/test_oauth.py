"""Connecting Fortnox through the writer: signed state, authorize redirect, callback."""

from __future__ import annotations

import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from libs.common.messaging import Topology
from services.fortnox_writer import oauth
from tests.support.stack import running_stack

KEY = b"k" * 32


def test_state_round_trip_and_refusals() -> None:
    state = oauth.sign_state(KEY, "a.myshopify.com", 600, ["orders"])
    assert oauth.verify_state(KEY, state).shop == "a.myshopify.com"
    assert oauth.verify_state(KEY, state).features == ("orders",)
    payload, _, signature = state.partition(".")
    with pytest.raises(oauth.StateError, match="forged"):
        oauth.verify_state(KEY, f"{payload}.{signature[:-2]}xx")
    with pytest.raises(oauth.StateError, match="forged"):
        oauth.verify_state(b"another key", state)
    with pytest.raises(oauth.StateError, match="expired"):
        oauth.verify_state(
            KEY, oauth.sign_state(KEY, "a.myshopify.com", 600, now=time.time() - 700)
        )
    with pytest.raises(oauth.StateError, match="malformed"):
        oauth.verify_state(KEY, "")
    # Non-ASCII in a forged signature is refused like any forgery (schemathesis found a 500).
    with pytest.raises(oauth.StateError, match="forged"):
        oauth.verify_state(KEY, f"{payload}.sig²é")


def test_scopes_follow_the_shops_features() -> None:
    assert oauth.scopes_for([]) == ["companyinformation", "customer", "article", "invoice"]
    assert "order" in oauth.scopes_for(["orders"])
    assert {"payment", "bookkeeping"} <= set(oauth.scopes_for(["payments"]))
    with pytest.raises(ValueError, match="unknown feature"):
        oauth.scopes_for(["teleport"])


async def test_start_and_callback_connect_a_shop(
    amqp_url: str, database_url: str, broker_cleanup: Topology
) -> None:
    async with running_stack(
        amqp_url=amqp_url,
        database_url=database_url,
        namespace=broker_cleanup.namespace,
        services=("fortnox_writer",),
    ) as stack:
        shop = f"new-{uuid.uuid4().hex[:8]}.myshopify.com"
        tenant = str(4_000_000 + uuid.uuid4().int % 1_000_000)
        stack.fortnox.add_tenant(tenant_id=tenant, company_name="New AB")
        stack.fortnox.default_tenant_for_consent = tenant
        settings = stack.settings
        async with stack.http.get(
            stack.url("fortnox_writer", "/auth/fortnox/start"),
            params={"shop": shop, "features": "orders"},
            allow_redirects=False,
        ) as response:
            assert response.status == 302
            location = response.headers["Location"]
        parts = urlsplit(location)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
            settings.fortnox_auth_url + "/oauth-v1/auth"
        )
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert query["client_id"] == settings.fortnox_client_id
        assert query["redirect_uri"] == settings.fortnox_redirect_url
        assert query["access_type"] == "offline" and query["response_type"] == "code"
        assert {"invoice", "order", "companyinformation"} <= set(query["scope"].split())
        assert oauth.verify_state(oauth.signing_key(settings), query["state"]).shop == shop

        # The merchant consents at Fortnox, which redirects back with a code and the state.
        async with stack.http.get(location, allow_redirects=False) as response:
            back = {
                k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()
            }
        callback = stack.url("fortnox_writer", "/auth/fortnox/callback")

        forged = back["state"][:-3] + "abc"
        async with stack.http.get(callback, params={**back, "state": forged}) as response:
            assert response.status == 400
            assert "forged" in (await response.json())["error"]
        expired = oauth.sign_state(oauth.signing_key(settings), shop, -1)
        async with stack.http.get(callback, params={**back, "state": expired}) as response:
            assert response.status == 400
            assert "expired" in (await response.json())["error"]

        async with stack.http.get(callback, params=back) as response:
            assert response.status == 200, await response.text()
            assert (await response.json())["tenant_id"] == tenant
        row = await stack.pool.fetchrow(
            "SELECT * FROM fortnox_writer.connections WHERE shop = $1", shop
        )
        assert row["status"] == "connected" and row["tenant_id"] == tenant
        assert b"eyJ" not in bytes(row["access_token"])  # the JWT is stored encrypted
        # companyinformation took a rate-limit slot of the tenant.
        assert await stack.pool.fetchval(
            "SELECT count(*) FROM fortnox_writer.rate_limits WHERE tenant_id = $1", tenant
        )
        # The code is single use: replaying the callback is refused clearly.
        async with stack.http.get(callback, params=back) as response:
            assert response.status == 400
            assert "refused the authorization" in (await response.json())["error"]

        async with stack.http.get(
            stack.url("fortnox_writer", "/admin/api/integrations/fortnox/connection.json"),
            params={"shop": shop},
        ) as response:
            status = (await response.json())["connection"]
        assert status["status"] == "connected" and status["tenant_id"] == tenant
        assert "order" in status["scopes"]
