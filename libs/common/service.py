"""The one service runner: start-up and shutdown hooks around an aiohttp app.

A service is a :class:`ServiceDefinition`: its name, port, migrations, the queues it consumes and
its HTTP routes. :func:`build_app` turns it into an aiohttp app whose ``cleanup_ctx`` opens the
database pool (applying migrations), the broker connection (declaring the topology), the
publisher and the consumers, and closes them in reverse on shutdown after in-flight messages
finish. /healthz answers at once; /readyz only once everything is in place.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aio_pika.abc import AbstractRobustConnection
from aiohttp import web

from libs.common import database, messaging, tracing
from libs.common.http import FATAL, READINESS, AccessLogger, client_session, create_app
from libs.common.logs import configure_logging, get_logger
from libs.common.messaging import Consumer, Handler, Publisher, Topology, WorkQueue
from libs.common.settings import Settings
from libs.common.shared_schemas import migrate_shared

log = get_logger(__name__)


@dataclass
class Runtime:
    """The connections a running service holds; handlers receive it."""

    name: str
    settings: Settings
    pool: asyncpg.Pool
    connection: AbstractRobustConnection
    topology: Topology
    publisher: Publisher
    http: aiohttp.ClientSession
    consumers: list[Consumer] = field(default_factory=list)


@dataclass(frozen=True)
class ConsumerSpec:
    queue: WorkQueue | str
    handler: Handler
    prefetch: int | None = None


@dataclass(frozen=True)
class ServiceDefinition:
    """What makes a service: the runner does the rest."""

    name: str
    default_port: int
    migrations: Path | None = None
    consumers: Callable[[Runtime], Sequence[ConsumerSpec]] = lambda _runtime: ()
    routes: Callable[[web.Application], None] | None = None
    # May return more consumers, built from what it made (so nothing is handed over through a
    # module global); they start after ``consumers``.
    on_start: (
        Callable[[Runtime, web.Application], Awaitable[Sequence[ConsumerSpec] | None]] | None
    ) = None
    on_stop: Callable[[Runtime, web.Application], Awaitable[None]] | None = None


@dataclass
class ServiceState:
    """Mutable state of a served app (an aiohttp app is frozen once it runs)."""

    started: asyncio.Event = field(default_factory=asyncio.Event)
    runtime: Runtime | None = None
    base_url: str | None = None

    def require_runtime(self) -> Runtime:
        if self.runtime is None:
            raise web.HTTPServiceUnavailable(reason="service is starting")
        return self.runtime


STATE = web.AppKey("service_state", ServiceState)


def runtime_of(request: web.Request) -> Runtime:
    """The runtime of the service that handles ``request`` (503 while starting)."""
    return request.app[STATE].require_runtime()


def build_app(definition: ServiceDefinition, settings: Settings) -> web.Application:
    app = create_app(definition.name)
    app[STATE] = ServiceState()
    if definition.routes is not None:
        definition.routes(app)
    app.cleanup_ctx.append(_runtime_context(definition, settings))

    async def started() -> dict[str, bool]:
        state = app[STATE]
        if not state.started.is_set() or state.runtime is None:
            return {"started": False}
        runtime = state.runtime
        async with runtime.pool.acquire() as conn:
            database_ok = await conn.fetchval("SELECT 1") == 1
        return {
            "started": True,
            "database": database_ok,
            "broker": not runtime.connection.is_closed,
            "consumers": all(consumer.running for consumer in runtime.consumers),
        }

    app[READINESS].append(started)
    return app


def _runtime_context(
    definition: ServiceDefinition, settings: Settings
) -> Callable[[web.Application], contextlib.AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def context(app: web.Application) -> AsyncIterator[None]:
        stack = contextlib.AsyncExitStack()
        # Start in the background so /healthz answers while we wait for the broker and database.
        task = asyncio.create_task(_start(definition, settings, app, stack))
        try:
            yield
        finally:
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            await stack.aclose()

    return context


async def _start(
    definition: ServiceDefinition,
    settings: Settings,
    app: web.Application,
    stack: contextlib.AsyncExitStack,
) -> None:
    try:
        pool = await database.create_pool(
            settings.database_url, max_size=settings.database_pool_max
        )
        stack.push_async_callback(pool.close)
        if definition.migrations is not None:
            await database.migrate(pool, definition.name, definition.migrations)
        await migrate_shared(pool)
        connection = await messaging.connect(
            settings.amqp_url,
            name=f"{settings.amqp_namespace}.{definition.name}",
            heartbeat=settings.amqp_heartbeat_seconds,
        )
        stack.push_async_callback(connection.close)
        topology = Topology(
            namespace=settings.amqp_namespace,
            delivery_limit=settings.amqp_delivery_limit,
            retry_delays=settings.amqp_retry_delays,
        )
        await topology.declare_on(connection)
        publisher = Publisher(
            connection, topology.events_exchange, timeout=settings.amqp_publish_timeout_seconds
        )
        await publisher.start()
        stack.push_async_callback(publisher.close)
        http = client_session()
        stack.push_async_callback(http.close)
        runtime = Runtime(definition.name, settings, pool, connection, topology, publisher, http)
        app[STATE].runtime = runtime
        started: Sequence[ConsumerSpec] = ()
        if definition.on_start is not None:
            started = await definition.on_start(runtime, app) or ()
        if definition.on_stop is not None:
            on_stop = definition.on_stop
            stack.push_async_callback(lambda: on_stop(runtime, app))
        for spec in [*definition.consumers(runtime), *started]:
            consumer = Consumer(
                connection=connection,
                topology=topology,
                queue=spec.queue,
                handler=spec.handler,
                publisher=publisher,
                service=definition.name,
                prefetch=spec.prefetch or settings.amqp_prefetch,
                max_attempts=settings.amqp_max_attempts,
            )
            await consumer.start()
            runtime.consumers.append(consumer)
            stack.push_async_callback(consumer.stop)
        app[STATE].started.set()
        log.info("service started", consumers=[c.queue_name for c in runtime.consumers])
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.exception("service failed to start")
        app[FATAL].append(f"start-up failed: {exc}")
        raise


@contextlib.asynccontextmanager
async def serve(
    definitions: Sequence[ServiceDefinition],
    settings: Settings,
    *,
    host: str | None = None,
    ports: dict[str, int] | None = None,
    wait_started: float | None = 60.0,
) -> AsyncIterator[dict[str, web.Application]]:
    """Run services in this event loop until the block exits; yields their apps by name.

    Ports: ``ports[name]``, else ``HTTP_PORT`` for a lone service, else the service's default.
    Port 0 picks a free port (tests).
    """
    runners: list[web.AppRunner] = []
    apps: dict[str, web.Application] = {}
    try:
        for definition in definitions:
            app = build_app(definition, settings)
            runner = web.AppRunner(
                app, handle_signals=False, shutdown_timeout=30, access_log_class=AccessLogger
            )
            await runner.setup()
            runners.append(runner)
            port = (ports or {}).get(definition.name)
            if port is None:
                lone = len(definitions) == 1 and settings.http_port is not None
                port = settings.http_port if lone else definition.default_port
            site = web.TCPSite(runner, host or settings.http_host, port)
            await site.start()
            bound = runner.addresses[-1][1] if runner.addresses else port
            app[STATE].base_url = f"http://127.0.0.1:{bound}"
            apps[definition.name] = app
        if wait_started is not None:
            await _wait_started(apps, wait_started)
        yield apps
    finally:
        for runner in reversed(runners):
            await runner.cleanup()


async def run_until_signalled(
    definitions: Sequence[ServiceDefinition],
    settings: Settings,
    *,
    ports: dict[str, int] | None = None,
) -> None:
    """Run services until SIGTERM or SIGINT, then shut down gracefully (``ports``: see serve)."""
    name = definitions[0].name if len(definitions) == 1 else "fortbridge"
    configure_logging(name, settings.log_level)
    tracing.configure_tracing(
        name,
        otlp_endpoint=settings.otel_exporter_otlp_endpoint,
        sampler_ratio=settings.otel_traces_sampler_ratio,
        recorded_per_second=settings.otel_traces_recorded_per_second,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with serve(definitions, settings, ports=ports, wait_started=None) as apps:
        log.info("serving", services=list(apps))
        # What the imports and the start made lives as long as the process: out of the cyclic
        # garbage collector's way, so its full collections walk only what requests make
        # (about 150,000 objects fewer for ingest; bench/README.md). Requests' garbage is freed
        # by reference counting; young collections every 10,000 net allocations instead of 700
        # cost ingest 60 % less collector time (a few ms each at most).
        gc.freeze()
        gc.set_threshold(10_000, 10, 10)
        fatal = asyncio.create_task(_watch_fatal(apps))
        stop_task = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({fatal, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        for task in (fatal, stop_task):
            task.cancel()
        log.info("shutting down")
        await _stop_consuming(apps)
    await tracing.shutdown_tracing()
    if fatal in done:
        raise SystemExit(1)


async def _stop_consuming(apps: dict[str, web.Application], timeout: float = 25.0) -> None:
    """First step of a graceful stop: every consumer stops taking messages and finishes the
    ones in flight (all at once, within ``timeout``), before the HTTP server drains and the
    connections close (Consumer.stop is idempotent: the cleanup calls it again)."""
    consumers = [
        consumer
        for app in apps.values()
        if (runtime := app[STATE].runtime) is not None
        for consumer in runtime.consumers
    ]
    await asyncio.gather(
        *(consumer.stop(timeout) for consumer in consumers), return_exceptions=True
    )


async def _wait_started(apps: dict[str, web.Application], timeout: float) -> None:
    """Wait until every app has started; raise at once if one failed to start."""
    started: asyncio.Future[Any] = asyncio.gather(
        *(app[STATE].started.wait() for app in apps.values())
    )
    fatal: asyncio.Future[Any] = asyncio.ensure_future(_watch_fatal(apps))
    try:
        async with asyncio.timeout(timeout):
            await asyncio.wait({started, fatal}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        started.cancel()
        fatal.cancel()
    if fatal.done() and not fatal.cancelled():
        reasons = [reason for app in apps.values() for reason in app[FATAL]]
        raise RuntimeError(f"a service failed to start: {'; '.join(reasons)}")


async def _watch_fatal(apps: dict[str, web.Application]) -> None:
    while not any(app[FATAL] for app in apps.values()):
        await asyncio.sleep(0.5)
