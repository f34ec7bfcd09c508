"""Failures of the parts around the services: the broker closes connections, a writer dies."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fortbridge.localstack import LocalStack
from libs.common.messaging import Topology
from simulators.shopify.payloads import order_payload
from tests.support.broker import close_connections
from tests.support.settle import settled
from tests.support.stack import running_stack

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


async def test_consumers_resume_after_the_broker_closes_their_connections(
    amqp_url: str, database_url: str, broker_cleanup: Topology
) -> None:
    async with running_stack(
        amqp_url=amqp_url, database_url=database_url, namespace=broker_cleanup.namespace
    ) as stack:
        orders = [order_payload() for _ in range(16)]
        first, second = orders[:8], orders[8:]
        sending = asyncio.gather(*(stack.send_order(o) for o in first))
        await stack.wait_for(lambda: len(stack.invoices()) >= 2, timeout=30)
        closed = await close_connections(f"{broker_cleanup.namespace}.")
        assert closed >= 5  # one connection per service
        await sending
        statuses = await asyncio.gather(*(stack.send_order(o) for o in second))
        assert all(s == [200] for s in statuses)
        await stack.wait_for(
            lambda: all(len(stack.invoices_for(o["id"])) == 1 for o in orders), timeout=90
        )
        await settled(stack)  # every redelivery is handled: a duplicate invoice would be there
        assert sorted(len(stack.invoices_for(o["id"])) for o in orders) == [1] * len(orders)
        assert len(stack.invoices()) == len(orders)


def _writer_env(stack: LocalStack) -> dict[str, str]:
    s = stack.settings
    return {
        **os.environ,
        "AMQP_URL": s.amqp_url,
        "AMQP_NAMESPACE": s.amqp_namespace,
        "AMQP_RETRY_DELAYS": json.dumps(list(s.amqp_retry_delays)),
        "AMQP_MAX_ATTEMPTS": str(s.amqp_max_attempts),
        "AMQP_DELIVERY_LIMIT": str(s.amqp_delivery_limit),
        "DATABASE_URL": s.database_url,
        "FORTNOX_API_URL": s.fortnox_api_url,
        "FORTNOX_AUTH_URL": s.fortnox_auth_url,
        "FORTNOX_CLIENT_ID": s.fortnox_client_id,
        "FORTNOX_CLIENT_SECRET": s.fortnox_client_secret.get_secret_value(),
        "FORTNOX_TIMEOUT_SECONDS": "60",
        "TOKEN_ENCRYPTION_KEYS": s.token_encryption_keys.get_secret_value(),
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": "0",
        "LOG_LEVEL": "WARNING",
    }


@pytest.fixture
async def writer_processes() -> AsyncIterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


async def test_writer_killed_after_fortnox_committed_gives_one_invoice(
    amqp_url: str,
    database_url: str,
    broker_cleanup: Topology,
    writer_processes: list[subprocess.Popen[bytes]],
) -> None:
    services = ("ingest", "mapper", "timeline", "replayer")
    async with running_stack(
        amqp_url=amqp_url,
        database_url=database_url,
        namespace=broker_cleanup.namespace,
        services=services,
    ) as stack:
        # Fortnox commits the invoice, then the answer never comes: the writer is mid-call.
        stack.fortnox.faults.add(
            method="POST", path_regex=r"^/3/invoices$", kind="delay_after_commit", delay=600
        )

        def start_writer() -> subprocess.Popen[bytes]:
            process = subprocess.Popen(
                [sys.executable, "-m", "services.fortnox_writer"],
                cwd=ROOT,
                env=_writer_env(stack),
                stdout=subprocess.DEVNULL if "FB_DEBUG" not in os.environ else None,
            )
            writer_processes.append(process)
            return process

        first = start_writer()
        order = order_payload()
        await stack.send_order(order)
        await stack.wait_for(lambda: len(stack.invoices_for(order["id"])) == 1, timeout=60)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        start_writer()

        def status() -> str | None:
            key = (f"gid://shopify/Order/{order['id']}", "fortbridge", "sync_status")
            value = stack.shopify.shop(stack.shop).metafields.get(key)
            return None if value is None else value["value"]

        await stack.wait_for(lambda: status() is not None and '"synced"' in str(status()), 90)
        assert len(stack.invoices_for(order["id"])) == 1
        requests = stack.fortnox.requests_for(stack.tenant_id)
        # The first POST is still hanging (never answered); the second writer searched by the
        # order's reference and adopted the invoice instead of posting another.
        assert not [r for r in requests if r.method == "POST" and r.path == "/3/invoices"]
        assert [r for r in requests if r.method == "GET" and r.path == "/3/invoices"]
