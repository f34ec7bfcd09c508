"""The answer to "is anything still in flight?" for the whole deployment: ``GET
/admin/api/quiet.json`` (the replayer, operator only) and ``fortbridge quiet``, one function.

Each service's tables are counted by the service's own module (``services/<name>/in_flight.py``:
read-only, next to its migrations, so a schema change updates its count in the same place). The
replayer only calls them over the database every service shares, rather than over HTTP or the
broker: the services talk to each other only through RabbitMQ (their NetworkPolicies admit no
service-to-service HTTP), and a request/reply over the broker would add queues and a protocol for
what a few read-only counts answer. The queues come from the broker (libs.common.messaging.inspect).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import asyncpg
from aio_pika.abc import AbstractConnection

from libs.common.messaging import Topology
from libs.common.messaging.inspect import ManagementApi, inspect_queues
from libs.common.quiet import Part, compose
from libs.common.settings import Settings
from services.fortnox_writer.in_flight import in_flight as writer_in_flight
from services.ingest.in_flight import in_flight as ingest_in_flight
from services.replayer.in_flight import in_flight as replayer_in_flight

SERVICE_ORDER = ("ingest", "mapper", "fortnox_writer", "timeline", "replayer")


def queues_by_service(topology: Topology) -> dict[str, list[str]]:
    """Each service's mailbox: its work queue and that queue's retry wait queues; the
    replayer's is the dead-letter queue."""
    queues: dict[str, list[str]] = {name: [] for name in SERVICE_ORDER}
    for work_queue in topology.work_queues:
        queues[work_queue.service].append(topology.queue_name(work_queue))
        queues[work_queue.service].extend(
            topology.wait_queue_name(work_queue, delay) for delay in topology.retry_delays
        )
    queues["replayer"].append(topology.dead_letter_queue)
    return queues


async def quiet_report(
    pool: asyncpg.Pool,
    connection: AbstractConnection,
    http: aiohttp.ClientSession,
    settings: Settings,
) -> dict[str, Any]:
    topology = Topology(namespace=settings.amqp_namespace, retry_delays=settings.amqp_retry_delays)
    queues = queues_by_service(topology)
    parts: dict[str, Part] = {
        "ingest": await ingest_in_flight(pool),
        "fortnox_writer": await writer_in_flight(pool),
        "replayer": await replayer_in_flight(pool),
    }
    broker = await inspect_queues(
        connection,
        http,
        [name for names in queues.values() for name in names],
        management=ManagementApi.configured(settings.amqp_management_url, settings.amqp_url),
        prefix=f"{topology.namespace}.",
    )
    return {"namespace": topology.namespace, **compose(parts, queues, broker)}
