"""``fortbridge demo``: signed Shopify orders become Fortnox invoices, end to end.

Runs the five services and both simulators in this process against the local RabbitMQ and
PostgreSQL, connects a shop (Fortnox through the OAuth code flow), sends signed orders/create
webhooks (one of them delivered three times, as Shopify may), and prints for each order the
Fortnox invoice, its total against the order total, the status written back to Shopify and the
trace id that follows it through every service.

With ``--serve`` it then keeps everything running behind the development gateway and prints the
app's local URL (devserver.py): the merchant's pages against the same stack and simulators.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import uuid
from decimal import Decimal
from typing import Any

from fortbridge.devserver import AppStack, app_stack
from fortbridge.gateway import free_socket
from fortbridge.localstack import LocalStack, delete_namespace, local_stack
from libs.common import database, tracing
from libs.common.logs import configure_logging
from libs.common.messaging import Topology
from libs.common.settings import get_settings
from simulators.shopify.payloads import DiscountSpec, LineSpec, ShippingSpec, order_payload


def sample_orders(count: int) -> list[dict[str, Any]]:
    """A mix of real-looking orders: two VAT rates, a discount code, a guest, prices ex. VAT."""
    makers = [
        lambda: order_payload(),
        lambda: order_payload(
            discount_codes=[DiscountSpec("WELCOME10", "10")],
            lines=[
                LineSpec("Kaffekvarn", "649.00", 1, "0.25", "GRINDER-1"),
                LineSpec("Kokbok", "289.00", 2, "0.06", "BOOK-FIKA"),
            ],
        ),
        lambda: order_payload(email=None, customer=None, shipping=ShippingSpec()),
        lambda: order_payload(
            taxes_included=False, lines=[LineSpec("Te", "79.20", 3, "0.12", "TEA-1")]
        ),
    ]
    return [makers[i % len(makers)]() for i in range(count)]


async def serve_until_stopped(app: AppStack) -> None:
    """Keep the stack and the gateway up for the browser until Ctrl-C (or SIGTERM)."""
    print(
        f"\nThe app: {app.app_url('/app/')}?shop={app.stack.shop}\n"
        f"  Sign in (development login) as {app.stack.shop}; everything runs on this machine,\n"
        "  Fortnox and Shopify are the simulators. Ctrl-C stops it."
    )
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    try:
        await stopped.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    print("stopping")


def _metafield(stack: LocalStack, order_id: int) -> dict[str, Any] | None:
    key = (f"gid://shopify/Order/{order_id}", "fortbridge", "sync_status")
    value = stack.shopify.shop(stack.shop).metafields.get(key)
    return None if value is None else dict(json.loads(value["value"]))


async def run_demo(orders: int = 4, serve: bool = False, port: int = 8000) -> int:
    settings = get_settings()
    configure_logging("demo", "WARNING")
    tracing.configure_tracing("fortbridge-demo")
    await database.ensure_database(settings.database_url)
    namespace = f"demo-{uuid.uuid4().hex[:8]}"
    print(f"Fortbridge demo: broker {settings.amqp_url.split('@')[-1]}, namespace {namespace}")
    failures = 0
    try:
        async with contextlib.AsyncExitStack() as running:
            where: dict[str, Any] = {
                "amqp_url": settings.amqp_url,
                "database_url": settings.database_url,
                "namespace": namespace,
            }
            app: AppStack | None = None
            if serve:
                try:
                    sock = free_socket(port=port)
                except OSError as exc:
                    print(f"port {port} is not free ({exc.strerror}): use --port", file=sys.stderr)
                    return 2
                app = await running.enter_async_context(app_stack(sock=sock, **where))
                stack = app.stack
            else:
                stack = await running.enter_async_context(local_stack(**where))
            print(f"shop {stack.shop} connected to Fortnox tenant {stack.tenant_id} (simulated)\n")
            batch = sample_orders(orders)
            for index, order in enumerate(batch):
                copies = 3 if index == 0 else 1
                statuses = await stack.send_order(order, copies=copies)
                print(f"sent {order['name']} (orders/create) x{copies}: HTTP {statuses}")
            await stack.wait_for(
                lambda: all(_metafield(stack, o["id"]) is not None for o in batch), timeout=60
            )
            print()
            header = f"{'order':<8}{'invoice':>8}{'Fortnox total':>15}{'order total':>13}  "
            print(header + f"{'match':<6}{'Shopify status':<16}trace id")
            for order in batch:
                invoices = stack.invoices_for(order["id"])
                status = _metafield(stack, order["id"]) or {}
                expected = Decimal(order["current_total_price"])
                number = invoices[0].document_number if len(invoices) == 1 else "?"
                total = invoices[0].total if len(invoices) == 1 else None
                ok = len(invoices) == 1 and total == expected and status.get("status") == "synced"
                failures += 0 if ok else 1
                print(
                    f"{order['name']:<8}{number!s:>8}{total!s:>15}{expected!s:>13}  "
                    f"{'yes' if ok else 'NO':<6}{status.get('status', '-')!s:<16}"
                    f"{status.get('trace_id')}"
                )
            calls = len(stack.fortnox.requests_for(stack.tenant_id))
            print(
                f"\n{len(stack.invoices())} invoices for {len(batch)} orders "
                f"(the first was delivered 3 times); {calls} Fortnox requests, "
                f"{stack.fortnox.count_429} answered 429."
            )
            if app is not None:
                await serve_until_stopped(app)
    finally:
        await delete_namespace(settings.amqp_url, Topology(namespace=namespace))
    print("demo OK" if failures == 0 else f"demo FAILED for {failures} order(s)")
    return 0 if failures == 0 else 1
