"""The benchmarks still run: each, at a tiny size, prints its JSON figures.

No timing is asserted here (figures are for bench/README.md, measured on a quiet machine): this
only keeps the benchmarks working as the services change, e.g. a new setting a service needs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import _ingest_options
from bench._processes import local_broker
from libs.common.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# bench.ingest_vs_reference at a tiny size: 1 s runs over 2 connections, 20 webhooks/s.
TINY_INGEST_RUN = [
    "bench.ingest_vs_reference",
    *("--duration", "1", "--connections", "2", "--rounds", "1"),
    *("--rate", "20", "--rate-duration", "1", "--rate-connections", "2"),
]

SMALL_RUNS = [
    pytest.param(
        ["bench.skeleton", "--webhooks", "20", "--concurrency", "5", "--orders", "2"],
        {"ingest", "end_to_end"},
        id="skeleton",
    ),
    pytest.param(
        ["bench.writer_replicas", "--heavy", "30", "--window", "2", "--corpus", "4"],
        None,
        id="writer_replicas",
    ),
    pytest.param(["bench.catalog_sync", "--products", "3"], None, id="catalog_sync"),
    pytest.param(
        ["bench.templates", "--repeat", "1"],
        {"issue_12_old_bomb_migrated", "worst_row_templates_1000_lines"},
        id="templates",
    ),
    pytest.param(TINY_INGEST_RUN, {"closed_loop", "fixed_rate"}, id="ingest_vs_reference"),
    pytest.param(
        [*TINY_INGEST_RUN, "--rate-schedule", "smooth"],
        {"closed_loop", "fixed_rate"},
        id="ingest_vs_reference_smooth",
    ),
    pytest.param(
        [*TINY_INGEST_RUN, "--rate-schedule", "poisson", "--skip-closed-loop"],
        {"fixed_rate"},
        id="ingest_vs_reference_poisson",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("command", "keys"), SMALL_RUNS)
def test_the_benchmark_prints_its_figures(
    command: list[str], keys: set[str] | None, amqp_url: str, database_url: str
) -> None:
    env = {**os.environ, "AMQP_URL": amqp_url, "DATABASE_URL": database_url, "LOG_LEVEL": "ERROR"}
    done = subprocess.run(
        [sys.executable, "-m", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout[done.stdout.index("{") :])
    assert isinstance(figures, dict) and figures
    if keys is not None:
        assert keys <= set(figures)
    for mode in ("closed_loop", "fixed_rate"):  # bench.ingest_vs_reference: a 200 was stored
        for run in figures.get(mode, {}).get("runs", []):
            assert all(target["every_200_stored"] for target in run.values()), run
            for target in run.values():
                assert_server_side_and_generator_figures(target)


def assert_server_side_and_generator_figures(run: dict[str, object]) -> None:
    """Every webhook answered was timed by the endpoint, and the server-side time of a request
    is within the client's (both in ms), and the load generator's CPU share is a share of at most
    the machine's cores."""
    server = run["server_latency_ms"]
    client = run.get("latency_ms_uncorrected", run["latency_ms"])  # the answers' own times
    assert isinstance(server, dict) and isinstance(client, dict), run
    answered = run["requests"] if "requests" in run else run["answered_2xx"] + run["answered_other"]  # type: ignore[operator]
    assert isinstance(answered, int) and answered > 0, run
    # The generator counts the answers it read; the endpoint may also have answered a few that
    # were in flight when the generator stopped, never fewer than the generator read.
    assert answered <= server["count"] <= answered + 64, (server, run)
    assert 0 < server["p50"] <= server["p99"] <= server["max"], server
    # The endpoint's time of a request is part of the client's. The two medians are over slightly
    # different sets (the endpoint also timed the few answers the generator stopped before
    # reading) and autocannon reports whole milliseconds, so a tiny run can put the endpoint's
    # median a rank above the client's: compare it with the client's p90 plus that resolution. A
    # timer in the wrong unit (seconds, microseconds) or one that times more than the request
    # still fails by orders of magnitude.
    assert server["p50"] <= client["p90"] + 1.0, (server, client)
    if local_broker():  # RabbitMQ runs here: its CPU per webhook is counted (a tiny run may
        # fall within one clock tick, so zero is possible; less than zero never is)
        broker = run["broker_cpu_ms_per_webhook"]
        assert isinstance(broker, float | int) and broker >= 0, run
    # The generator's CPU share: a tiny run may use less than one clock tick (0.0), never more
    # than the machine's cores.
    share = run["load_generator_cpu_share"]
    assert isinstance(share, float | int) and 0 <= share <= (os.cpu_count() or 1), run


def test_ingest_is_benchmarked_with_the_manifests_trace_sampling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deployed = _ingest_options.deployed_tracing()
    for name, value in deployed.items():
        monkeypatch.setenv(name, value)
    settings = Settings()  # the manifests' values are settings ingest accepts
    assert 0 < settings.otel_traces_sampler_ratio < 1
    assert settings.otel_traces_recorded_per_second > 0

    def options(**given: object) -> argparse.Namespace:
        return argparse.Namespace(**{"every_trace": False, "sampler_ratio": None, **given})

    assert _ingest_options.tracing_env(options()) == deployed
    assert _ingest_options.tracing_env(options(sampler_ratio=0.5)) == {
        **deployed,
        "OTEL_TRACES_SAMPLER_RATIO": "0.5",
    }
    assert _ingest_options.tracing_env(options(every_trace=True)) == {
        "OTEL_TRACES_SAMPLER_RATIO": "1.0",
        "OTEL_TRACES_RECORDED_PER_SECOND": "0",
    }
