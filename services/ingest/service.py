"""The ingest service: Shopify's HTTP edge."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from aiohttp import web

from libs.common.service import Runtime, ServiceDefinition
from services.ingest import events
from services.ingest.routes import add_routes

RELAY_TASK = web.AppKey("outbox_relay", list[asyncio.Task[None]])


def _routes(app: web.Application) -> None:
    add_routes(app)
    app[RELAY_TASK] = []


async def _start(runtime: Runtime, app: web.Application) -> None:
    app[RELAY_TASK].append(
        asyncio.create_task(
            events.relay_forever(
                runtime.pool,
                runtime.publisher,
                interval=runtime.settings.outbox_relay_interval_seconds,
                older_than=runtime.settings.outbox_relay_age_seconds,
            )
        )
    )


async def _stop(_runtime: Runtime, app: web.Application) -> None:
    for task in app[RELAY_TASK]:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


definition = ServiceDefinition(
    name="ingest",
    default_port=8080,
    migrations=Path(__file__).parent / "migrations",
    routes=_routes,
    on_start=_start,
    on_stop=_stop,
)
