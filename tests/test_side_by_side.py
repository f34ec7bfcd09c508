"""Two stacks side by side on one machine: ``fortbridge run all`` twice, one on a base port and
one on a port per service, each with its own broker namespace and database. Both answer
/readyz on their own ports, each turns its own shop's order into an invoice in its own Fortnox
tenant, each reports itself quiet afterwards, and ``fortbridge namespace delete`` removes each
one's queues."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest

from fortbridge.cli import SERVICE_NAMES
from fortbridge.localstack import service_env
from libs.common import database
from simulators.shopify.payloads import order_payload
from simulators.shopify.webhooks import build_webhook, deliver
from tests.support.stack import SHOPIFY_SECRET, Stack, running_stack
from tests.test_cli import fortbridge

ROOT = Path(__file__).resolve().parent.parent


def free_ports(count: int, consecutive: bool) -> list[int]:
    """Ports nothing listens on now (``consecutive``: a base port and the ones after it)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = int(probe.getsockname()[1])
        ports = list(range(first, first + count)) if consecutive else [first]
        if not consecutive:
            ports += [free_ports(1, True)[0] for _ in range(count - 1)]
        held = []
        try:
            for port in ports:
                sock = socket.socket()
                held.append(sock)
                sock.bind(("127.0.0.1", port))
            if len(set(ports)) == count:
                return ports
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()
    raise RuntimeError("no free ports")


class RunAll:
    """``fortbridge run all`` as a process, with the stack's settings as its environment."""

    def __init__(self, stack: Stack, args: list[str], ports: dict[str, int], log: Path) -> None:
        self.stack, self.ports, self.log = stack, ports, log
        env = service_env(stack.settings, HTTP_HOST="127.0.0.1", LOG_LEVEL="INFO")
        env.pop("HTTP_PORT", None)
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "fortbridge", "run", "all", *args],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    async def ready(self, http: aiohttp.ClientSession, timeout: float = 60) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        pending = set(SERVICE_NAMES)
        while pending:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            assert asyncio.get_running_loop().time() < deadline, f"not ready: {pending}"
            for name in sorted(pending):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(self.url(name, "/readyz")) as response:
                        body = await response.json()
                        if response.status == 200 and body["service"] == name:
                            pending.discard(name)
            await asyncio.sleep(0.2)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=45)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


@contextlib.asynccontextmanager
async def stack_with_database(amqp_url: str, database_url: str) -> AsyncIterator[Stack]:
    """A shop connected to its own Fortnox tenant, on a database and namespace of its own,
    with no service running in this process."""
    parts = urlsplit(database_url)
    url = urlunsplit(parts._replace(path=f"/fortbridge_side_{uuid.uuid4().hex[:8]}"))
    await database.ensure_database(url)
    try:
        async with running_stack(
            amqp_url=amqp_url,
            database_url=url,
            namespace=f"t{uuid.uuid4().hex[:10]}",
            services=(),
            reconcile_interval_seconds=0.0,
        ) as stack:
            yield stack
    finally:
        await database.drop_database(url)


async def send_order(run: RunAll) -> dict[str, Any]:
    stack = run.stack
    order = order_payload()
    stack.shopify.add_order(stack.shop, order)
    webhook = build_webhook("orders/create", stack.shop, order, SHOPIFY_SECRET)
    assert await deliver(stack.http, run.url("ingest", "/webhooks/shopify"), webhook) == [200]
    return order


async def is_quiet(run: RunAll) -> bool:
    async with run.stack.http.get(run.url("replayer", "/admin/api/quiet.json")) as response:
        body = await response.json()
        return response.status == 200 and body["quiet"] is True


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_two_stacks_run_side_by_side(
    amqp_url: str, database_url: str, tmp_path: Path
) -> None:
    async with (
        stack_with_database(amqp_url, database_url) as first,
        stack_with_database(amqp_url, database_url) as second,
    ):
        base = free_ports(5, consecutive=True)
        one_each = dict(zip(SERVICE_NAMES, free_ports(5, consecutive=False), strict=True))
        runs = [
            RunAll(
                first,
                ["--base-port", str(base[0])],
                dict(zip(SERVICE_NAMES, base, strict=True)),
                tmp_path / "first.log",
            ),
            RunAll(
                second,
                [f"--port={name}={port}" for name, port in one_each.items()],
                one_each,
                tmp_path / "second.log",
            ),
        ]
        try:
            await asyncio.gather(*(run.ready(first.http) for run in runs))
            for run in runs:
                order = await send_order(run)
                await run.stack.wait_for(
                    functools.partial(invoiced_once, run.stack, order["id"]), timeout=30
                )
            # Each stack's order went to its own tenant only: nothing crossed over.
            assert [len(run.stack.invoices()) for run in runs] == [1, 1]
            for run in runs:
                await run.stack.wait_for(functools.partial(is_quiet, run), timeout=30)
        finally:
            codes = [run.stop() for run in runs]
        assert codes == [0, 0], [run.log.read_text()[-2000:] for run in runs]
        for run in runs:
            namespace = run.stack.settings.amqp_namespace
            code, deleted, _ = fortbridge(
                "namespace", "delete", namespace, "--json", AMQP_URL=amqp_url
            )
            assert code == 0, deleted
            assert f"{namespace}.mapper.events" in deleted["queues"]
            assert all(name.startswith(f"{namespace}.") for name in deleted["queues"])


def invoiced_once(stack: Stack, order_id: int) -> bool:
    return len(stack.invoices_for(order_id)) == 1
