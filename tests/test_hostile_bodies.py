"""Bodies nothing downstream can carry, and forged signatures, against the running services:
refused at the door with a reason, never a 500, never stored (issue 12, findings 3 and 4)."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import urlsplit

import pytest

from libs.common.json_depth import MAX_JSON_DEPTH
from libs.common.openapi import operations
from simulators.shopify.payloads import order_payload
from simulators.shopify.webhooks import build_webhook, deliver
from tests.conftest import StackFactory
from tests.support.stack import SHOPIFY_SECRET, Stack

SERVICES = ("ingest", "mapper", "fortnox_writer", "timeline", "replayer")


@pytest.fixture
async def stack(stack_factory: StackFactory) -> Stack:
    return await stack_factory()


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


async def stored_events(stack: Stack) -> int:
    return int(
        await stack.pool.fetchval(
            "SELECT count(*) FROM ingest.webhook_events WHERE shop = $1", stack.shop
        )
    )


async def test_a_signed_webhook_nested_too_deep_is_400_and_nothing_is_stored(
    stack: Stack,
) -> None:
    order = order_payload()
    hook = build_webhook("orders/create", stack.shop, order, SHOPIFY_SECRET).with_body(
        b'{"id": 1, "note_attributes": ' + nested(900) + b"}", secret=SHOPIFY_SECRET
    )
    async with stack.http.post(
        stack.url("ingest", "/webhooks/shopify"), data=hook.body, headers=dict(hook.headers)
    ) as response:
        assert response.status == 400
        assert f"deeper than {MAX_JSON_DEPTH} levels" in (await response.json())["error"]
    # Positive control: the same shop's ordinary webhook is stored.
    assert await stack.send_webhook("orders/create", order) == [200]
    assert await stored_events(stack) == 1


def one_operation_per_service() -> dict[str, tuple[str, str]]:
    """A documented operation of each service, one that takes a body where there is one."""
    chosen: dict[str, tuple[str, str]] = {}
    for method, path, owner in operations():
        if owner not in chosen or (method in ("POST", "PUT") and chosen[owner][0] == "GET"):
            concrete = re.sub(r"\{[a-z_]+\}", "1", path.replace("{job_id}", "0" * 32))
            chosen[owner] = (method, concrete)
    return chosen


async def test_every_service_refuses_an_admin_body_nested_too_deep(stack: Stack) -> None:
    chosen = one_operation_per_service()
    assert set(chosen) == set(SERVICES)
    for service, (method, path) in chosen.items():
        for depth, refused in ((900, True), (MAX_JSON_DEPTH + 1, True), (MAX_JSON_DEPTH, False)):
            async with stack.http.request(
                method,
                stack.url(service, path),
                params={"shop": stack.shop},
                data=nested(depth),
                headers={"Content-Type": "application/json", **stack.admin_headers()},
            ) as response:
                text = await response.text()
                said_too_deep = "nests deeper than" in text
                assert response.status < 500, (service, method, path, depth, text)
                assert said_too_deep == refused, (service, method, path, depth, text)
                if refused:
                    assert response.status == 400, (service, path, text)


async def test_every_service_refuses_nul_characters_before_any_handler(stack: Stack) -> None:
    """C8: a NUL in a query value or an admin body is 400 with the reason, on every service's
    routes and on its health and metrics endpoints too (one middleware checks them all)."""
    chosen = one_operation_per_service()
    for service, (method, path) in chosen.items():
        attempts = [
            (method, path, {"shop": stack.shop, "note": "a\x00b"}, b"{}"),
            (method, path, {"shop": stack.shop}, b'{"note": "a\\u0000b"}'),
            ("GET", "/healthz", {"probe": "a\x00b"}, b""),
            ("GET", "/metrics", {"probe": "a\x00b"}, b""),
        ]
        for verb, where, params, body in attempts:
            async with stack.http.request(
                verb,
                stack.url(service, where),
                params=params,
                data=body or None,
                headers={"Content-Type": "application/json", **stack.admin_headers()},
            ) as response:
                text = await response.text()
                assert response.status == 400, (service, verb, where, params, text)
                assert "NUL characters are not allowed" in text, (service, where, text)
        # Positive control: the same health check without the NUL answers.
        async with stack.http.get(stack.url(service, "/healthz")) as response:
            assert response.status == 200, service


async def raw_post(stack: Stack, signature: bytes, body: bytes) -> int:
    """POST a webhook whose HMAC header carries raw bytes (no HTTP client sends them as is)."""
    url = urlsplit(stack.url("ingest", "/webhooks/shopify"))
    hook = build_webhook("orders/create", stack.shop, {"id": 1}, SHOPIFY_SECRET)
    headers = {**hook.headers, "Content-Length": str(len(body)), "Connection": "close"}
    headers.pop("X-Shopify-Hmac-Sha256")
    head = f"POST {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()
    )
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(head.encode() + b"X-Shopify-Hmac-Sha256: " + signature + b"\r\n\r\n" + body)
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    return int(status_line.split()[1])


@pytest.mark.parametrize(
    "signature", ["sïgnätürë".encode(), b"\xff\xfe\xfd", "ä".encode("latin-1") * 44]
)
async def test_a_signature_header_that_is_not_ascii_is_401_and_stores_nothing(
    stack: Stack, signature: bytes
) -> None:
    body = b'{"id": 1}'
    assert await raw_post(stack, signature, body) == 401
    assert await stored_events(stack) == 0
    # Positive control: the same request with the right signature is stored.
    hook = build_webhook("orders/create", stack.shop, {"id": 1}, SHOPIFY_SECRET)
    assert await deliver(stack.http, stack.url("ingest", "/webhooks/shopify"), hook) == [200]
    assert await stored_events(stack) == 1
