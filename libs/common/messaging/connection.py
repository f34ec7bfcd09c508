"""Opening the broker connection: robust (reconnecting), and patient at start-up."""

from __future__ import annotations

import asyncio

import aio_pika
from aio_pika.abc import AbstractRobustConnection

from libs.common.logs import get_logger

log = get_logger(__name__)


async def connect(
    url: str, *, name: str, heartbeat: int = 30, attempts: int = 60, max_delay: float = 5.0
) -> AbstractRobustConnection:
    """A robust connection, retried with backoff while the broker is not up yet.

    ``heartbeat`` (seconds) is how a silent network partition is noticed: without frames for
    about three heartbeats the connection is dropped, and the robust connection re-opens it.
    """
    delay = 0.2
    for attempt in range(1, attempts + 1):
        try:
            return await aio_pika.connect_robust(
                url, client_properties={"connection_name": name}, heartbeat=heartbeat
            )
        except (OSError, aio_pika.exceptions.AMQPError) as exc:
            if attempt == attempts:
                raise
            log.warning("broker not reachable, retrying", error=str(exc), attempt=attempt)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
    raise AssertionError("unreachable")
