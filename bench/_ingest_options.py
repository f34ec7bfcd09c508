"""What a run of bench/ingest_vs_reference.py is asked for: its options, and the trace sampling
ingest runs with (the Kubernetes manifests', unless an option says otherwise)."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

CONFIGMAP = Path(__file__).resolve().parent.parent / "deploy" / "k8s" / "base" / "configmap.yaml"


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=20, help="seconds per closed-loop run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=int, default=1000, help="webhooks per second, fixed rate")
    parser.add_argument("--rate-duration", type=int, default=20)
    parser.add_argument(
        "--rate-connections",
        type=int,
        default=64,
        help="autocannon's connections at the fixed rate: each sends back to back until it has"
        " sent its share of the second, so they are the size of each second's burst; 64 keep"
        " 1,000/s while answers take up to 64 ms (bench/README.md)",
    )
    parser.add_argument(
        "--rate-schedule",
        choices=("bursts", "smooth", "poisson"),
        default="bursts",
        help="bursts: autocannon's overallRate (fixed_rate.js; each connection sends its share"
        " of a second back to back); smooth: one request every 1/rate s (smooth_rate.js);"
        " poisson: independent arrivals at the same mean rate (smooth_rate.js)",
    )
    parser.add_argument("--skip-fixed-rate", action="store_true")
    parser.add_argument("--skip-closed-loop", action="store_true")
    tracing_choice = parser.add_mutually_exclusive_group()
    tracing_choice.add_argument(
        "--sampler-ratio",
        type=float,
        default=None,
        help="OTEL_TRACES_SAMPLER_RATIO for ingest beyond the manifests' burst cap"
        " (default: the manifests' ratio)",
    )
    tracing_choice.add_argument(
        "--every-trace",
        action="store_true",
        help="record every webhook's trace (OTEL_TRACES_SAMPLER_RATIO 1.0, no burst cap)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="run each endpoint under cProfile, writing one .prof per run into this directory"
        " (the profiler's own cost inflates the CPU figures)",
    )
    return parser.parse_args()


def tracing_env(args: argparse.Namespace) -> dict[str, str]:
    """Ingest's trace sampling: the Kubernetes manifests', or what the options ask for."""
    if args.every_trace:
        return {"OTEL_TRACES_SAMPLER_RATIO": "1.0", "OTEL_TRACES_RECORDED_PER_SECOND": "0"}
    env = deployed_tracing()
    if args.sampler_ratio is not None:
        env["OTEL_TRACES_SAMPLER_RATIO"] = str(args.sampler_ratio)
    return env


def deployed_tracing() -> dict[str, str]:
    """The sampling settings of deploy/k8s/base/configmap.yaml."""
    [config] = yaml.safe_load_all(CONFIGMAP.read_text())
    data = config["data"]
    return {
        name: str(data[name])
        for name in ("OTEL_TRACES_SAMPLER_RATIO", "OTEL_TRACES_RECORDED_PER_SECOND")
    }
