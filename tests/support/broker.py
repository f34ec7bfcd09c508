"""Broker-side actions for tests: close connections the way a broker restart or a net split does."""

from __future__ import annotations

import asyncio
import subprocess


def _run(*args: str) -> str:
    done = subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout


async def close_connections(name_prefix: str) -> int:
    """Close from the broker side every connection whose name starts with ``name_prefix``."""
    listing = await asyncio.to_thread(
        _run, "list_connections", "--no-table-headers", "pid", "client_properties"
    )
    pids = [
        line.split("\t", 1)[0]
        for line in listing.splitlines()
        if f'"{name_prefix}' in line or f'<<"{name_prefix}' in line
    ]
    for pid in pids:
        await asyncio.to_thread(_run, "close_connection", pid, "test: broker-side close")
    return len(pids)
