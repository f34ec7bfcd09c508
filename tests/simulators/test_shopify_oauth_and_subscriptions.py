"""The Shopify simulator's app install (OAuth, token exchange) and webhook subscriptions."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import jwt
import pytest

from simulators.shopify import ShopifySimulator
from simulators.shopify.oauth import CODE_TTL_SECONDS
from simulators.shopify.payloads import order_payload

DOMAIN = "oauth-demo.myshopify.com"
CLIENT_ID = "sim-app"
SECRET = "sim-app-secret-of-at-least-32-bytes!"
REDIRECT = "https://app.example.com/auth/shopify/callback"
Json = dict[str, Any]

CREATE = """
mutation Create($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
    webhookSubscription {
      id topic endpoint { __typename ... on WebhookHttpEndpoint { callbackUrl } }
    }
    userErrors { field message }
  }
}
"""
LIST = """
query List($topics: [WebhookSubscriptionTopic!]) {
  webhookSubscriptions(first: 50, topics: $topics) {
    nodes { id topic format endpoint { ... on WebhookHttpEndpoint { callbackUrl } } }
    pageInfo { hasNextPage }
  }
}
"""


@dataclass
class Sim:
    sim: ShopifySimulator
    base: str
    http: aiohttp.ClientSession

    async def authorize(self, **overrides: str) -> tuple[int, dict[str, str]]:
        params = {"client_id": CLIENT_ID, "scope": "read_orders,write_orders"}
        params |= {"redirect_uri": REDIRECT, "state": "abc.def", **overrides}
        url = f"{self.base}/shops/{DOMAIN}/admin/oauth/authorize"
        async with self.http.get(url, params=params, allow_redirects=False) as response:
            location = response.headers.get("Location", "")
            return response.status, dict(parse_qsl(urlsplit(location).query))

    async def token(self, **body: str) -> tuple[int, Json]:
        url = f"{self.base}/shops/{DOMAIN}/admin/oauth/access_token"
        async with self.http.post(url, json=body) as response:
            return response.status, await response.json()

    async def gql(self, token: str, query: str, variables: Json) -> tuple[int, Json]:
        url = self.sim.graphql_url(self.base, DOMAIN)
        headers = {"X-Shopify-Access-Token": token}
        body = {"query": query, "variables": variables}
        async with self.http.post(url, json=body, headers=headers) as response:
            return response.status, await response.json()


@pytest.fixture
async def api() -> AsyncIterator[Sim]:
    sim = ShopifySimulator()
    sim.add_shop(DOMAIN, access_token="simtok_own")
    sim.register_app(CLIENT_ID, SECRET)
    async with sim.serve() as base, aiohttp.ClientSession() as http:
        yield Sim(sim, base, http)


def expected_hmac(params: dict[str, str]) -> str:
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "hmac")
    return hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()


async def test_authorize_redirects_with_a_signed_code_that_buys_one_token(api: Sim) -> None:
    status, params = await api.authorize()
    assert status == 302
    assert set(params) == {"code", "hmac", "host", "shop", "state", "timestamp"}
    assert params["shop"] == DOMAIN and params["state"] == "abc.def"
    assert params["hmac"] == expected_hmac(params)

    status, body = await api.token(client_id=CLIENT_ID, client_secret=SECRET, code=params["code"])
    assert status == 200 and body["scope"] == "read_orders,write_orders"
    token = body["access_token"]
    status, answer = await api.gql(token, "{ shop { name } }", {})
    assert status == 200 and answer["data"]["shop"]["name"]

    again, refused = await api.token(client_id=CLIENT_ID, client_secret=SECRET, code=params["code"])
    assert again == 400 and refused["error"] == "invalid_request"


async def test_authorize_refuses_unknown_apps_and_bad_redirects(api: Sim) -> None:
    assert (await api.authorize(client_id="nobody"))[0] == 400
    assert (await api.authorize(redirect_uri="not a url"))[0] == 400
    assert (await api.authorize(scope="read_orders,drop tables"))[0] == 400


async def test_code_exchange_needs_the_secret_and_a_fresh_code(api: Sim) -> None:
    _, params = await api.authorize()
    status, _ = await api.token(client_id=CLIENT_ID, client_secret="wrong", code=params["code"])
    assert status == 401
    api.sim.oauth.clock = lambda: time.time() + CODE_TTL_SECONDS + 1
    status, body = await api.token(client_id=CLIENT_ID, client_secret=SECRET, code=params["code"])
    assert status == 400 and "expired" in body["error_description"]


async def test_token_exchange_takes_a_session_token_of_the_shop(api: Sim) -> None:
    now = int(time.time())
    claims = {
        "iss": f"https://{DOMAIN}/admin",
        "dest": f"https://{DOMAIN}",
        "aud": CLIENT_ID,
        "sub": "42",
        "exp": now + 60,
        "nbf": now - 5,
    }
    grant = {
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token",
    }
    status, body = await api.token(**grant, subject_token=jwt.encode(claims, SECRET))
    assert status == 200 and body["access_token"].startswith("simtok_")
    forged = jwt.encode(claims, "another-secret-also-at-least-32-bytes")
    assert (await api.token(**grant, subject_token=forged))[0] == 400


async def test_webhook_subscriptions_are_created_listed_and_not_duplicated(api: Sim) -> None:
    callback = "https://app.example.com/webhooks/shopify"
    sub = {"callbackUrl": callback, "format": "JSON"}
    _, created = await api.gql("simtok_own", CREATE, {"topic": "ORDERS_CREATE", "sub": sub})
    payload = created["data"]["webhookSubscriptionCreate"]
    assert payload["userErrors"] == []
    assert payload["webhookSubscription"]["topic"] == "ORDERS_CREATE"
    assert payload["webhookSubscription"]["endpoint"]["callbackUrl"] == callback

    _, again = await api.gql("simtok_own", CREATE, {"topic": "ORDERS_CREATE", "sub": sub})
    [error] = again["data"]["webhookSubscriptionCreate"]["userErrors"]
    assert "already been taken" in error["message"]
    await api.gql("simtok_own", CREATE, {"topic": "APP_UNINSTALLED", "sub": sub})

    _, listed = await api.gql("simtok_own", LIST, {})
    nodes = listed["data"]["webhookSubscriptions"]["nodes"]
    assert [n["topic"] for n in nodes] == ["ORDERS_CREATE", "APP_UNINSTALLED"]
    _, only = await api.gql("simtok_own", LIST, {"topics": ["APP_UNINSTALLED"]})
    assert len(only["data"]["webhookSubscriptions"]["nodes"]) == 1


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("not a url", "Address is invalid"),
        ("http://app.example.com/webhooks", "Address protocol http:// is not supported"),
        ("", "Address can't be blank"),
    ],
)
async def test_bad_callback_urls_are_user_errors(api: Sim, address: str, message: str) -> None:
    variables = {"topic": "ORDERS_PAID", "sub": {"callbackUrl": address}}
    _, body = await api.gql("simtok_own", CREATE, variables)
    payload = body["data"]["webhookSubscriptionCreate"]
    assert payload["webhookSubscription"] is None
    assert payload["userErrors"] == [{"field": ["callbackUrl"], "message": message}]
    assert api.sim.shop(DOMAIN).webhook_subscriptions == {}


async def test_privacy_topics_cannot_be_subscribed_through_the_api(api: Sim) -> None:
    variables = {"topic": "CUSTOMERS_REDACT", "sub": {"callbackUrl": "https://a.example/w"}}
    _, body = await api.gql("simtok_own", CREATE, variables)
    assert body["errors"] and "WebhookSubscriptionTopic" in body["errors"][0]["message"]


async def test_uninstall_revokes_granted_tokens_and_subscriptions(api: Sim) -> None:
    _, params = await api.authorize()
    _, body = await api.token(client_id=CLIENT_ID, client_secret=SECRET, code=params["code"])
    sub = {"callbackUrl": "https://app.example.com/webhooks/shopify"}
    await api.gql(body["access_token"], CREATE, {"topic": "ORDERS_CREATE", "sub": sub})
    api.sim.uninstall_app(DOMAIN)
    assert api.sim.shop(DOMAIN).webhook_subscriptions == {}
    status, _ = await api.gql(body["access_token"], "{ shop { name } }", {})
    assert status == 401


async def test_control_endpoints_register_apps_and_list_subscriptions(api: Sim) -> None:
    body = {"client_id": "other-app", "client_secret": "other-secret"}
    async with api.http.post(f"{api.base}/_sim/apps", json=body) as response:
        assert response.status == 201
    status, params = await api.authorize(client_id="other-app")
    assert status == 302
    url = f"{api.base}/shops/{DOMAIN}/admin/oauth/access_token"
    form = {**body, "code": params["code"]}
    async with api.http.post(url, data=form) as response:  # form-encoded works too
        assert response.status == 200
        token = (await response.json())["access_token"]
    sub = {"callbackUrl": "https://app.example.com/webhooks/shopify"}
    await api.gql(token, CREATE, {"topic": "REFUNDS_CREATE", "sub": sub})
    async with api.http.get(f"{api.base}/_sim/shops/{DOMAIN}/webhook_subscriptions") as response:
        [listed] = await response.json()
    assert listed["topic"] == "REFUNDS_CREATE" and listed["callbackUrl"] == sub["callbackUrl"]


async def test_only_a_token_granted_read_all_orders_reads_orders_older_than_60_days(
    api: Sim,
) -> None:
    now = datetime.now(UTC)
    api.sim.add_order(DOMAIN, order_payload(7001, created_at=now - timedelta(days=90)))
    api.sim.add_order(DOMAIN, order_payload(7002, created_at=now - timedelta(days=10)))
    query = "query q($first: Int!) { orders(first: $first) { nodes { id } } }"
    old_one = "query one($id: ID!) { order(id: $id) { id } }"

    async def granted(scope: str) -> str:
        _, params = await api.authorize(scope=scope)
        status, body = await api.token(
            client_id=CLIENT_ID, client_secret=SECRET, code=params["code"]
        )
        assert status == 200 and body["scope"] == scope
        return str(body["access_token"])

    async def seen(token: str) -> set[str]:
        _, answer = await api.gql(token, query, {"first": 10})
        return {node["id"] for node in answer["data"]["orders"]["nodes"]}

    without = await granted("read_orders,write_orders")
    assert await seen(without) == {"gid://shopify/Order/7002"}
    _, answer = await api.gql(without, old_one, {"id": "gid://shopify/Order/7001"})
    assert answer["data"]["order"] is None
    with_scope = await granted("read_orders,write_orders,read_all_orders")
    assert await seen(with_scope) == {"gid://shopify/Order/7001", "gid://shopify/Order/7002"}
    _, answer = await api.gql(with_scope, old_one, {"id": "gid://shopify/Order/7001"})
    assert answer["data"]["order"] == {"id": "gid://shopify/Order/7001"}
    # The earlier token still has only what it was granted.
    assert await seen(without) == {"gid://shopify/Order/7002"}


def exchange_grant() -> dict[str, str]:
    now = int(time.time())
    claims = {
        "iss": f"https://{DOMAIN}/admin",
        "dest": f"https://{DOMAIN}",
        "aud": CLIENT_ID,
        "sub": "42",
        "exp": now + 60,
        "nbf": now - 5,
    }
    return {
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token",
        "subject_token": jwt.encode(claims, SECRET),
    }


async def test_an_exchanged_token_keeps_the_optional_scopes_the_shop_granted(api: Sim) -> None:
    configured = api.sim.oauth.apps[CLIENT_ID].scopes.split(",")
    # Not granted before: the app's configured scopes, read_all_orders not gained.
    status, body = await api.token(**exchange_grant())
    assert status == 200 and body["scope"].split(",") == configured
    assert "read_all_orders" not in api.sim.shop(DOMAIN).token_scopes[body["access_token"]]
    # The merchant approves read_all_orders (a re-authorisation); a later exchange keeps it.
    _, params = await api.authorize(scope="read_orders,write_orders,read_all_orders")
    status, _ = await api.token(client_id=CLIENT_ID, client_secret=SECRET, code=params["code"])
    assert status == 200
    status, body = await api.token(**exchange_grant())
    assert status == 200 and "read_all_orders" in body["scope"].split(",")
    assert set(configured) <= set(body["scope"].split(","))
    token = body["access_token"]
    assert "read_all_orders" in api.sim.shop(DOMAIN).token_scopes[token]
    query = "{ currentAppInstallation { accessScopes { handle } } }"
    _, answer = await api.gql(token, query, {})
    handles = {n["handle"] for n in answer["data"]["currentAppInstallation"]["accessScopes"]}
    assert handles == set(body["scope"].split(","))
    # Uninstalled: the grant goes; a new exchange has the configured scopes only.
    api.sim.uninstall_app(DOMAIN)
    status, body = await api.token(**exchange_grant())
    assert body["scope"].split(",") == configured


async def test_an_exchange_answer_may_name_no_scope(api: Sim) -> None:
    api.sim.register_app(CLIENT_ID, SECRET, exchange_answers_scope=False)
    status, body = await api.token(**exchange_grant())
    assert status == 200 and "scope" not in body and body["access_token"]
    query = "{ currentAppInstallation { accessScopes { handle } } }"
    _, answer = await api.gql(body["access_token"], query, {})
    handles = [n["handle"] for n in answer["data"]["currentAppInstallation"]["accessScopes"]]
    assert set(handles) == set(api.sim.oauth.apps[CLIENT_ID].scopes.split(","))
