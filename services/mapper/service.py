"""The mapper service: applies the shop's mapping to events and emits Fortnox commands."""

from __future__ import annotations

from pathlib import Path

from libs.common.messaging import MAPPER_EVENTS
from libs.common.service import ConsumerSpec, Runtime, ServiceDefinition
from services.mapper.handler import EventHandler
from services.mapper.routes import add_routes


def _consumers(runtime: Runtime) -> list[ConsumerSpec]:
    return [ConsumerSpec(MAPPER_EVENTS, EventHandler(runtime))]


definition = ServiceDefinition(
    name="mapper",
    default_port=8081,
    migrations=Path(__file__).parent / "migrations",
    consumers=_consumers,
    routes=add_routes,
)
