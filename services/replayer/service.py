"""The replayer service: dead letters in, failed jobs out, replays on request."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from libs.common.service import ConsumerSpec, Runtime, ServiceDefinition
from services.replayer.gauge import OpenJobsGauge
from services.replayer.handler import DeadLetterHandler
from services.replayer.replay import ReplayDrainer
from services.replayer.routes import REPLAYER, add_routes


def _consumers(runtime: Runtime) -> list[ConsumerSpec]:
    return [ConsumerSpec(runtime.topology.dead_letter_queue, DeadLetterHandler(runtime))]


async def _start(runtime: Runtime, app: web.Application) -> None:
    state = app[REPLAYER]
    state.drainer = ReplayDrainer(runtime.pool, runtime.publisher, runtime.settings.replay_rate)
    state.drainer.start()
    gauge = OpenJobsGauge(runtime.pool)
    state.gauge = gauge
    gauge.start()


async def _stop(_runtime: Runtime, app: web.Application) -> None:
    state = app[REPLAYER]
    if state.drainer is not None:
        await state.drainer.stop()
    if state.gauge is not None:
        await state.gauge.stop()


definition = ServiceDefinition(
    name="replayer",
    default_port=8084,
    migrations=Path(__file__).parent / "migrations",
    consumers=_consumers,
    routes=add_routes,
    on_start=_start,
    on_stop=_stop,
)
