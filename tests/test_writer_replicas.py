"""Two writer processes against one simulated Fortnox: tokens, parking, faults and crashes.

The writers are real subprocesses (``python -m services.fortnox_writer``) sharing the test's
database and broker namespace; commands are published straight to the writer's queue.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from fortbridge import fortnox_connect
from fortbridge.localstack import (
    LocalStack,
    add_connected_shop,
    command_publisher,
    order_command,
    service_env,
)
from libs.common.messaging import Topology
from simulators.fortnox import FortnoxSimulator
from simulators.shopify.payloads import order_payload
from tests.services.fortnox_writer.writer_support import (
    dead_letters,
    deferred_counts,
    forget_deferred,
    invoices_of,
    settled,
)
from tests.support.stack import running_stack

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Writers:
    """Writer subprocesses; each serves HTTP on a port of its own."""

    def __init__(self, stack: LocalStack, **env: str) -> None:
        self._stack = stack
        self._env = env
        self.processes: list[tuple[subprocess.Popen[bytes], int]] = []

    async def start(self, count: int = 1) -> None:
        for _ in range(count):
            port = _free_port()
            env = service_env(
                self._stack.settings,
                HTTP_HOST="127.0.0.1",
                HTTP_PORT=str(port),
                LOG_LEVEL="WARNING",
                FORTNOX_REDIRECT_URL=f"http://127.0.0.1:{port}/auth/fortnox/callback",
                **self._env,
            )
            process = subprocess.Popen(
                [sys.executable, "-m", "services.fortnox_writer"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL if "FB_DEBUG" not in os.environ else None,
            )
            self.processes.append((process, port))
        for _, port in self.processes[-count:]:
            await self._ready(port)

    async def _ready(self, port: int) -> None:
        deadline = time.monotonic() + 30
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"writer on port {port} did not become ready")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.processes[-1][1]}{path}"

    def kill_all(self) -> None:
        for process, _ in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)
        self.processes.clear()

    def stop(self) -> None:
        for process, _ in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, _ in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()


@pytest.fixture
async def stack_factory(
    amqp_url: str, database_url: str, broker_cleanup: Topology
) -> AsyncIterator[Callable[..., Any]]:
    """A stack without an in-process writer (the writers are subprocesses)."""
    writers: list[Writers] = []

    def make(fortnox: FortnoxSimulator | None = None, **overrides: Any) -> Any:
        return running_stack(
            amqp_url=amqp_url,
            database_url=database_url,
            namespace=broker_cleanup.namespace,
            services=(),
            fortnox=fortnox,
            **overrides,
        )

    make.writers = writers  # type: ignore[attr-defined]
    yield make
    for group in writers:
        group.stop()


async def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_100_commands_across_token_expiry_never_spend_a_refresh_token_twice(
    stack_factory: Any,
) -> None:
    sim = FortnoxSimulator(access_token_ttl=4.0)
    async with stack_factory(sim) as stack:
        writers = Writers(stack, FORTNOX_REFRESH_MARGIN_SECONDS="1")
        stack_factory.writers.append(writers)
        await writers.start(2)
        async with command_publisher(stack.settings) as publish:
            warm = order_payload()
            await publish(order_command(stack.shop, warm))
            await _until(lambda: bool(stack.invoices_for(warm["id"])), 30, "warm-up")
            orders = [order_payload() for _ in range(100)]
            await asyncio.gather(*(publish(order_command(stack.shop, o)) for o in orders))
            for share in (4, 2, 4 / 3):  # also force refreshes mid-flight: all tokens expire
                await _until(
                    lambda share=share: (
                        sum(bool(stack.invoices_for(o["id"])) for o in orders)
                        >= len(orders) / share
                    ),
                    90,
                    "invoices before the tokens expire",
                )
                sim.expire_access_tokens(stack.tenant_id)
            await _until(
                lambda: all(stack.invoices_for(o["id"]) for o in orders), 90, "100 invoices"
            )
        await forget_deferred(stack.pool)
        status = await stack.pool.fetchval(
            "SELECT status FROM fortnox_writer.connections WHERE shop = $1", stack.shop
        )
    assert sorted(len(stack.invoices_for(o["id"])) for o in orders) == [1] * 100
    # ~25 s of work with 4 s tokens: several refreshes, each refresh token spent exactly once
    # (a second use would have revoked the connection and failed everything after it).
    assert sim.refresh_count >= 4
    assert sim.refresh_reuse_count == 0
    assert status == "connected"


async def test_an_invalid_refresh_token_parks_commands_until_reconnection(
    stack_factory: Any,
) -> None:
    async with stack_factory() as stack:
        writers = Writers(stack)
        stack_factory.writers.append(writers)
        await writers.start(2)
        async with command_publisher(stack.settings) as publish, aiohttp.ClientSession() as http:
            warm = order_payload()
            await publish(order_command(stack.shop, warm))
            await _until(lambda: bool(stack.invoices_for(warm["id"])), 30, "warm-up")
            # The merchant revokes the consent in Fortnox: access and refresh tokens die.
            stack.fortnox.revoke(stack.tenant_id)
            orders = [order_payload() for _ in range(20)]
            await asyncio.gather(*(publish(order_command(stack.shop, o)) for o in orders))
            deadline = time.monotonic() + 30
            while (await deferred_counts(stack.pool, stack.shop)).get("parked", 0) < 20:
                assert time.monotonic() < deadline, "commands were not parked"
                await asyncio.sleep(0.1)
            status_url = writers.url("/admin/api/integrations/fortnox/connection.json")
            async with http.get(status_url, params={"shop": stack.shop}) as response:
                connection = (await response.json())["connection"]
            assert connection["status"] == "needs_reconnection"
            assert "refused the refresh token" in connection["reason"]
            assert connection["parked_commands"] == 20
            assert not any(stack.invoices_for(o["id"]) for o in orders)

            # The merchant reconnects through the writer's connect flow (start, launch, consent,
            # callback), the same company again.
            reconnected = await fortnox_connect.connect(
                http, writers.url(""), {}, stack.tenant_id, shop=stack.shop
            )
            assert reconnected["action"] == "reconnected"

            await _until(
                lambda: all(stack.invoices_for(o["id"]) for o in orders), 60, "resumed invoices"
            )
            async with http.get(status_url, params={"shop": stack.shop}) as response:
                connection = (await response.json())["connection"]
        topology = Topology(stack.settings.amqp_namespace)
        assert not await dead_letters(stack.settings.amqp_url, topology)  # nothing failed
    assert sorted(len(stack.invoices_for(o["id"])) for o in orders) == [1] * 20
    assert connection["status"] == "connected" and connection["parked_commands"] == 0


async def test_1000_orders_with_dropped_connections_and_killed_writers_one_invoice_each(
    stack_factory: Any,
) -> None:
    async with stack_factory(fortnox_timeout_seconds=5.0) as stack:
        writers = Writers(stack)
        stack_factory.writers.append(writers)
        await writers.start(2)
        shops = [(stack.shop, stack.tenant_id)]
        for n in range(19):
            shops.append(await add_connected_shop(stack, f"Tenant {n} AB"))
        sim = stack.fortnox
        orders: list[tuple[str, dict[str, Any]]] = []
        async with command_publisher(stack.settings) as publish:
            warm = [(tenant, order_payload()) for _, tenant in shops]
            await asyncio.gather(
                *(
                    publish(order_command(shop, o))
                    for (shop, _), (_, o) in zip(shops, warm, strict=True)
                )
            )
            await _until(lambda: all(invoices_of(stack, t, o["id"]) for t, o in warm), 60, "warm")
            orders = [(tenant, order_payload()) for _ in range(50) for _, tenant in shops]
            by_tenant = {tenant: shop for shop, tenant in shops}
            # Fortnox commits, then the connection drops before the answer (20 times).
            sim.faults.add(
                method="POST", path_regex=r"^/3/invoices$", kind="drop_after_commit", times=20
            )
            await asyncio.gather(*(publish(order_command(by_tenant[t], o)) for t, o in orders))

            def done() -> int:
                return sum(1 for t, o in orders if invoices_of(stack, t, o["id"]))

            for target in (250, 500, 750):
                await _until(lambda target=target: done() >= target, 120, f"{target} invoices")
                # Fortnox commits the next invoice and holds its answer; right after that POST,
                # every writer is SIGKILLed (so the one that sent it certainly is).
                fault = sim.faults.add(
                    method="POST", path_regex=r"^/3/invoices$", kind="delay_after_commit", delay=2
                )
                await _until(lambda fault=fault: fault.fired >= 1, 30, "the held POST")
                writers.kill_all()
                sim.faults.add(
                    method="POST", path_regex=r"^/3/invoices$", kind="drop_after_commit", times=5
                )
                await writers.start(2)
            await _until(lambda: done() == len(orders), 150, "1,000 invoices")
            deadline = time.monotonic() + 60
            # Nothing left that could make a second invoice.
            while not all([await settled(stack.pool, shop) for shop, _ in shops]):
                assert time.monotonic() < deadline, "the writers did not settle"
                await asyncio.sleep(0.1)
        counts = [len(invoices_of(stack, t, o["id"])) for t, o in orders]
        failed = await dead_letters(
            stack.settings.amqp_url, Topology(stack.settings.amqp_namespace)
        )
        await forget_deferred(stack.pool)
    assert len(orders) == 1000
    assert sorted(set(counts)) == [1], {n: counts.count(n) for n in set(counts)}
    assert not failed
    dropped = sum(1 for r in sim.requests if r.fault == "drop_after_commit")
    assert dropped >= 35
    # Each ambiguous POST was followed by a search by reference that adopted the invoice.
    searches = [r for r in sim.requests if r.method == "GET" and r.path == "/3/invoices"]
    assert len(searches) >= dropped
