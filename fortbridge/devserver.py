"""The app on one local origin: the local stack behind the development gateway.

``app_stack`` starts the five services and both simulators (localstack.py) with the settings the
app needs locally: the app URL is the gateway's (so Fortnox's OAuth callback and every page and
admin call go through one origin) and the development login is on (loopback only). It adds the
gateway's development route ``POST /_dev/test_order.json``: with the shop's session token, a
sample order is put in the Shopify simulator and its signed ``orders/create`` delivered, as
Shopify would. Used by ``fortbridge demo --serve`` and the browser tests.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from fortbridge.gateway import DevHandler, free_socket, serve_gateway
from fortbridge.localstack import LocalStack, local_stack
from libs.common.access.session_token import SessionTokenError, shop_of_session_token
from simulators.shopify.payloads import LineSpec, order_payload

TEST_ORDER_PATH = "/_dev/test_order.json"


@dataclass
class AppStack:
    stack: LocalStack
    url: str  # the gateway: the app at {url}/app/

    def app_url(self, path: str = "/app/") -> str:
        return self.url + path


def sample_order() -> dict[str, Any]:
    """A test order: two VAT rates, shipping, a customer with an e-mail address."""
    return order_payload(
        lines=[
            LineSpec("Ullsockor", "199.00", 2, "0.25", "SOCK-WOOL-001"),
            LineSpec("Kaffe 500 g", "89.00", 1, "0.12", "COFFEE-500"),
        ]
    )


def dev_routes(stack: LocalStack) -> dict[str, DevHandler]:
    async def test_order(request: web.Request) -> web.StreamResponse:
        if request.method != "POST":
            raise web.HTTPMethodNotAllowed(request.method, ["POST"])
        header = request.headers.get("Authorization", "")
        settings = stack.settings
        try:
            shop = shop_of_session_token(
                header[7:].strip(),
                secret=settings.shopify_api_secret.get_secret_value(),
                audience=settings.shopify_api_key,
            )
        except SessionTokenError as exc:
            return web.json_response({"error": str(exc)}, status=401)
        if shop != stack.shop:
            reason = f"the local Shopify simulator holds {stack.shop} only, not {shop}"
            return web.json_response({"error": reason}, status=404)
        order = sample_order()
        statuses = await stack.send_order(order)
        return web.json_response(
            {"order_id": str(order["id"]), "name": order["name"], "delivered": statuses},
            status=202,
        )

    return {TEST_ORDER_PATH: test_order}


@contextlib.asynccontextmanager
async def app_stack(
    *,
    amqp_url: str,
    database_url: str,
    namespace: str,
    sock: socket.socket | None = None,
    **overrides: Any,
) -> AsyncIterator[AppStack]:
    """The stack behind the gateway, which listens on ``sock`` (default: a free port)."""
    sock = sock or free_socket()
    url = "http://{}:{}".format(*sock.getsockname()[:2])
    settings: dict[str, Any] = {
        "shopify_app_url": url,
        "app_dev_login": True,
        "fortnox_redirect_url": f"{url}/auth/fortnox/callback",
        **overrides,
    }
    try:
        async with local_stack(
            amqp_url=amqp_url, database_url=database_url, namespace=namespace, **settings
        ) as stack:
            backends = {name: stack.url(name, "") for name in stack.apps}
            async with serve_gateway(sock, backends, dev_routes(stack)) as served:
                yield AppStack(stack, served)
    finally:
        sock.close()
