"""OAuth codes, states and launch tickets never reach a log line, an access log or a span.

Issue 12: "The OAuth code and state never reach any log (access logs included); check every
/auth/* route." Both flows run against the running services with LOG_LEVEL=DEBUG (aiohttp's
access log included) and tracing on: connecting Fortnox (start.json, launch, callback, a replayed
callback, a callback from another browser, a used ticket) and installing the Shopify app
(install, callback, a replayed callback). Every secret value of those requests is looked for in
everything logged and in every span's name, attributes and events.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from fortbridge import fortnox_connect
from libs.common.access import ApiTokenStore
from libs.common.messaging import Topology
from services.fortnox_writer import oauth
from tests.support.stack import SHOPIFY_SECRET, Stack, running_stack
from tests.test_log_hygiene import debug_logs

pytestmark = pytest.mark.slow

APP_URL = "http://127.0.0.1:8080"


async def connect_fortnox(stack: Stack) -> dict[str, str]:
    """The whole Fortnox connect flow, and its refusals; returns the secrets it handled."""
    writer = stack.url("fortnox_writer", "")
    issued = await ApiTokenStore(stack.pool).create(stack.shop, "write_integrations")
    headers = {"Authorization": f"Bearer {issued.token}"}
    launch = await fortnox_connect.start(stack.http, writer, headers)
    ticket = dict(parse_qsl(urlsplit(launch).query))["ticket"]
    query, cookie = await fortnox_connect.consent(stack.http, launch, stack.tenant_id)
    refused = await fortnox_connect.callback(stack.http, writer, query, None)  # other browser
    assert refused.status == 400
    answer = await fortnox_connect.callback(stack.http, writer, query, cookie)
    assert answer.status == 200, answer.body
    replayed = await fortnox_connect.callback(stack.http, writer, query, cookie)
    assert replayed.status == 400 and replayed.body["reason"] == "state_used"
    async with stack.http.get(launch, allow_redirects=False) as response:  # a used ticket
        assert response.status == 400
    decoded = {k: v for k, v in parse_qsl("&".join(f"{k}={v}" for k, v in query.items()))}
    state = decoded["state"]
    nonce = oauth.verify_state(oauth.signing_key(stack.settings), state).nonce
    return {
        "fortnox launch ticket": ticket,
        "fortnox code": decoded["code"],
        "fortnox state": state,
        "fortnox state (as sent)": query["state"],
        "fortnox state nonce": nonce,
        "fortnox browser cookie": cookie,
        "operator API token": issued.token,
    }


async def install_shopify(stack: Stack) -> dict[str, str]:
    """The Shopify app's install flow and a replayed callback; returns its secrets."""
    stack.shopify.register_app(stack.settings.shopify_api_key, SHOPIFY_SECRET)
    shop = "hygiene-install.myshopify.com"
    stack.shopify.add_shop(shop)
    install = stack.url("ingest", "/auth/shopify/install")
    async with stack.http.get(install, params={"shop": shop}, allow_redirects=False) as response:
        assert response.status == 302
        assert response.headers["Referrer-Policy"] == "no-referrer"
        authorize = response.headers["Location"]
    async with stack.http.get(authorize, allow_redirects=False) as response:
        back = urlsplit(response.headers["Location"])
    callback = stack.url("ingest", f"/auth/shopify/callback?{back.query}")
    async with stack.http.get(callback, allow_redirects=False) as response:
        assert response.status == 302, await response.text()
        assert response.headers["Referrer-Policy"] == "no-referrer"
    async with stack.http.get(callback, allow_redirects=False) as response:
        assert response.status == 400  # the code is spent
    params = dict(parse_qsl(back.query))
    return {
        "shopify code": params["code"],
        "shopify state": params["state"],
        "shopify hmac": params["hmac"],
    }


def span_texts(spans: Any) -> list[str]:
    texts: list[str] = []
    for span in spans:
        texts.append(span.name)
        texts.extend(f"{key}={value}" for key, value in (span.attributes or {}).items())
        for event in span.events:
            texts.append(event.name)
            texts.extend(f"{key}={value}" for key, value in (event.attributes or {}).items())
        if span.status.description:
            texts.append(span.status.description)
    return texts


async def test_oauth_secrets_reach_no_log_access_log_or_span(
    amqp_url: str,
    database_url: str,
    broker_cleanup: Topology,
    span_exporter: InMemorySpanExporter,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = len(span_exporter.get_finished_spans())
    with debug_logs():
        async with running_stack(
            amqp_url=amqp_url,
            database_url=database_url,
            namespace=broker_cleanup.namespace,
            services=("ingest", "fortnox_writer"),
            shopify_app_url=APP_URL,
        ) as stack:
            secrets = await connect_fortnox(stack)
            secrets |= await install_shopify(stack)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    spans = span_exporter.get_finished_spans()[before:]
    traced = "\n".join(span_texts(spans))
    assert all(len(value) >= 16 for value in secrets.values()), secrets
    in_logs = [name for name, value in secrets.items() if value in text]
    assert not in_logs, f"in the logs: {in_logs}"
    in_spans = [name for name, value in secrets.items() if value in traced]
    assert not in_spans, f"in the spans: {in_spans}"

    # The access log and the services' own lines were captured (so the checks above bite).
    for path in (
        "/auth/fortnox/start.json",
        "/auth/fortnox/launch",
        "/auth/fortnox/callback",
        "/auth/shopify/install",
        "/auth/shopify/callback",
    ):
        assert f"GET {path} " in text or f"POST {path} " in text, f"no access log of {path}"
    assert "fortnox connection refused" in text and "fortnox connection written" in text
    routes = {span.attributes.get("http.route") for span in spans if span.attributes}
    assert {"/auth/fortnox/callback", "/auth/shopify/callback"} <= routes
