"""The benchmarks still run: each, at a tiny size, prints its JSON figures.

No timing is asserted here (figures are for bench/README.md, measured on a quiet machine): this
only keeps the benchmarks working as the services change, e.g. a new setting a service needs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

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
    pytest.param(
        [
            "bench.ingest_vs_reference",
            "--duration",
            "1",
            "--connections",
            "2",
            "--rounds",
            "1",
            "--rate",
            "20",
            "--rate-duration",
            "1",
            "--rate-connections",
            "2",
        ],
        {"closed_loop", "fixed_rate"},
        id="ingest_vs_reference",
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
