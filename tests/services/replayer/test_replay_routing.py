"""A bulk replay the broker cannot route goes back to open and never blocks the jobs behind it."""

from __future__ import annotations

import aio_pika
import asyncpg

from libs.common.messaging import Publisher, Topology
from services.replayer import jobs
from services.replayer.filters import JobFilter
from services.replayer.replay import ReplayDrainer
from tests.services.replayer.support import command_body, consumer_headers, new_shop, record


async def test_unroutable_replay_goes_back_to_open_and_the_next_job_is_replayed(
    amqp_url: str, replayer_pool: asyncpg.Pool, broker_cleanup: Topology
) -> None:
    shop = new_shop()
    gone = f"{broker_cleanup.namespace}.deleted.queue"
    live = f"{broker_cleanup.namespace}.live.queue"
    lost = await record(
        replayer_pool, consumer_headers(shop, queue=gone), command_body(shop, 1), "m-gone"
    )
    kept = await record(
        replayer_pool, consumer_headers(shop, queue=live), command_body(shop, 2), "m-live"
    )
    assert lost is not None and kept is not None
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(live, auto_delete=True)
        publisher = Publisher(connection, broker_cleanup.events_exchange)
        await publisher.start()
        await jobs.queue_matching(replayer_pool, JobFilter(shop=shop), actor="operator")
        drainer = ReplayDrainer(replayer_pool, publisher, rate=50.0, poll_seconds=0.05)
        for _ in range(50):  # other tests' leftover queued jobs may come first
            states = [(await jobs.get(replayer_pool, j) or {}).get("status") for j in (lost, kept)]
            if states == ["open", "retrying"]:
                break
            await drainer.drain_one()
        await publisher.close()
        message = await queue.get(timeout=5)
        assert message.message_id == "m-live"
    finally:
        await connection.close()
    back = await jobs.get(replayer_pool, lost)
    assert back is not None and back["status"] == "open"
    assert "could not be delivered" in (back["status_reason"] or "")
