"""The mapper service: applies the shop's mapping to events and emits Fortnox commands."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from libs.common.messaging import MAPPER_EVENTS
from libs.common.service import ConsumerSpec, Runtime, ServiceDefinition
from services.mapper.handler import EventHandler
from services.mapper.routes import add_routes
from services.mapper.rules.migrate_liquid import migrate_stored_rules


def _consumers(runtime: Runtime) -> list[ConsumerSpec]:
    return [ConsumerSpec(MAPPER_EVENTS, EventHandler(runtime))]


async def _on_start(runtime: Runtime, _app: web.Application) -> None:
    """Before the consumers start: stored rules still in the old template syntax become Liquid
    (once per shop, under its rule lock; replicas starting together do it once)."""
    await migrate_stored_rules(runtime.pool)


definition = ServiceDefinition(
    name="mapper",
    default_port=8081,
    migrations=Path(__file__).parent / "migrations",
    consumers=_consumers,
    routes=add_routes,
    on_start=_on_start,
)
