"""The replayer service: dead letters in, failed jobs out, replays on request."""

from __future__ import annotations

from pathlib import Path

from libs.common.service import ConsumerSpec, Runtime, ServiceDefinition
from services.replayer.handler import DeadLetterHandler
from services.replayer.routes import add_routes


def _consumers(runtime: Runtime) -> list[ConsumerSpec]:
    return [ConsumerSpec(runtime.topology.dead_letter_queue, DeadLetterHandler(runtime))]


definition = ServiceDefinition(
    name="replayer",
    default_port=8084,
    migrations=Path(__file__).parent / "migrations",
    consumers=_consumers,
    routes=add_routes,
)
