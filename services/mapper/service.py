"""The mapper service: applies the shop's mapping to events and emits Fortnox commands."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from aiohttp import web

from libs.common.messaging import MAPPER_EVENTS
from libs.common.service import ConsumerSpec, Runtime, ServiceDefinition
from services.mapper import settings_api
from services.mapper.handler import EventHandler
from services.mapper.routes import add_routes
from services.mapper.rules.migrate_liquid import migrate_stored_rules
from services.mapper.summary import close_forever

_CLOSER = web.AppKey("summary_closer", list[asyncio.Task[None]])


def _routes(app: web.Application) -> None:
    app[_CLOSER] = []
    add_routes(app)
    settings_api.add_routes(app)


def _consumers(runtime: Runtime) -> list[ConsumerSpec]:
    return [ConsumerSpec(MAPPER_EVENTS, EventHandler(runtime))]


async def _on_start(runtime: Runtime, app: web.Application) -> None:
    """Before the consumers start: stored rules still in the old template syntax become Liquid
    (once per shop, under its rule lock; replicas starting together do it once). Then the loop
    that closes summary days (summary mode) starts."""
    await migrate_stored_rules(runtime.pool)
    if runtime.settings.summary_close_interval_seconds > 0:
        defaults = {"guest_customer_name": runtime.settings.default_guest_customer_name}
        app[_CLOSER].append(asyncio.create_task(close_forever(runtime, defaults)))


async def _on_stop(_runtime: Runtime, app: web.Application) -> None:
    for task in app[_CLOSER]:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


definition = ServiceDefinition(
    name="mapper",
    default_port=8081,
    migrations=Path(__file__).parent / "migrations",
    consumers=_consumers,
    routes=_routes,
    on_start=_on_start,
    on_stop=_on_stop,
)
