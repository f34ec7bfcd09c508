"""The mapper service: applies the shop's mapping to events and emits Fortnox commands."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from libs.common.messaging import MAPPER_EVENTS
from libs.common.service import ConsumerSpec, Runtime, ServiceDefinition
from services.mapper import settings_api
from services.mapper.handler import EventHandler
from services.mapper.routes import add_routes


def _routes(app: web.Application) -> None:
    add_routes(app)
    settings_api.add_routes(app)


def _consumers(runtime: Runtime) -> list[ConsumerSpec]:
    return [ConsumerSpec(MAPPER_EVENTS, EventHandler(runtime))]


definition = ServiceDefinition(
    name="mapper",
    default_port=8081,
    migrations=Path(__file__).parent / "migrations",
    consumers=_consumers,
    routes=_routes,
)
