"""The admin-API access check against a real database: tokens, session tokens, scopes, shops."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from libs.common import database
from libs.common.access import MIGRATIONS, SCHEMA, ApiTokenStore, authorize, authorize_for_shop
from libs.common.settings import Settings

SECRET = "shpss_test-app-secret-of-thirty-two-bytes"
API_KEY = "test-app-key"
SHOP = "alpha.myshopify.com"
OTHER = "beta.myshopify.com"

Client = TestClient[web.Request, web.Application]


def session_token(shop: str = SHOP, **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": API_KEY,
        "sub": "42",
        "exp": now + 60,
        "nbf": now - 5,
        "iat": now - 5,
    }
    claims.update(overrides)
    secret = claims.pop("_secret", SECRET)
    return jwt.encode(claims, secret, algorithm="HS256")


@pytest.fixture
async def store(pool: asyncpg.Pool) -> ApiTokenStore:
    await database.migrate(pool, SCHEMA, MIGRATIONS)
    return ApiTokenStore(pool)


@pytest.fixture
async def make_client(
    pool: asyncpg.Pool, store: ApiTokenStore
) -> AsyncIterator[Callable[..., Awaitable[Client]]]:
    clients: list[Client] = []

    async def make(operator_token: str = "operator-secret", allow_loopback: bool = False) -> Client:
        settings = Settings(
            shopify_api_key=API_KEY,
            shopify_api_secret=SecretStr(SECRET),
            admin_api_token=SecretStr(operator_token),
            admin_api_allow_loopback=allow_loopback,
        )

        async def handler(request: web.Request) -> web.Response:
            scope = request.match_info["scope"]
            principal = await authorize(request, settings, pool, scope)
            return web.json_response({"kind": principal.kind, "shop": principal.shop})

        app = web.Application()
        app.router.add_get("/needs/{scope}", handler)
        client: Client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_no_credentials_is_401(make_client: Callable[..., Awaitable[Client]]) -> None:
    client = await make_client()
    response = await client.get("/needs/read_orders")
    assert response.status == 401
    assert "credentials" in (await response.json())["error"]


async def test_operator_token_acts_for_every_shop(
    make_client: Callable[..., Awaitable[Client]],
) -> None:
    client = await make_client()
    response = await client.get(
        "/needs/write_integrations", params={"shop": OTHER}, headers=bearer("operator-secret")
    )
    assert response.status == 200
    assert await response.json() == {"kind": "operator", "shop": None}
    assert (await client.get("/needs/read_orders", headers=bearer("wrong"))).status == 401


async def test_api_token_scopes_and_shop(
    make_client: Callable[..., Awaitable[Client]], store: ApiTokenStore
) -> None:
    client = await make_client()
    issued = await store.create(SHOP, "read_orders,write_products", label="erp")
    headers = bearer(issued.token)
    ok = await client.get("/needs/read_orders", params={"shop": SHOP}, headers=headers)
    assert ok.status == 200
    assert await ok.json() == {"kind": "api_token", "shop": SHOP}
    # write_products implies read_products; nothing implies write_orders or manage_timeline.
    assert (await client.get("/needs/read_products", headers=headers)).status == 200
    assert (await client.get("/needs/write_orders", headers=headers)).status == 403
    assert (await client.get("/needs/manage_timeline", headers=headers)).status == 403
    # Another shop's data is out of reach.
    other = await client.get("/needs/read_orders", params={"shop": OTHER}, headers=headers)
    assert other.status == 403
    # Revoked: 401 from then on.
    assert await store.revoke(issued.id)
    assert (await client.get("/needs/read_orders", headers=headers)).status == 401
    listed = await store.tokens(SHOP)
    assert [t.revoked_at is not None for t in listed] == [True]
    assert all(issued.token not in repr(t) for t in listed)


async def test_unknown_scope_is_refused_when_creating(store: ApiTokenStore) -> None:
    with pytest.raises(ValueError, match="unknown scope"):
        await store.create(SHOP, "read_orders,delete_everything")


async def test_session_token_grants_its_shop_only(
    make_client: Callable[..., Awaitable[Client]],
) -> None:
    client = await make_client()
    good = await client.get("/needs/manage_apps", headers=bearer(session_token()))
    assert await good.json() == {"kind": "session", "shop": SHOP}
    crossed = await client.get(
        "/needs/read_orders", params={"shop": OTHER}, headers=bearer(session_token())
    )
    assert crossed.status == 403


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": int(time.time()) - 60},
        {"nbf": int(time.time()) + 600},
        {"aud": "another-app"},
        {"_secret": "shpss_not-the-app-secret-but-long-enough"},
        {"dest": "http://alpha.myshopify.com"},
        {"dest": "https://evil.example.com"},
        {"iss": "https://beta.myshopify.com/admin"},
    ],
)
async def test_bad_session_tokens_are_401(
    make_client: Callable[..., Awaitable[Client]], overrides: dict[str, Any]
) -> None:
    client = await make_client()
    response = await client.get("/needs/read_orders", headers=bearer(session_token(**overrides)))
    assert response.status == 401
    assert "session token" in (await response.json())["error"]


PROXIED = (
    {"X-Real-IP": "203.0.113.9"},
    {"X-Forwarded-For": "203.0.113.9"},
    {"Forwarded": "for=203.0.113.9"},
    {"X-Forwarded-Host": "fortbridge.example.com"},
)


async def test_without_operator_token_nobody_is_the_operator(
    make_client: Callable[..., Awaitable[Client]],
) -> None:
    """Issue 12: with ADMIN_API_TOKEN unset, a proxy that sets X-Real-IP (connecting from
    loopback) got operator access. Now operator access fails closed."""
    client = await make_client(operator_token="")
    assert (await client.get("/needs/write_orders")).status == 401  # from loopback
    for headers in PROXIED:
        response = await client.get("/needs/write_orders", params={"shop": OTHER}, headers=headers)
        assert response.status == 401, headers
    # An empty bearer is no operator token either.
    assert (await client.get("/needs/write_orders", headers=bearer(""))).status == 401


async def test_the_local_development_switch_lets_in_loopback_without_proxy_headers(
    make_client: Callable[..., Awaitable[Client]],
) -> None:
    client = await make_client(operator_token="", allow_loopback=True)
    response = await client.get("/needs/write_orders", params={"shop": OTHER})
    assert response.status == 200 and (await response.json())["kind"] == "operator"
    for headers in PROXIED:
        response = await client.get("/needs/write_orders", params={"shop": OTHER}, headers=headers)
        assert response.status == 401, headers
    # With a configured token the switch changes nothing: the token is needed.
    guarded = await make_client(operator_token="operator-secret", allow_loopback=True)
    assert (await guarded.get("/needs/write_orders")).status == 401


async def test_the_shop_of_a_call(pool: asyncpg.Pool, store: ApiTokenStore) -> None:
    settings = Settings(admin_api_token=SecretStr("operator-secret"))

    async def handler(request: web.Request) -> web.Response:
        _, shop = await authorize_for_shop(request, settings, pool, "read_orders")
        return web.json_response({"shop": shop})

    app = web.Application()
    app.router.add_get("/shop", handler)
    client: Client = TestClient(TestServer(app))
    await client.start_server()
    try:
        operator = bearer("operator-secret")
        missing = await client.get("/shop", headers=operator)
        assert missing.status == 400
        assert "shop is required" in (await missing.json())["error"]
        named = await client.get("/shop", params={"shop": OTHER}, headers=operator)
        assert await named.json() == {"shop": OTHER}
        issued = await store.create(SHOP, "read_orders")
        own = await client.get("/shop", headers=bearer(issued.token))
        assert await own.json() == {"shop": SHOP}
    finally:
        await client.close()
