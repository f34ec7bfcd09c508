"""Waiting until an in-process stack has finished everything it was given.

A test that asserts "nothing more happened" (no duplicate invoice, no second failed job) must first
know that nothing more *can* happen: a fixed sleep only guesses. :func:`settled` waits for the
condition instead: the stack is quiet by the operators' own measure (``quiet_report``: no message
ready in any of the work, wait or dead-letter queues of the services the stack runs, no set-aside
writer command, no unpublished outbox row), and no consumer of the in-process services holds a
message (what RabbitMQ would report as unacknowledged), several checks in a row (a message moving
from a wait queue back to its work queue is briefly in neither).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Collection

import aio_pika

from libs.common.service import STATE
from services.replayer.quiet import quiet_report
from tests.support.stack import Stack

OUTBOX = "stored webhooks not yet published"
# RabbitMQ's management API (scripts/setup.sh enables it): unacknowledged messages.
MANAGEMENT_URL = os.environ.get("TEST_AMQP_MANAGEMENT_URL", "http://127.0.0.1:15672")


def handling(stack: Stack) -> int:
    """Messages the stack's in-process consumers are handling now."""
    return sum(
        consumer._in_flight
        for app in stack.apps.values()
        if (runtime := app[STATE].runtime) is not None
        for consumer in runtime.consumers
    )


async def settled(
    stack: Stack,
    *,
    services: Collection[str] = (),
    timeout: float = 30.0,
    checks: int = 3,
    interval: float = 0.1,
    management_url: str | None = None,
) -> None:
    """Returns once the stack has been quiet for ``checks`` checks in a row; fails after
    ``timeout`` seconds saying what was still moving. The queues of the services the stack runs
    count, and those of ``services`` (consumed by the test itself, or by services running as
    processes of their own: pass ``management_url`` too, so the messages they are handling count,
    as RabbitMQ's management API reports them; its figures lag by up to its statistics interval,
    5 s by default, so the checks should span longer than that)."""
    counted = {*stack.apps, *services}
    settings = stack.settings.model_copy(update={"amqp_management_url": management_url or ""})
    deadline = time.monotonic() + timeout
    in_a_row = 0
    busy: list[str] = []
    connection = await aio_pika.connect(stack.settings.amqp_url)
    async with connection:
        while in_a_row < checks:
            report = await quiet_report(stack.pool, connection, stack.http, settings)
            held = handling(stack)
            # A stack without some services leaves their queues to fill: not its work.
            running = [
                reason
                for reason in report["busy"]
                if reason.split(":")[0] in counted and OUTBOX not in reason
            ]
            # The outbox is counted for the stack's own shop: tests share a database, and a
            # stack another test stopped may have left rows its relay never published.
            unpublished = await stack.pool.fetchval(
                "SELECT count(*) FROM ingest.webhook_events WHERE shop = $1"
                " AND published_at IS NULL AND set_aside_at IS NULL",
                stack.shop,
            )
            if unpublished and "ingest" in counted:
                running.append(f"ingest: {unpublished} {OUTBOX}")
            busy = [*running, *([f"{held} messages being handled"] if held else [])]
            in_a_row = 0 if busy else in_a_row + 1
            if time.monotonic() > deadline:
                raise AssertionError(f"the stack did not settle in {timeout} s: {busy}")
            await asyncio.sleep(interval)
