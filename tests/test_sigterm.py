"""SIGTERM while orders flow: every service, run as its own process the way a pod runs it
(``python -m services.<name>``), is stopped in turn with SIGTERM and started again while orders
keep arriving. Each must exit cleanly (code 0, well within the pod's grace period) after
finishing its in-flight work; afterwards every order has exactly one Fortnox invoice, its status
is in Shopify, and no message became a failed job. The simulators run in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from fortbridge.localstack import SHOPIFY_SECRET
from libs.common.messaging import Topology
from libs.common.settings import Settings
from simulators.shopify.payloads import order_payload
from simulators.shopify.webhooks import build_webhook, deliver
from tests.support.settle import MANAGEMENT_URL, settled
from tests.support.stack import Stack, running_stack

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("ingest", "mapper", "fortnox_writer", "timeline", "replayer")
# The order they are stopped in: the queue workers first, while their queues hold messages.
STOP_ORDER = ("mapper", "fortnox_writer", "timeline", "ingest", "replayer")
GRACE_SECONDS = 40.0  # the pods' terminationGracePeriodSeconds (45) less the preStop pause
ORDER_INTERVAL = 0.3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def service_env(settings: Settings, port: int) -> dict[str, str]:
    """Every setting of the in-process stack as the environment a pod would get."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, tuple | list):
            value = json.dumps(list(value))
        env[name.upper()] = str(value)
    env.update(HTTP_HOST="127.0.0.1", HTTP_PORT=str(port), LOG_LEVEL="INFO")
    return env


class Fleet:
    """The five services as subprocesses, each on a port of its own."""

    def __init__(self, settings: Settings, logs: Path) -> None:
        self.settings = settings
        self.logs = logs
        self.ports = {name: free_port() for name in SERVICES}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def url(self, name: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}{path}"

    def start(self, name: str) -> None:
        with (self.logs / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", f"services.{name}"],
                cwd=ROOT,
                env=service_env(self.settings, self.ports[name]),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def ready(self, http: aiohttp.ClientSession, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.processes[name].poll() is None, f"{name} exited: {self.tail(name)}"
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(self.url(name, "/readyz")) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"{name} not ready: {self.tail(name)}")

    async def terminate(self, name: str) -> float:
        """SIGTERM; the seconds until the process exited."""
        process = self.processes[name]
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        while process.poll() is None:
            if time.monotonic() - started > GRACE_SECONDS + 5:
                process.kill()
                pytest.fail(f"{name} ignored SIGTERM for {GRACE_SECONDS} s: {self.tail(name)}")
            await asyncio.sleep(0.05)
        assert process.returncode == 0, f"{name} exited with {process.returncode}"
        return time.monotonic() - started

    def tail(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
async def fleet_and_stack(
    amqp_url: str, database_url: str, broker_cleanup: Topology, tmp_path: Path
) -> AsyncIterator[tuple[Fleet, Stack]]:
    async with running_stack(
        amqp_url=amqp_url,
        database_url=database_url,
        namespace=broker_cleanup.namespace,
        services=(),
        fortnox_timeout_seconds=20.0,
    ) as stack:
        fleet = Fleet(stack.settings, tmp_path)
        try:
            for name in SERVICES:
                fleet.start(name)
            for name in SERVICES:
                await fleet.ready(stack.http, name)
            yield fleet, stack
        finally:
            fleet.stop_all()


async def send_until_accepted(stack: Stack, fleet: Fleet, order: dict[str, Any]) -> None:
    """Shopify's way: the same delivery again until it is answered 200 (ingest may be down)."""
    stack.shopify.add_order(stack.shop, order)
    webhook = build_webhook("orders/create", stack.shop, order, SHOPIFY_SECRET)
    url = fleet.url("ingest", "/webhooks/shopify")
    for _ in range(300):
        if await deliver(stack.http, url, webhook, timeout=10) == [200]:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"order {order['id']} was never accepted")


async def flowing(stack: Stack, more: int = 2) -> None:
    """Returns once ``more`` invoices were made after the call."""
    before = len(stack.invoices())
    await stack.wait_for(lambda: len(stack.invoices()) >= before + more, timeout=60)


def synced(stack: Stack, order_id: int) -> bool:
    key = (f"gid://shopify/Order/{order_id}", "fortbridge", "sync_status")
    value = stack.shopify.shop(stack.shop).metafields.get(key)
    return value is not None and '"synced"' in value["value"]


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_sigterm_each_service_while_orders_flow(
    fleet_and_stack: tuple[Fleet, Stack],
) -> None:
    fleet, stack = fleet_and_stack
    # Fortnox answers invoices slowly: the writer has calls in flight when SIGTERM comes.
    stack.fortnox.faults.add(
        method="POST", path_regex=r"^/3/invoices$", kind="delay", delay=0.8, times=None
    )
    orders: list[dict[str, Any]] = []
    deliveries: list[asyncio.Task[None]] = []
    stop_sending = asyncio.Event()

    async def send_orders() -> None:
        while not stop_sending.is_set():
            order = order_payload()
            orders.append(order)
            deliveries.append(asyncio.create_task(send_until_accepted(stack, fleet, order)))
            await asyncio.sleep(ORDER_INTERVAL)

    sender = asyncio.create_task(send_orders())
    exits: dict[str, float] = {}
    try:
        await stack.wait_for(lambda: len(stack.invoices()) >= 2, timeout=60)
        for name in STOP_ORDER:
            # Not a fixed wait: orders flow end to end again (new invoices since the last
            # restart) while the sender keeps adding more, so every queue has work in flight.
            await flowing(stack)
            exits[name] = await fleet.terminate(name)
            fleet.start(name)
            await fleet.ready(stack.http, name)
        await flowing(stack)  # the last one restarted handles orders again
    finally:
        stop_sending.set()
        await sender
    await asyncio.gather(*deliveries)

    await stack.wait_for(lambda: all(synced(stack, o["id"]) for o in orders), timeout=120)
    # Nothing left that could make a duplicate: no message ready or being handled in any
    # service's queues (the fleet's consumers are other processes: the management API counts
    # theirs), no unpublished webhook, for longer than the API's 5 s statistics interval.
    await settled(stack, services=SERVICES, management_url=MANAGEMENT_URL, checks=4, interval=2.0)
    counts = [len(stack.invoices_for(o["id"])) for o in orders]
    assert counts == [1] * len(orders), [
        (o["id"], c) for o, c in zip(orders, counts, strict=True) if c != 1
    ]
    for order in orders:
        [invoice] = stack.invoices_for(order["id"])
        assert invoice.total == Decimal(order["total_price"])
    failed = await stack.pool.fetchval(
        "SELECT count(*) FROM replayer.failed_jobs WHERE shop = $1", stack.shop
    )
    assert failed == 0, [fleet.tail(name) for name in SERVICES]
    assert len(orders) >= 15
    assert all(seconds < GRACE_SECONDS for seconds in exits.values()), exits
