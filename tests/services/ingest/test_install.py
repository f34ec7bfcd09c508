"""Installing the app through ingest against the Shopify simulator: OAuth, webhooks, uninstall."""

from __future__ import annotations

import time
import uuid
import warnings
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt
import pytest

from libs.common.crypto import TokenCipher
from libs.common.shopify_scopes import missing_scopes
from libs.common.shops import ShopRegistry
from services.ingest.shopify_oauth import (
    WEBHOOK_TOPICS,
    InstallError,
    admin_base_url,
    query_hmac,
    sign_state,
    topic_enum,
    verify_callback_query,
)
from tests.conftest import StackFactory
from tests.support.stack import SHOPIFY_SECRET, Stack

APP_URL = "http://127.0.0.1:8080"


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    stack = await stack_factory(services=("ingest",), shopify_app_url=APP_URL)
    stack.shopify.register_app(stack.settings.shopify_api_key, SHOPIFY_SECRET)
    return stack


def registry(stack: Stack) -> ShopRegistry:
    keys = stack.settings.token_encryption_keys.get_secret_value()
    return ShopRegistry(stack.pool, TokenCipher(keys))


def new_shop(stack: Stack) -> str:
    shop = f"new-{uuid.uuid4().hex[:8]}.myshopify.com"
    stack.shopify.add_shop(shop)
    return shop


async def start(stack: Stack, shop: str) -> tuple[int, str]:
    url = stack.url("ingest", "/auth/shopify/install")
    async with stack.http.get(url, params={"shop": shop}, allow_redirects=False) as response:
        return response.status, response.headers.get("Location", "")


async def approve(stack: Stack, shop: str) -> dict[str, str]:
    """Install link, then the merchant's approval in the simulator: the callback's query."""
    status, location = await start(stack, shop)
    assert status == 302
    async with stack.http.get(location, allow_redirects=False) as response:
        assert response.status == 302, await response.text()
        redirect = urlsplit(response.headers["Location"])
    assert f"{redirect.scheme}://{redirect.netloc}{redirect.path}" == (
        f"{APP_URL}/auth/shopify/callback"
    )
    return dict(parse_qsl(redirect.query))


async def callback(stack: Stack, params: dict[str, str]) -> tuple[int, Any]:
    url = stack.url("ingest", "/auth/shopify/callback?" + urlencode(params))
    async with stack.http.get(url, allow_redirects=False) as response:
        body = await response.json() if response.status != 302 else response.headers["Location"]
        return response.status, body


def subscriptions(stack: Stack, shop: str) -> list[tuple[str, str]]:
    subs = stack.shopify.shop(shop).webhook_subscriptions.values()
    return sorted((sub["topic"], sub["uri"]) for sub in subs)


def signed(params: dict[str, str]) -> dict[str, str]:
    params = {k: v for k, v in params.items() if k != "hmac"}
    return {**params, "hmac": query_hmac(params.items(), SHOPIFY_SECRET)}


async def test_install_redirects_to_shopify_with_a_signed_state(stack: Stack) -> None:
    shop = new_shop(stack)
    status, location = await start(stack, shop)
    assert status == 302
    parts = urlsplit(location)
    base = admin_base_url(stack.settings.shopify_admin_url, shop)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{base}/oauth/authorize"
    query = dict(parse_qsl(parts.query))
    assert query["client_id"] == stack.settings.shopify_api_key
    assert query["scope"] == stack.settings.shopify_scopes
    assert query["redirect_uri"] == f"{APP_URL}/auth/shopify/callback"
    assert query["state"].count(".") == 1


@pytest.mark.parametrize("shop", ["", "evil.example.com", "x.myshopify.com.evil.com", "A B"])
async def test_install_refuses_anything_but_a_shop_domain(stack: Stack, shop: str) -> None:
    status, _ = await start(stack, shop)
    assert status == 400


async def test_install_stores_the_token_and_subscribes_each_webhook_once(stack: Stack) -> None:
    shop = new_shop(stack)
    status, location = await callback(stack, await approve(stack, shop))
    assert status == 302, location
    assert location.endswith(f"/admin/apps/{stack.settings.shopify_api_key}")

    token = await registry(stack).access_token(shop)
    assert token is not None and token in stack.shopify.shop(shop).granted_tokens
    installation = await registry(stack).installation(shop)
    assert installation is not None and installation.active
    assert installation.scopes == stack.settings.shopify_scopes
    expected = sorted((topic_enum(t), f"{APP_URL}/webhooks/shopify") for t in WEBHOOK_TOPICS)
    assert subscriptions(stack, shop) == expected

    status, _ = await callback(stack, await approve(stack, shop))  # re-install
    assert status == 302
    assert subscriptions(stack, shop) == expected
    assert await registry(stack).access_token(shop) != token  # the new token replaced the old


async def test_forged_hmac_is_refused_and_nothing_is_stored(stack: Stack) -> None:
    shop = new_shop(stack)
    params = await approve(stack, shop)
    status, body = await callback(stack, {**params, "hmac": "0" * 64})
    assert status == 401 and "hmac" in body["error"]
    tampered = {**params, "shop": new_shop(stack)}  # another shop, the old hmac
    assert (await callback(stack, tampered))[0] == 401
    assert await registry(stack).installation(shop) is None
    assert subscriptions(stack, shop) == []


@pytest.mark.parametrize(
    ("state_of", "reason"),
    [
        (lambda shop: sign_state(shop, SHOPIFY_SECRET, 600, now=time.time() - 3600), "expired"),
        (lambda shop: sign_state(shop, "someone-else's-secret", 600), "forged"),
        (lambda shop: sign_state("other.myshopify.com", SHOPIFY_SECRET, 600), "another shop"),
        (lambda shop: "not-a-state", "forged"),
    ],
)
async def test_bad_states_are_refused(stack: Stack, state_of: Any, reason: str) -> None:
    shop = new_shop(stack)
    params = await approve(stack, shop)
    status, body = await callback(stack, signed({**params, "state": state_of(shop)}))
    assert status == 400 and reason in body["error"]
    assert await registry(stack).installation(shop) is None


async def test_a_code_is_good_once(stack: Stack) -> None:
    shop = new_shop(stack)
    params = await approve(stack, shop)
    assert (await callback(stack, params))[0] == 302
    status, body = await callback(stack, params)
    assert status == 400 and "refused the authorization code" in body["error"]


def session_token_of(stack: Stack, shop: str) -> str:
    now = int(time.time())
    claims = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": stack.settings.shopify_api_key,
        "sub": "1",
        "exp": now + 60,
        "nbf": now - 5,
    }
    with warnings.catch_warnings():  # the stack's app secret is short; Shopify's are not
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(claims, SHOPIFY_SECRET)


async def exchange(stack: Stack, shop: str) -> Any:
    url = stack.url("ingest", "/auth/shopify/token_exchange")
    headers = {"Authorization": f"Bearer {session_token_of(stack, shop)}"}
    async with stack.http.post(url, headers=headers) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_token_exchange_installs_the_embedded_app(stack: Stack) -> None:
    shop = new_shop(stack)
    await exchange(stack, shop)
    assert await registry(stack).access_token(shop) is not None
    assert len(subscriptions(stack, shop)) == len(WEBHOOK_TOPICS)
    url = stack.url("ingest", "/auth/shopify/token_exchange")
    async with stack.http.post(url, headers={"Authorization": "Bearer a.b.c"}) as response:
        assert response.status == 401


async def stored_scopes(stack: Stack, shop: str) -> set[str]:
    installation = await registry(stack).installation(shop)
    assert installation is not None
    return {scope for scope in installation.scopes.split(",") if scope}


async def test_a_token_exchange_keeps_the_optional_scopes_the_shop_granted(stack: Stack) -> None:
    granted, never = new_shop(stack), new_shop(stack)
    # One merchant approved read_all_orders (the backfill's re-authorisation link) ...
    url = stack.url("ingest", "/auth/shopify/install")
    params = {"shop": granted, "add": "read_all_orders"}
    async with stack.http.get(url, params=params, allow_redirects=False) as response:
        location = response.headers["Location"]
    async with stack.http.get(location, allow_redirects=False) as response:
        query = dict(parse_qsl(urlsplit(response.headers["Location"]).query))
    assert (await callback(stack, query))[0] == 302
    assert "read_all_orders" in await stored_scopes(stack, granted)
    # ... and then opens the embedded app: the exchanged token keeps it, and so does the record.
    answer = await exchange(stack, granted)
    assert "read_all_orders" in answer["scope"].split(",")
    assert "read_all_orders" in await stored_scopes(stack, granted)
    token = await registry(stack).access_token(granted)
    assert "read_all_orders" in stack.shopify.shop(granted).token_scopes[token or ""]
    # The other never approved it: the exchange does not grant it, nor is it recorded.
    await exchange(stack, never)
    assert "read_all_orders" not in await stored_scopes(stack, never)
    assert await stored_scopes(stack, never) == set(stack.settings.shopify_scopes.split(","))


async def test_an_exchange_answer_without_scope_records_what_shopify_lists(
    stack: Stack,
) -> None:
    # shopify.md does not say the token exchange's answer names its scopes; when it does not,
    # ingest asks Shopify (accessScopes) instead of assuming SHOPIFY_SCOPES.
    stack.shopify.register_app(
        stack.settings.shopify_api_key,
        SHOPIFY_SECRET,
        scopes="read_orders,read_products",
        exchange_answers_scope=False,
    )
    shop = new_shop(stack)
    await exchange(stack, shop)
    assert await stored_scopes(stack, shop) == {"read_orders", "read_products"}


async def test_app_uninstalled_marks_the_shop_and_admin_calls_say_so(stack: Stack) -> None:
    shop = stack.shop
    assert await registry(stack).access_token(shop) is not None
    statuses = await stack.send_webhook("app/uninstalled", {"id": 1, "myshopify_domain": shop})
    assert statuses == [200]
    installation = await registry(stack).installation(shop)
    assert installation is not None and installation.status == "uninstalled"
    assert await registry(stack).access_token(shop) is None
    stored = await stack.pool.fetchval(
        "SELECT count(*) FROM ingest.webhook_events WHERE shop = $1 AND topic = 'app/uninstalled'",
        shop,
    )
    assert stored == 1

    url = stack.url("ingest", "/admin/api/orders/123/fortnox_invoice_status.json")
    async with stack.http.get(url, params={"shop": shop}) as response:
        assert response.status == 409
        assert "uninstalled Fortbridge" in (await response.json())["error"]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("https://{shop}/admin/api/{version}/graphql.json", "https://a.myshopify.com/admin"),
        (
            "http://127.0.0.1:9/shops/{shop}/admin/api/{version}/graphql.json",
            "http://127.0.0.1:9/shops/a.myshopify.com/admin",
        ),
    ],
)
def test_admin_base_url_comes_from_the_graphql_template(template: str, expected: str) -> None:
    assert admin_base_url(template, "a.myshopify.com") == expected


def test_callback_query_checks() -> None:
    now = time.time()
    good = signed({"code": "c", "shop": "a.myshopify.com", "state": "s", "timestamp": str(now)})
    assert verify_callback_query(good.items(), SHOPIFY_SECRET, now=now)["code"] == "c"
    with pytest.raises(InstallError, match="future"):
        future = signed({**good, "timestamp": str(now + 3600)})
        verify_callback_query(future.items(), SHOPIFY_SECRET, now=now)
    with pytest.raises(InstallError, match="repeats"):
        verify_callback_query([*good.items(), ("code", "d")], SHOPIFY_SECRET, now=now)
    with pytest.raises(InstallError) as caught:
        verify_callback_query({**good, "code": "other"}.items(), SHOPIFY_SECRET, now=now)
    assert caught.value.status == 401


def test_missing_scopes_counts_write_as_read() -> None:
    assert missing_scopes("read_orders,write_orders,read_customers", "write_orders") == [
        "read_customers"
    ]


async def test_a_reauthorisation_link_adds_optional_scopes_only(stack: Stack) -> None:
    shop = new_shop(stack)
    url = stack.url("ingest", "/auth/shopify/install")
    params = {"shop": shop, "add": "read_inventory,write_inventory"}
    async with stack.http.get(url, params=params, allow_redirects=False) as response:
        assert response.status == 302
        query = dict(parse_qsl(urlsplit(response.headers["Location"]).query))
    assert query["scope"] == f"{stack.settings.shopify_scopes},read_inventory,write_inventory"
    # An attacker's link cannot slip other scopes into the merchant's consent page.
    for add in ("write_products", "read_all_orders,write_customers"):
        params = {"shop": shop, "add": add}
        async with stack.http.get(url, params=params, allow_redirects=False) as response:
            assert response.status == 400, add
            assert "optional scopes" in (await response.json())["error"]
