"""What the ingest benchmark reads off the processes it runs (Linux /proc): CPU seconds of the
endpoint, its PostgreSQL backends, the local RabbitMQ and the load generator, and a free
loopback port."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path

import asyncpg


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def database_backends(database_url: str) -> list[int]:
    """The PostgreSQL backend processes serving the endpoint (its pool's connections)."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    return [row["pid"] for row in rows]


def local_broker() -> list[int]:
    """The RabbitMQ server on this machine: the Erlang VM (``beam.smp``) started with
    ``-s rabbit boot``. A short-lived ``rabbitmqctl`` runs its own ``beam.smp`` and is not the
    server; none found when the broker runs elsewhere, and then no broker figure is printed."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() != "beam.smp":
                    continue
                arguments = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if is_rabbit_server(arguments):
                found.append(int(entry.name))
    return found


def is_rabbit_server(arguments: list[bytes]) -> bool:
    """Whether an Erlang VM's command line boots the rabbit application (``-s rabbit boot``)."""
    return any(
        arguments[i : i + 3] == [b"-s", b"rabbit", b"boot"] for i in range(len(arguments) - 2)
    )


def cpu_by_process(pids: list[int]) -> dict[int, float]:
    """CPU seconds so far of each process still running."""
    seconds = {pid: cpu_seconds(pid) for pid in pids}
    return {pid: value for pid, value in seconds.items() if value is not None}


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float | None:
    """CPU seconds the processes used between two readings, counting only those read both
    times: a process that ended in between (its time gone from /proc) or started in between
    (its time before the first reading unknown) would make the sum wrong, even negative."""
    both = before.keys() & after.keys()
    if not both:
        return None
    return sum(after[pid] - before[pid] for pid in both)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_generator(*command: str, env: dict[str, str]) -> tuple[str, float | None]:
    """Run a load generator; its output and its CPU share (CPU seconds over its wall seconds,
    1.0 = one core busy all along), read from /proc every 0.1 s while it runs (the last tenth
    of a second is not counted). A generator near 1.0 is the bottleneck (wrk -t1 and node run
    their load on one thread): it then sends late and its latencies include its own queue."""
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE
    )
    output = asyncio.ensure_future(process.communicate())
    used = None
    while not output.done():
        reading = cpu_seconds(process.pid)  # 0.0 is a reading (under one clock tick so far)
        used = reading if reading is not None else used
        await asyncio.wait([output], timeout=0.1)
    out, _ = output.result()
    wall = time.monotonic() - started
    return out.decode(), (round(used / wall, 2) if used is not None and wall else None)
