"""Connecting Fortnox through the writer: signed state, authorize redirect, callback."""

from __future__ import annotations

import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from fortbridge import fortnox_connect
from libs.common.access import ApiTokenStore
from libs.common.messaging import Topology
from libs.common.settings import Settings
from services.fortnox_writer import oauth
from services.fortnox_writer.routes import return_url
from tests.support.stack import running_stack

KEY = b"k" * 32


def test_state_round_trip_and_refusals() -> None:
    state = oauth.sign_state(KEY, "a.myshopify.com", 600, ["orders"], nonce="n1", tenant="42")
    assert oauth.verify_state(KEY, state).shop == "a.myshopify.com"
    assert oauth.verify_state(KEY, state).features == ("orders",)
    assert oauth.verify_state(KEY, state).nonce == "n1"
    assert oauth.verify_state(KEY, state).tenant == "42"
    assert oauth.verify_state(KEY, oauth.sign_state(KEY, "a.myshopify.com", 600)).tenant is None
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


def test_the_browser_cookie_is_bound_to_the_nonce_and_the_key() -> None:
    cookie = oauth.browser_binding(KEY, "nonce-1")
    assert oauth.binding_matches(KEY, "nonce-1", cookie)
    assert not oauth.binding_matches(KEY, "nonce-2", cookie)  # another flow's cookie
    assert not oauth.binding_matches(b"another key", "nonce-1", cookie)
    assert not oauth.binding_matches(KEY, "nonce-1", None)
    assert not oauth.binding_matches(KEY, "nonce-1", "nonce-1")  # the nonce itself is no cookie
    assert not oauth.binding_matches(KEY, "nonce-1", cookie + "é")


def test_scopes_follow_the_shops_features() -> None:
    assert oauth.scopes_for([]) == ["companyinformation", "customer", "article", "invoice"]
    assert "order" in oauth.scopes_for(["orders"])
    assert {"payment", "bookkeeping"} <= set(oauth.scopes_for(["payments"]))
    with pytest.raises(ValueError, match="unknown feature"):
        oauth.scopes_for(["teleport"])


@pytest.mark.slow
async def test_start_launch_and_callback_connect_a_shop(
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
        settings = stack.settings
        writer = stack.url("fortnox_writer", "")
        token = (await ApiTokenStore(stack.pool).create(shop, "write_integrations")).token
        async with stack.http.post(
            f"{writer}/auth/fortnox/start.json",
            json={"features": ["orders"]},
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            assert response.status == 200, await response.text()
            started = await response.json()
        assert started["expires_in"] == int(settings.fortnox_connect_ticket_ttl_seconds)
        launch = urlsplit(started["launch_url"])
        # The launch URL is absolute, on the origin of the registered callback (one cookie).
        assert f"{launch.scheme}://{launch.netloc}" == "http://127.0.0.1:8082"
        assert launch.path == "/auth/fortnox/launch" and "ticket=" in launch.query

        async with stack.http.get(
            f"{writer}{launch.path}?{launch.query}", allow_redirects=False
        ) as response:
            assert response.status == 302
            location = response.headers["Location"]
            assert response.headers["Referrer-Policy"] == "no-referrer"
            cookie = response.cookies[fortnox_connect.COOKIE]
        assert cookie["httponly"] and cookie["samesite"] == "Lax"
        assert cookie["path"] == "/auth/fortnox" and not cookie["secure"]  # http here
        parts = urlsplit(location)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
            settings.fortnox_auth_url + "/oauth-v1/auth"
        )
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert query["client_id"] == settings.fortnox_client_id
        assert query["redirect_uri"] == settings.fortnox_redirect_url
        assert query["access_type"] == "offline" and query["response_type"] == "code"
        assert {"invoice", "order", "companyinformation"} <= set(query["scope"].split())
        state = oauth.verify_state(oauth.signing_key(settings), query["state"])
        assert state.shop == shop and state.tenant is None and state.features == ("orders",)

        # The merchant consents at Fortnox, which redirects back with a code and the state.
        async with stack.http.get(
            location, params={"tenant_id": tenant}, allow_redirects=False
        ) as response:
            back = {
                k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()
            }
        callback = stack.url("fortnox_writer", "/auth/fortnox/callback")
        browser = {"Cookie": f"{fortnox_connect.COOKIE}={cookie.value}"}

        forged = back["state"][:-3] + "abc"
        async with stack.http.get(
            callback, params={**back, "state": forged}, headers=browser, allow_redirects=False
        ) as response:
            assert response.status == 302
            assert "fortnox=error&reason=invalid_state" in response.headers["Location"]
        async with stack.http.get(
            callback, params=back, headers={**browser, "Accept": "application/json"}
        ) as response:
            assert response.status == 200, await response.text()
            body = await response.json()
        assert body["tenant_id"] == tenant and body["company_name"] == "New AB"
        assert body["action"] == "connected"
        row = await stack.pool.fetchrow(
            "SELECT * FROM fortnox_writer.connections WHERE shop = $1", shop
        )
        assert row["status"] == "connected" and row["tenant_id"] == tenant
        assert row["company_name"] == "New AB"
        assert b"eyJ" not in bytes(row["access_token"])  # the JWT is stored encrypted
        # companyinformation took a rate-limit slot of the tenant.
        assert await stack.pool.fetchval(
            "SELECT count(*) FROM fortnox_writer.rate_limits WHERE tenant_id = $1", tenant
        )
        audit = await stack.pool.fetchrow(
            "SELECT * FROM fortnox_writer.connection_audit WHERE shop = $1", shop
        )
        assert audit["action"] == "connected" and audit["actor"].startswith("token:")
        assert audit["to_tenant"] == tenant and audit["from_tenant"] is None

        async with stack.http.get(
            stack.url("fortnox_writer", "/admin/api/integrations/fortnox/connection.json"),
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            status = (await response.json())["connection"]
        assert status["status"] == "connected" and status["tenant_id"] == tenant
        assert status["company_name"] == "New AB"
        assert status["reconnect_url"] == "/auth/fortnox/start.json"
        assert "order" in status["scopes"]
        assert [entry["action"] for entry in status["history"]] == ["connected"]


@pytest.mark.slow
async def test_the_browser_returns_to_the_app_with_the_outcome(
    amqp_url: str, database_url: str, broker_cleanup: Topology
) -> None:
    """Without Accept: application/json the callback sends the browser to the return URL."""
    async with running_stack(
        amqp_url=amqp_url,
        database_url=database_url,
        namespace=broker_cleanup.namespace,
        services=("fortnox_writer",),
        fortnox_connect_return_url="https://app.example.com/app/start?embedded=1",
    ) as stack:
        writer = stack.url("fortnox_writer", "")
        launch = await fortnox_connect.start(
            stack.http, writer, {}, shop=stack.shop
        )  # the local operator (ADMIN_API_ALLOW_LOOPBACK)
        query, cookie = await fortnox_connect.consent(stack.http, launch, stack.tenant_id)
        raw = "&".join(f"{k}={v}" for k, v in query.items())
        async with stack.http.get(
            f"{writer}/auth/fortnox/callback?{raw}",
            headers={"Cookie": f"{fortnox_connect.COOKIE}={cookie}"},
            allow_redirects=False,
        ) as response:
            assert response.status == 302
            location = urlsplit(response.headers["Location"])
            assert response.headers["Referrer-Policy"] == "no-referrer"
            # The cookie is spent: the answer deletes it.
            assert response.cookies[fortnox_connect.COOKIE].value == ""
        assert (location.scheme, location.netloc, location.path) == (
            "https",
            "app.example.com",
            "/app/start",
        )
        assert parse_qs(location.query) == {
            "embedded": ["1"],
            "fortnox": ["connected"],
            "shop": [stack.shop],
        }
        assert return_url(Settings(shopify_app_url="https://fb.example.com/"), {"a": "b"}) == (
            "https://fb.example.com/app/?a=b"
        )
