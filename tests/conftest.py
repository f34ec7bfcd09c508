"""Shared fixtures: the real broker and database, a fresh database per run, tracing in memory."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from libs.common import database, tracing
from libs.common.logs import configure_logging
from libs.common.messaging import Topology
from tests.support import fast_lane
from tests.support.broker import delete_test_namespace
from tests.support.infra import broker_and_database
from tests.support.stack import Stack, running_stack


def pytest_configure(config: pytest.Config) -> None:
    # Marks whole-stack tests slow; fails unmarked tests that start subprocesses or a stack.
    config.pluginmanager.register(fast_lane, "fortbridge-fast-lane")


@pytest.fixture(scope="session")
def servers() -> Iterator[tuple[str, str]]:
    with broker_and_database() as urls:
        yield urls


@pytest.fixture(scope="session")
def amqp_url(servers: tuple[str, str]) -> str:
    return servers[0]


@pytest.fixture(scope="session")
def database_url(servers: tuple[str, str]) -> Iterator[str]:
    """A database of this test run's own, dropped at the end."""
    parts = urlsplit(servers[1])
    url = urlunsplit(parts._replace(path=f"/fortbridge_test_{uuid.uuid4().hex[:8]}"))
    asyncio.run(database.ensure_database(url))
    yield url
    asyncio.run(database.drop_database(url))


@pytest.fixture(scope="session")
def span_exporter() -> InMemorySpanExporter:
    configure_logging("tests", "WARNING")
    exporter = InMemorySpanExporter()
    tracing.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.configure_tracing("fortbridge-tests")
    return exporter


@pytest.fixture
def namespace() -> str:
    """A broker namespace of the test's own: its exchanges and queues are deleted afterwards."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await database.create_pool(database_url, max_size=5)
    yield pool
    await pool.close()


StackFactory = Callable[..., Awaitable[Stack]]


@pytest.fixture
async def stack_factory(
    amqp_url: str,
    database_url: str,
    broker_cleanup: Topology,
    span_exporter: InMemorySpanExporter,
) -> AsyncIterator[StackFactory]:
    """Opens the test's running stack (settings overrides as keywords), traced; closed after."""
    async with contextlib.AsyncExitStack() as stacks:

        async def open_stack(**overrides: Any) -> Stack:
            return await stacks.enter_async_context(
                running_stack(
                    amqp_url=amqp_url,
                    database_url=database_url,
                    namespace=broker_cleanup.namespace,
                    **overrides,
                )
            )

        yield open_stack


@pytest.fixture
async def broker_cleanup(amqp_url: str, namespace: str) -> AsyncIterator[Topology]:
    """The test's topology (delays short for tests); everything in it is deleted at the end."""
    topology = Topology(namespace=namespace, retry_delays=(0.2, 0.5), delivery_limit=3)
    yield topology
    # Every queue of the namespace, whichever delays its stack's wait queues used.
    await delete_test_namespace(amqp_url, namespace)
