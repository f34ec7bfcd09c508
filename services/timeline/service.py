"""The timeline service: per-order sync events, mirrored into Shopify."""

from __future__ import annotations

from pathlib import Path

from libs.common.messaging import TIMELINE_RESULTS
from libs.common.service import ConsumerSpec, Runtime, ServiceDefinition
from services.timeline.handler import ResultHandler
from services.timeline.routes import add_routes


def _consumers(runtime: Runtime) -> list[ConsumerSpec]:
    return [ConsumerSpec(TIMELINE_RESULTS, ResultHandler(runtime))]


definition = ServiceDefinition(
    name="timeline",
    default_port=8083,
    migrations=Path(__file__).parent / "migrations",
    consumers=_consumers,
    routes=add_routes,
)
