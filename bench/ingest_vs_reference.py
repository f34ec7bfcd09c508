"""Fortbridge's ingest against the least a correct ingest must do, in the same run.

    .venv/bin/python -m bench.ingest_vs_reference [--duration 20] [--connections 32]
        [--rounds 3] [--rate 1000] [--rate-duration 20] [--rate-connections 64]
        [--rate-schedule bursts|smooth|poisson] [--skip-closed-loop | --skip-fixed-rate]
        [--sampler-ratio R | --every-trace] [--profile DIR]

Two endpoints, one process each, on the same asyncio event loop: ``services.ingest`` and
``bench/reference_ingest.py`` (HMAC, deduplicated inbox INSERT, persistent confirmed publish to a
quorum queue). Both get the same load from generators that are not Python:

- closed loop: wrk, one thread, ``--connections`` connections, ``--duration`` seconds, signed
  8 KB orders/create bodies, a new webhook id and event id on every request
  (bench/loadgen/webhooks.lua); webhooks accepted (200) per second and latency;
- fixed rate: autocannon at ``--rate`` webhooks per second (bench/loadgen/fixed_rate.js, latency
  corrected for coordinated omission, and uncorrected): p50/p99 and the share answered 200
  within 5 s. With ``--rate-schedule smooth`` bench/loadgen/smooth_rate.js sends one request
  every 1/rate s instead of autocannon's per-second bursts; with ``poisson`` it sends them at
  independent (Poisson) arrival times, the same seeded schedule for both endpoints.

Each run also prints the server-side latency (``server_latency_ms``: from aiohttp taking the
request off its connection's queue to the answer written, bench/server_timing.py, measured the
same way in both endpoints) beside the generator's, and the load generator's CPU share
(``load_generator_cpu_share``, from /proc: near 1.0 the generator is the bottleneck). CPU per
webhook accepted, from /proc: the endpoint's process, its PostgreSQL backends, and a local
RabbitMQ's whole server (``broker_cpu_ms_per_webhook``; absent when the broker is elsewhere):
on two shared cores their sum decides the closed-loop rate.

Runs alternate (reference first in even rounds, ingest first in odd ones), and every run gets a
fresh database and broker namespace, so dedupe never makes a run look faster. After each run the
rows stored and messages queued are counted (a 200 must mean stored). The JSON printed holds each
run, the ratio ingest / reference per round, and the machine's load average.

Ingest runs with the Kubernetes manifests' trace sampling (deploy/k8s/base/configmap.yaml:
every trace up to ``OTEL_TRACES_RECORDED_PER_SECOND`` a second, ``OTEL_TRACES_SAMPLER_RATIO``
beyond); ``--every-trace`` records every webhook's trace instead (the settings' default, the
local stack's), ``--sampler-ratio R`` keeps the burst cap with another ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import aiohttp
import asyncpg

from bench._ingest_options import parse_options, tracing_env
from bench._processes import (
    cpu_by_process,
    cpu_seconds,
    cpu_used,
    database_backends,
    free_port,
    local_broker,
    run_generator,
)
from bench.reference_ingest import queue_name as reference_queue
from bench.server_timing import percentiles_ms, read_times
from fortbridge.localstack import delete_namespace
from libs.common import database
from libs.common.crypto import TokenCipher
from libs.common.messaging import Topology
from libs.common.messaging.topology import MAPPER_EVENTS
from libs.common.settings import get_settings
from simulators.shopify.payloads import order_payload
from simulators.shopify.webhooks import encode_body

ROOT = Path(__file__).resolve().parent.parent
LOADGEN = ROOT / "bench" / "loadgen"
SECRET = "bench-shopify-secret"
TARGETS = ("reference", "ingest")
# A shared broker can be slow to answer; the benchmark fails rather than hang.
BROKER_TIMEOUT = 120.0


@dataclass(frozen=True)
class Load:
    body_file: Path
    signature: str
    shop: str

    def env(self, prefix: str) -> dict[str, str]:
        return {
            "WEBHOOK_BODY_FILE": str(self.body_file),
            "WEBHOOK_HMAC": self.signature,
            "WEBHOOK_SHOP": self.shop,
            "WEBHOOK_ID_PREFIX": prefix,
        }


@asynccontextmanager
async def scratch_directory() -> AsyncIterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bench-") as directory:
        yield Path(directory)


@asynccontextmanager
async def fresh_database(server_url: str) -> AsyncIterator[str]:
    parts = urlsplit(server_url)
    url = urlunsplit(parts._replace(path=f"/bench_{uuid.uuid4().hex[:10]}"))
    await database.ensure_database(url)
    try:
        yield url
    finally:
        await database.drop_database(url)


@asynccontextmanager
async def endpoint(
    target: str,
    database_url: str,
    namespace: str,
    extra_env: dict[str, str],
    times: Path,
    profile: Path | None = None,
) -> AsyncIterator[Any]:
    """Start one endpoint process; yields (base url, process) once it is ready. It writes
    its server-side durations to ``times`` when it stops (bench/server_timing.py); with
    ``profile`` it runs under cProfile and writes its profile there too."""
    settings = get_settings()
    port = free_port()
    env = {
        **os.environ,
        "AMQP_NAMESPACE": namespace,
        "AMQP_URL": settings.amqp_url,
        "DATABASE_URL": database_url,
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(port),
        "SHOPIFY_API_SECRET": SECRET,
        "TOKEN_ENCRYPTION_KEYS": TokenCipher.generate_key(),
        "BENCH_SERVER_TIMES": str(times),
        **({"BENCH_PROFILE": str(profile)} if profile else {}),
        **extra_env,
    }
    module = "services.ingest" if target == "ingest" else "bench.reference_ingest"
    # stderr to a file beside the times, not a pipe nobody reads while the load runs (a full
    # pipe would stall the endpoint); its tail explains an endpoint that exits before ready.
    errors = times.with_suffix(".stderr")
    with errors.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.server_timing",
            module,
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(f"{base}/readyz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                if process.returncode is not None:
                    tail = errors.read_text(errors="replace")[-2000:]
                    raise SystemExit(
                        f"{target} exited with {process.returncode} before ready:\n{tail}"
                    )
                await asyncio.sleep(0.1)
            else:
                raise SystemExit(f"{target} was not ready within 30 s")
        yield base, process
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 60)
            except TimeoutError:
                process.kill()
                await process.wait()


async def run_wrk(base: str, load: Load, args: argparse.Namespace, prefix: str) -> dict[str, Any]:
    out, generator_cpu = await run_generator(
        "wrk",
        "-t1",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        "--timeout",
        "5s",
        "-s",
        str(LOADGEN / "webhooks.lua"),
        base,
        env={**os.environ, **load.env(prefix)},
    )
    line = next(x for x in out.splitlines() if x.startswith("WRK_JSON "))
    raw = json.loads(line.removeprefix("WRK_JSON "))
    seconds = raw["duration_us"] / 1e6
    ok = int(raw["statuses"].get("200", 0))
    latency = raw["latency_us"]
    return {
        "seconds": round(seconds, 2),
        "requests": raw["requests"],
        "statuses": raw["statuses"],
        "errors": raw["errors"],
        "accepted_per_second": round(ok / seconds, 1),
        "latency_ms": {k: round(v / 1000, 1) for k, v in latency.items()},
        "load_generator_cpu_share": generator_cpu,
    }


async def run_fixed_rate(
    base: str, load: Load, args: argparse.Namespace, prefix: str
) -> dict[str, Any]:
    env = {
        **os.environ,
        **load.env(prefix),
        "RATE": str(args.rate),
        "DURATION": str(args.rate_duration),
        "CONNECTIONS": str(args.rate_connections),
        "ARRIVALS": "poisson" if args.rate_schedule == "poisson" else "even",
        "SEED": "20261207",
    }
    script = "fixed_rate.js" if args.rate_schedule == "bursts" else "smooth_rate.js"
    out, generator_cpu = await run_generator(
        "node", str(LOADGEN / script), f"{base}/webhooks/shopify", env=env
    )
    line = next(x for x in out.splitlines() if x.startswith("RATE_JSON "))
    figures = dict(json.loads(line.removeprefix("RATE_JSON ")))
    figures["load_generator_cpu_share"] = generator_cpu
    return figures


async def stored_and_queued(target: str, database_url: str, namespace: str) -> dict[str, int]:
    """Rows stored (and for ingest, marked published) and messages waiting in the queue."""
    connection = await asyncpg.connect(database_url)
    try:
        if target == "ingest":
            row = await connection.fetchrow(
                "SELECT count(*) AS stored, count(published_at) AS published"
                " FROM ingest.webhook_events"
            )
            counts = {"stored": row["stored"], "marked_published": row["published"]}
            queue = Topology(namespace=namespace).queue_name(MAPPER_EVENTS)
        else:
            counts = {
                "stored": await connection.fetchval("SELECT count(*) FROM bench_reference.inbox")
            }
            queue = reference_queue(namespace)
    finally:
        await connection.close()
    broker = await aio_pika.connect(get_settings().amqp_url)
    async with broker:
        channel = await broker.channel()
        declared = await channel.declare_queue(queue, passive=True)
        counts["queued"] = declared.declaration_result.message_count or 0
    return counts


async def clean_broker(target: str, namespace: str) -> None:
    amqp_url = get_settings().amqp_url
    if target == "ingest":
        await delete_namespace(amqp_url, Topology(namespace=namespace))
        return
    broker = await aio_pika.connect(amqp_url)
    async with broker:
        channel = await broker.channel()
        await channel.queue_delete(reference_queue(namespace))


async def one_run(target: str, mode: str, load: Load, args: argparse.Namespace) -> dict[str, Any]:
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    settings = get_settings()
    async with (
        fresh_database(settings.database_url) as database_url,
        scratch_directory() as scratch,
    ):
        try:
            extra_env = tracing_env(args) if target == "ingest" else {}
            profile = None
            if args.profile:
                args.profile.mkdir(parents=True, exist_ok=True)
                profile = args.profile / f"{target}-{mode}-{namespace}.prof"
            times = scratch / "server-times.bin"
            async with endpoint(target, database_url, namespace, extra_env, times, profile) as (
                base,
                process,
            ):
                backends = await database_backends(database_url)
                broker = local_broker()
                cpu_before = cpu_seconds(process.pid)
                db_before = cpu_by_process(backends)
                broker_before = cpu_by_process(broker)
                started = time.monotonic()
                if mode == "closed_loop":
                    figures = await run_wrk(base, load, args, namespace)
                else:
                    figures = await run_fixed_rate(base, load, args, namespace)
                cpu_after = cpu_seconds(process.pid)
                broker_after = cpu_by_process(broker)
                # The pool opens connections as the load needs them: a backend that started
                # during the run counts whole, and one that existed before counts from then.
                now_open = await database_backends(database_url)
                opened = [pid for pid in now_open if pid not in backends]
                db_after = cpu_by_process(backends + opened)
                db_before.update(dict.fromkeys(opened, 0.0))
                wall = time.monotonic() - started
            accepted = int(figures.get("statuses", {}).get("200", figures.get("answered_2xx", 0)))
            if cpu_before is not None and cpu_after is not None and accepted:
                figures["endpoint_cpu_share"] = round((cpu_after - cpu_before) / wall, 2)
                figures["endpoint_cpu_ms_per_webhook"] = round(
                    (cpu_after - cpu_before) * 1000 / accepted, 3
                )
            db_used = cpu_used(db_before, db_after)
            if db_used is not None and accepted:
                figures["database_backends_cpu_ms_per_webhook"] = round(
                    db_used * 1000 / accepted, 3
                )
            broker_used = cpu_used(broker_before, broker_after)
            if broker_used is not None and accepted:
                # The whole broker's CPU over the run (the bench's queue is the busy part).
                figures["broker_cpu_ms_per_webhook"] = round(broker_used * 1000 / accepted, 3)
            after = await asyncio.wait_for(
                stored_and_queued(target, database_url, namespace), BROKER_TIMEOUT
            )
            figures["after_stop"] = after
            # Written by the endpoint at its exit (the context above stopped it).
            figures["server_latency_ms"] = percentiles_ms(read_times(times))
            # A 200 means stored (the guarantee). Whether every stored event also reached the
            # queue before the process stopped is a figure, not a guarantee: what was not is in
            # the outbox, and the relay publishes it (ingest's publishes outlast the answer).
            figures["every_200_stored"] = after["stored"] >= accepted
            figures["all_stored_queued_before_stop"] = after["queued"] >= after["stored"]
        finally:
            await asyncio.wait_for(clean_broker(target, namespace), BROKER_TIMEOUT)
    return figures


def summary(rounds: list[dict[str, dict[str, Any]]], key: str) -> dict[str, Any]:
    def value(run: dict[str, Any]) -> float:
        if key == "accepted_per_second":
            return float(run["accepted_per_second"])
        return float(run["latency_ms"]["p99"])

    ratios = [
        round(value(r["ingest"]) / value(r["reference"]), 3)
        for r in rounds
        if value(r["reference"])
    ]
    return {
        "reference": [value(r["reference"]) for r in rounds],
        "ingest": [value(r["ingest"]) for r in rounds],
        "ratio_ingest_to_reference": ratios,
        "ratio_median": statistics.median(ratios) if ratios else None,
    }


def latency_summary(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Per endpoint, per round: the client's p50/p99 (the load generator's clock: the answers'
    own times, without a correction for coordinated omission) beside the server's
    (bench/server_timing.py), and the generator's CPU share."""

    def server(run: dict[str, Any], key: str) -> float | None:
        latency = run.get("server_latency_ms")
        return None if latency is None else float(latency[key])

    def client(run: dict[str, Any], key: str) -> float:
        return float(run.get("latency_ms_uncorrected", run["latency_ms"])[key])

    return {
        target: {
            "client_p50_ms": [client(r[target], "p50") for r in rounds],
            "server_p50_ms": [server(r[target], "p50") for r in rounds],
            "client_p99_ms": [client(r[target], "p99") for r in rounds],
            "server_p99_ms": [server(r[target], "p99") for r in rounds],
            "load_generator_cpu_share": [r[target]["load_generator_cpu_share"] for r in rounds],
        }
        for target in TARGETS
    }


async def main() -> None:
    args = parse_options()
    for tool in ("wrk", "node"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: run scripts/setup.sh")
    if not (LOADGEN / "node_modules" / "autocannon").is_dir():
        raise SystemExit("autocannon is missing: run scripts/setup.sh (npm ci in bench/loadgen)")
    body = encode_body(order_payload())
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    load_before = os.getloadavg()
    started = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        body_file = Path(tmp) / "orders-create.json"
        body_file.write_bytes(body)
        load = Load(body_file, signature, f"bench-{uuid.uuid4().hex[:6]}.myshopify.com")
        modes = ([] if args.skip_closed_loop else ["closed_loop"]) + (
            [] if args.skip_fixed_rate else ["fixed_rate"]
        )
        if not modes:
            raise SystemExit("--skip-closed-loop and --skip-fixed-rate leave nothing to run")
        results: dict[str, list[dict[str, dict[str, Any]]]] = {mode: [] for mode in modes}
        for number in range(args.rounds):
            order = TARGETS if number % 2 == 0 else TARGETS[::-1]
            for mode in modes:
                runs = {target: await one_run(target, mode, load, args) for target in order}
                results[mode].append(runs)
    figures: dict[str, Any] = {
        "date": started.isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "body_bytes": len(body),
        "ingest_tracing": tracing_env(args),
    }
    if "closed_loop" in results:
        figures["closed_loop"] = {
            "load": f"wrk -t1 -c{args.connections} -d{args.duration}s",
            "accepted_per_second": summary(results["closed_loop"], "accepted_per_second"),
            "p99_ms": summary(results["closed_loop"], "p99"),
            "latency_client_and_server": latency_summary(results["closed_loop"]),
            "runs": results["closed_loop"],
        }
    if "fixed_rate" in results:
        figures["fixed_rate"] = {
            "load": f"{args.rate_schedule}: {args.rate}/s over {args.rate_connections}"
            f" connections for {args.rate_duration}s, 5 s timeout",
            "summary": {
                target: {
                    "achieved_rate": [r[target]["achieved_rate"] for r in results["fixed_rate"]],
                    "p50_ms": [r[target]["latency_ms"]["p50"] for r in results["fixed_rate"]],
                    "p99_ms": [r[target]["latency_ms"]["p99"] for r in results["fixed_rate"]],
                    "autocannon_p99_ms": [
                        r[target].get("latency_ms_autocannon", {}).get("p99")
                        for r in results["fixed_rate"]
                    ],
                    **latency_summary(results["fixed_rate"])[target],
                    "share_answered_within_5s": [
                        r[target]["share_answered_within_5s"] for r in results["fixed_rate"]
                    ],
                }
                for target in TARGETS
            },
            "runs": results["fixed_rate"],
        }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
