"""Broker-side actions for tests: close connections the way a broker restart or a net split does;
delete a test's namespace whole."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from urllib.parse import urlsplit

from libs.common.messaging import Topology
from libs.common.messaging.inspect import ManagementApi
from libs.common.messaging.namespace import delete_namespace
from libs.common.messaging.topology import RETRY_DELAYS_SECONDS


def _run(*args: str) -> str:
    done = subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout


async def close_connections(name_prefix: str) -> int:
    """Close from the broker side every connection whose name starts with ``name_prefix``."""
    listing = await asyncio.to_thread(
        _run, "list_connections", "--no-table-headers", "pid", "client_properties"
    )
    pids = [
        line.split("\t", 1)[0]
        for line in listing.splitlines()
        if f'"{name_prefix}' in line or f'<<"{name_prefix}' in line
    ]
    for pid in pids:
        await asyncio.to_thread(_run, "close_connection", pid, "test: broker-side close")
    return len(pids)


# Every retry delay a test's stack may have made wait queues for: the test topology's, the test
# stack's (tests/support/stack.py) and the product's defaults.
TEST_RETRY_DELAYS: tuple[float, ...] = (0.2, 0.5, 1.0, *RETRY_DELAYS_SECONDS)


def management_api(amqp_url: str) -> ManagementApi | None:
    """The local broker's management API (``TEST_AMQP_MANAGEMENT_URL``, default port 15672 on
    the AMQP host) when it answers; None when the plugin is off."""
    host = urlsplit(amqp_url).hostname or "127.0.0.1"
    url = os.environ.get("TEST_AMQP_MANAGEMENT_URL", f"http://{host}:15672")
    port = urlsplit(url).port or 15672
    try:
        socket.create_connection((urlsplit(url).hostname or host, port), timeout=1).close()
    except OSError:
        return None
    return ManagementApi.configured(url, amqp_url)


async def delete_test_namespace(amqp_url: str, namespace: str) -> list[str]:
    """Delete every queue and exchange of a test's namespace; the queues deleted are returned.

    With the management API every queue named ``{namespace}.*`` is found and deleted, whatever
    declared it (a wait queue of any delay, a queue a test made by hand); without it, the
    topology's queues and their wait queues for every delay in TEST_RETRY_DELAYS.
    """
    deleted = await delete_namespace(
        amqp_url,
        Topology(namespace=namespace, retry_delays=TEST_RETRY_DELAYS),
        management=management_api(amqp_url),
        every_queue=True,
    )
    return deleted.queues
