"""The fortnox_writer service: the only caller of Fortnox."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from aiohttp import web

from libs.common.crypto import TokenCipher
from libs.common.messaging import WRITER_COMMANDS
from libs.common.service import ConsumerSpec, Runtime, ServiceDefinition
from services.fortnox_writer.connections import ConnectionStore
from services.fortnox_writer.handler import CommandHandler
from services.fortnox_writer.ratelimit import RateLimiter
from services.fortnox_writer.routes import add_routes

SCHEDULER = web.AppKey("writer_scheduler", list[asyncio.Task[None]])

# The handler of each running service (by runtime): built in on_start, which runs before the
# consumers are created, so the consumer and the scheduler share one runner.
_handlers: dict[int, CommandHandler] = {}


def connection_store(runtime: Runtime) -> ConnectionStore:
    cipher = TokenCipher(runtime.settings.token_encryption_keys.get_secret_value())
    return ConnectionStore(runtime.pool, cipher, runtime.http, runtime.settings)


def _routes(app: web.Application) -> None:
    add_routes(app)
    app[SCHEDULER] = []


async def _start(runtime: Runtime, app: web.Application) -> None:
    limiter = RateLimiter(
        runtime.pool,
        limit=runtime.settings.fortnox_rate_limit,
        window=runtime.settings.fortnox_rate_window_seconds,
    )
    handler = CommandHandler(runtime, connection_store(runtime), limiter)
    _handlers[id(runtime)] = handler
    # The scheduler drains deferred commands (rate limit, retries, parked -> resumed).
    app[SCHEDULER].append(asyncio.create_task(handler.runner.run_forever()))


async def _stop(runtime: Runtime, app: web.Application) -> None:
    for task in app[SCHEDULER]:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    handler = _handlers.pop(id(runtime), None)
    if handler is not None:
        await handler.runner.stop()


def _consumers(runtime: Runtime) -> list[ConsumerSpec]:
    return [ConsumerSpec(WRITER_COMMANDS, _handlers[id(runtime)])]


definition = ServiceDefinition(
    name="fortnox_writer",
    default_port=8082,
    migrations=Path(__file__).parent / "migrations",
    consumers=_consumers,
    routes=_routes,
    on_start=_start,
    on_stop=_stop,
)
