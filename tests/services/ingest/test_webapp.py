"""The app's pages as ingest serves them, and the development login (off unless asked for, and
never off loopback)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from aiohttp.test_utils import make_mocked_request
from pydantic import ValidationError

from libs.common.access.session_token import shop_of_session_token
from libs.common.settings import Settings
from services.ingest.webapp.routes import (
    APP_BRIDGE,
    HEAD_MARK,
    STATIC_DIR,
    Opening,
    content_security_policy,
    render,
)
from tests.conftest import StackFactory
from tests.test_deploy_files import BASE

SHOP = "demo-shop.myshopify.com"
TEMPLATE = f"<html><head>{HEAD_MARK}<script src='/app/assets/a.js'></script></head></html>"
LOGIN = "/app/dev/session_token.json"


def opening(query: str) -> Opening:
    return Opening.of(make_mocked_request("GET", f"/app/?{query}"))


def test_inside_shopify_admin_app_bridge_is_the_first_script_and_framing_is_allowed() -> None:
    embedded = opening(f"embedded=1&shop={SHOP}&host=YWRtaW4")
    assert embedded == Opening(True, SHOP, "YWRtaW4")
    page = render(TEMPLATE, Settings(shopify_api_key="client-id-1"), embedded)
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts[0] == f'<script src="{APP_BRIDGE}">'
    assert '<meta name="shopify-api-key" content="client-id-1" />' in page
    config = json.loads(re.search(r'id="fortbridge-config">(.*?)</script>', page)[1])  # type: ignore[index]
    assert config == {
        "apiKey": "client-id-1",
        "embedded": True,
        "shop": SHOP,
        "host": "YWRtaW4",
        "devLogin": False,
    }
    policy = content_security_policy(embedded)
    assert f"frame-ancestors https://{SHOP} https://admin.shopify.com" in policy
    assert "script-src 'self' https://cdn.shopify.com" in policy


@pytest.mark.parametrize(
    "query",
    ["", f"shop={SHOP}", f"embedded=0&shop={SHOP}", "embedded=1&shop=evil.example.com"],
)
def test_outside_shopify_admin_nothing_comes_from_a_cdn(query: str) -> None:
    outside = opening(query)
    assert outside.embedded is False and outside.host is None
    page = render(TEMPLATE, Settings(), outside)
    assert "cdn.shopify.com" not in page and "shopify-api-key" not in page
    policy = content_security_policy(outside)
    assert "frame-ancestors 'none'" in policy
    assert "cdn.shopify.com" not in policy and "shopify.com" not in policy


def test_the_config_cannot_close_its_script_element() -> None:
    page = render(TEMPLATE, Settings(shopify_api_key="</script><script>alert(1)"), opening(""))
    assert "</script><script>alert(1)" not in page
    config = json.loads(re.search(r'id="fortbridge-config">(.*?)</script>', page)[1])  # type: ignore[index]
    assert config["apiKey"] == "</script><script>alert(1)"


def test_the_development_login_is_off_by_default_and_refused_off_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("APP_DEV_LOGIN", raising=False)
    assert Settings().app_dev_login is False
    for url in ("https://fortbridge.example.com", "http://10.0.0.5:8080", "http://0.0.0.0:80"):
        with pytest.raises(ValidationError, match="APP_DEV_LOGIN=true is for local use only"):
            Settings(app_dev_login=True, shopify_app_url=url)
    for url in ("http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"):
        assert Settings(app_dev_login=True, shopify_app_url=url).app_dev_login is True
    (config,) = [doc for doc in yaml.safe_load_all((BASE / "configmap.yaml").read_text())]
    assert config["data"]["APP_DEV_LOGIN"] == "false"


def built() -> Path:
    index = STATIC_DIR / "index.html"
    assert index.is_file(), "the app is not built: run scripts/setup.sh (npm ci && npm run build)"
    return index


async def test_ingest_serves_the_pages_and_assets_with_their_headers(
    stack_factory: StackFactory,
) -> None:
    built()
    stack = await stack_factory(services=("ingest",))
    async with stack.http.get(stack.url("ingest", f"/app/orders?shop={SHOP}")) as response:
        assert response.status == 200
        page = await response.text()
        assert response.headers["Cache-Control"] == "no-store"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert '"devLogin": false' in page and "cdn.shopify.com" not in page
    assets = re.findall(r'(?:src|href)="(/app/assets/[^"]+)"', page)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        async with stack.http.get(stack.url("ingest", asset)) as response:
            assert response.status == 200, asset
            assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            kind = "javascript" if asset.endswith(".js") else "css"
            assert kind in response.headers["Content-Type"]
    for missing in ("/app/assets/nothing.js", "/app/assets/..%2F..%2Froutes.py"):
        async with stack.http.get(stack.url("ingest", missing)) as response:
            assert response.status == 404, missing
    embedded = f"/app/?embedded=1&shop={SHOP}&host=abc"
    async with stack.http.get(stack.url("ingest", embedded)) as response:
        assert APP_BRIDGE in await response.text()
        policy = response.headers["Content-Security-Policy"]
        assert f"frame-ancestors https://{SHOP} https://admin.shopify.com" in policy
    async with stack.http.get(stack.url("ingest", "/app"), allow_redirects=False) as response:
        assert response.status == 301 and response.headers["Location"] == "/app/"


async def test_the_development_login_is_404_unless_switched_on(
    stack_factory: StackFactory,
) -> None:
    stack = await stack_factory(services=("ingest",))
    async with stack.http.post(stack.url("ingest", LOGIN), json={"shop": SHOP}) as response:
        assert response.status == 404
        assert "APP_DEV_LOGIN" in (await response.json())["error"]


async def test_the_development_login_signs_in_as_the_shop_like_shopify_does(
    stack_factory: StackFactory,
) -> None:
    stack = await stack_factory(
        services=("ingest",), app_dev_login=True, shopify_app_url="http://127.0.0.1:9"
    )
    async with stack.http.post(stack.url("ingest", LOGIN), json={"shop": stack.shop}) as response:
        assert response.status == 200
        body = await response.json()
    settings = stack.settings
    assert body["expires_in"] == 60
    assert (
        shop_of_session_token(
            body["session_token"],
            secret=settings.shopify_api_secret.get_secret_value(),
            audience=settings.shopify_api_key,
        )
        == stack.shop
    )
    headers = {"Authorization": f"Bearer {body['session_token']}"}
    installation = "/admin/api/integrations/shopify/installation.json"
    async with stack.http.get(stack.url("ingest", installation), headers=headers) as response:
        assert response.status == 200
        assert (await response.json())["installation"]["shop"] == stack.shop
    # Through a proxy (not this machine's own browser), or for something that is no shop: refused.
    async with stack.http.post(
        stack.url("ingest", LOGIN),
        json={"shop": stack.shop},
        headers={"X-Forwarded-For": "1.2.3.4"},
    ) as response:
        assert response.status == 404
    async with stack.http.post(stack.url("ingest", LOGIN), json={"shop": "x.com"}) as response:
        assert response.status == 400
