"""Server-side latency of a benchmarked endpoint, measured the same way in every endpoint.

    BENCH_SERVER_TIMES=times.bin [BENCH_PROFILE=run.prof] python -m bench.server_timing MODULE

runs ``python -m MODULE`` (``services.ingest`` or ``bench.reference_ingest``) with aiohttp's
request handling timed: for every ``POST /webhooks/shopify``, from the moment aiohttp's
connection handler takes the parsed request off its queue and creates the request's handler
task, to the moment the response is written to the socket's transport (``write_eof``: what
aiohttp's access log calls a request's time). It covers the wait for the event loop to run the
task, the middlewares, the handler and the writing of the answer; it does not cover the time
the request's bytes waited in the kernel before the event loop read them. At the process's
exit the durations (seconds, native doubles) are written to ``BENCH_SERVER_TIMES``.

Bench only: nothing in the product imports this module, and it times aiohttp's
``RequestHandler._handle_request`` (a private method; uv.lock pins aiohttp, and the bench's
smoke test, tests/test_bench_smoke.py, fails when the figures are missing). Ingest's own
``fortbridge_http_request_seconds`` histogram is not used: its buckets (5, 10, 25, 50, 100 ms)
are too coarse for a p50 or p99, and the reference has no metrics.

With ``BENCH_PROFILE`` the process runs under cProfile, timed by the process's CPU clock (not
the wall clock, which on a loaded machine charges whatever ran when the process was
descheduled), and writes its profile there at its exit.
"""

from __future__ import annotations

import cProfile
import os
import runpy
import statistics
import sys
import time
from array import array
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web_protocol

TIMED_PATH = "/webhooks/shopify"
_durations = array("d")


def install() -> None:
    """Time every request to :data:`TIMED_PATH` of this process's aiohttp servers."""
    original = web_protocol.RequestHandler._handle_request

    def timed(
        self: web_protocol.RequestHandler,
        request: Any,
        start_time: float | None,
        request_handler: Callable[[Any], Awaitable[Any]],
    ) -> Any:
        # Called synchronously when the request is taken off the connection's queue (the
        # handler task is made of the coroutine returned here), so the clock starts then.
        started = time.perf_counter()
        return _finished(original(self, request, start_time, request_handler), started, request)

    web_protocol.RequestHandler._handle_request = timed  # type: ignore[method-assign]


async def _finished(coroutine: Awaitable[Any], started: float, request: Any) -> Any:
    result = await coroutine  # the response is written when aiohttp's coroutine returns
    if request.path == TIMED_PATH:
        _durations.append(time.perf_counter() - started)
    return result


def read_times(path: Path) -> array[float]:
    """The durations an endpoint wrote at its exit (none if it wrote nothing)."""
    times = array("d")
    if path.exists():
        times.frombytes(path.read_bytes())
    return times


def percentiles_ms(times: array[float]) -> dict[str, float | int] | None:
    """p50/p90/p99/max in milliseconds and the count; None without durations."""
    if not times:
        return None
    ms = sorted(t * 1000 for t in times)
    # quantiles needs two points; one duration is its own every percentile.
    cuts = statistics.quantiles(ms if len(ms) > 1 else ms * 2, n=100, method="inclusive")
    return {
        "count": len(ms),
        "p50": round(cuts[49], 2),
        "p90": round(cuts[89], 2),
        "p99": round(cuts[98], 2),
        "max": round(ms[-1], 2),
    }


def main() -> None:
    module = sys.argv[1]
    times_file = os.environ["BENCH_SERVER_TIMES"]
    profile_file = os.environ.get("BENCH_PROFILE")
    sys.argv = [module]
    install()
    profiler = cProfile.Profile(time.process_time) if profile_file else None
    if profiler is not None:
        profiler.enable()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile_file)
        Path(times_file).write_bytes(_durations.tobytes())


if __name__ == "__main__":
    main()
