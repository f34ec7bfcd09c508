"""Logs of an end-to-end run never carry tokens, secrets or customers' personal data.

Every log line of the whole stack (services and simulators, structlog and the standard library,
DEBUG and up) is captured while orders go through: a good one, a duplicate, one that fails in
Fortnox (a permanent error, dead-lettered and logged) and a webhook with a bad signature. The
test's Fortnox access and refresh tokens, authorization codes, the Shopify token, the app
secrets, e-mail addresses, names, street addresses and phone numbers must not appear; the shop
and order ids must (they are how an operator finds an order's story).
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import Iterator

import pytest
import structlog
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from fortbridge.localstack import CLIENT_SECRET
from libs.common.logs import configure_logging
from libs.common.messaging import Topology
from simulators.shopify._catalog import address_payload, customer_payload
from simulators.shopify.payloads import LineSpec, order_payload
from tests.support.settle import settled
from tests.support.stack import SHOPIFY_SECRET, Stack, running_stack

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def debug_logs() -> Iterator[None]:
    """LOG_LEVEL=DEBUG as a service would run it, to the (captured) stdout of the test's call
    phase; the suite's logging exactly as it was afterwards. (configure_logging keeps aiormq,
    aio_pika and asyncio at WARNING even then: their DEBUG lines dump whole AMQP frames.)"""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("tests", "DEBUG")
    assert logging.getLogger("aiormq").level >= logging.WARNING
    try:
        yield
    finally:
        structlog.configure(**saved)
        root.handlers[:] = handlers
        root.setLevel(level)


def personal(tag: str) -> dict[str, str]:
    """Personal data no other test uses, so a match can only come from this run."""
    return {
        "email": f"kund.{tag}@example.org",
        "first_name": f"Förnamn{tag}",
        "last_name": f"Efternamn{tag}",
        "address1": f"Hemliga gatan {tag}",
        "phone": f"+46 70 {tag[:3]} {tag[3:6]}",
    }


def custom_order(data: dict[str, str], lines: list[LineSpec] | None = None) -> dict[str, object]:
    address = address_payload(
        first_name=data["first_name"],
        last_name=data["last_name"],
        address1=data["address1"],
        phone=data["phone"],
    )
    customer = customer_payload(
        email=data["email"],
        first_name=data["first_name"],
        last_name=data["last_name"],
        phone=data["phone"],
    )
    return order_payload(
        email=data["email"],
        customer=customer,
        billing_address=address,
        shipping_address=address,
        lines=lines,
    )


async def run_orders(stack: Stack, people: list[dict[str, str]]) -> list[dict[str, object]]:
    good = custom_order(people[0])
    failing = custom_order(people[1], [LineSpec("Bier", "10.00", 3, "0.19", "BEER-DE")])
    assert await stack.send_order(good, copies=2) == [200, 200]
    assert await stack.send_order(failing) == [200]
    assert await stack.send_webhook("orders/create", good, secret="wrong") == [401]

    def done() -> bool:
        key = (f"gid://shopify/Order/{good['id']}", "fortbridge", "sync_status")
        return key in stack.shopify.shop(stack.shop).metafields

    await stack.wait_for(done, timeout=30)
    await stack.wait_for(lambda: _has_failed_job(stack), timeout=30)
    await settled(stack)  # every message handled: everything the services will log is logged
    return [good, failing]


async def _has_failed_job(stack: Stack) -> bool:
    return bool(await stack.failed_jobs())


def secrets_of(stack: Stack) -> dict[str, str]:
    tokens = stack.fortnox.tokens
    found = {f"fortnox access token {i}": t for i, t in enumerate(tokens.access)}
    found |= {f"fortnox refresh token {i}": t for i, t in enumerate(tokens.refresh)}
    found |= {f"fortnox authorization code {i}": c for i, c in enumerate(tokens.codes)}
    found["shopify access token"] = stack.shopify.shop(stack.shop).access_token
    found["shopify api secret"] = SHOPIFY_SECRET
    found["fortnox client secret"] = CLIENT_SECRET
    found["token encryption key"] = stack.settings.token_encryption_keys.get_secret_value()
    assert any(name.startswith("fortnox access") for name in found)
    assert any(name.startswith("fortnox refresh") for name in found)
    return found


async def test_logs_never_carry_tokens_or_personal_data(
    amqp_url: str,
    database_url: str,
    broker_cleanup: Topology,
    span_exporter: InMemorySpanExporter,
    capsys: pytest.CaptureFixture[str],
) -> None:
    people = [personal(uuid.uuid4().hex[:8]) for _ in range(2)]
    with debug_logs():
        async with running_stack(
            amqp_url=amqp_url, database_url=database_url, namespace=broker_cleanup.namespace
        ) as stack:
            orders = await run_orders(stack, people)
            secrets = secrets_of(stack)
            shop = stack.shop
    captured = capsys.readouterr()
    text = captured.out + captured.err
    lines = [line for line in text.splitlines() if line.strip()]
    events = {json.loads(line).get("event") for line in lines if line.startswith("{")}
    # The run's own story is in the captured logs (so the checks below look at real output).
    assert {"webhooks stored", "duplicate webhook", "webhook rejected", "message failed"} <= events

    leaks = [name for name, value in secrets.items() if value and value in text]
    assert not leaks, f"secrets in the logs: {leaks}"
    for person in people:
        for field, value in person.items():
            leaked = [line for line in lines if value in line][:3]
            assert not leaked, f"{field} {value!r} is in the logs: {leaked}"
    # The local part of an e-mail address alone would still identify the customer.
    assert not any(p["email"].split("@")[0] in text for p in people)

    # What an operator needs is there: the shop and the orders' ids, in JSON lines.
    assert shop in text
    for order in orders:
        assert str(order["id"]) in text, f"order {order['id']} never appears in the logs"
    structured = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(structured) >= len(lines) * 0.9, "log lines are not JSON"
    assert any("trace_id" in event for event in structured)  # tracing is on (span_exporter)
