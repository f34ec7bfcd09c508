"""Deleting a namespace's exchanges and queues (``fortbridge namespace delete``, tests, demos).

The names come from the topology (work queues, their wait queues for the given retry delays,
the dead-letter queue, the two exchanges). With RabbitMQ's management API, wait queues made
with other retry delays are found too (only names of this namespace's own work queues: a
namespace ``shop`` never touches ``shop.staging``'s queues). A namespace whose queues still hold
messages or have consumers (a stack still running) is refused unless forced: deleting it would
drop those messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import aio_pika
import aiohttp

from libs.common.messaging.inspect import ManagementApi, QueueStats, passive_stats
from libs.common.messaging.topology import Topology


@dataclass
class NamespaceDeletion:
    namespace: str
    queues: list[str] = field(default_factory=list)
    exchanges: list[str] = field(default_factory=list)


class NamespaceInUse(Exception):
    """Queues of the namespace hold messages or have consumers."""

    def __init__(self, namespace: str, busy: Sequence[QueueStats]) -> None:
        self.namespace = namespace
        self.busy = list(busy)
        listed = ", ".join(
            f"{q.name} ({q.ready} ready, {q.consumers} consumers)" for q in self.busy[:10]
        )
        super().__init__(
            f"namespace {namespace} is in use: {listed}; stop its services first, or force "
            "(its messages are lost)"
        )


def queue_names(topology: Topology, extra_delays: Sequence[float] = ()) -> list[str]:
    names = [topology.dead_letter_queue]
    delays = list(dict.fromkeys([*topology.retry_delays, *extra_delays]))
    for queue in topology.work_queues:
        names.append(topology.queue_name(queue))
        names.extend(topology.wait_queue_name(queue, delay) for delay in delays)
    return names


def _belongs(topology: Topology, name: str) -> bool:
    if name == topology.dead_letter_queue:
        return True
    return any(
        name == topology.queue_name(queue) or name.startswith(topology.queue_name(queue) + ".wait.")
        for queue in topology.work_queues
    )


async def delete_namespace(
    amqp_url: str,
    topology: Topology,
    *,
    extra_delays: Sequence[float] = (),
    management: ManagementApi | None = None,
    force: bool = True,
    every_queue: bool = False,
) -> NamespaceDeletion:
    """Delete the namespace's queues and exchanges; what existed and was deleted is returned.

    ``force=False`` first checks every queue and raises :class:`NamespaceInUse`, deleting
    nothing, when one holds ready messages or has consumers. ``every_queue`` (with the
    management API): every queue named ``{namespace}.*`` goes, not only the topology's and
    their wait queues: for a namespace no other one nests in (a test's random one).
    """
    names = queue_names(topology, extra_delays)
    if management is not None:
        async with aiohttp.ClientSession() as http:
            listed = await management.queues(http, f"{topology.namespace}.")
        names += [
            name
            for name in sorted(listed)
            if (every_queue or _belongs(topology, name)) and name not in names
        ]
    done = NamespaceDeletion(namespace=topology.namespace)
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        found = await passive_stats(connection, names)
        existing = [stats for stats in found.values() if stats.exists]
        busy = [stats for stats in existing if stats.ready or stats.consumers]
        if busy and not force:
            raise NamespaceInUse(topology.namespace, busy)
        channel = await connection.channel()
        for stats in existing:
            await channel.queue_delete(stats.name)
            done.queues.append(stats.name)
        for exchange in (topology.events_exchange, topology.dead_letter_exchange):
            if await _exchange_exists(connection, exchange):
                await channel.exchange_delete(exchange)
                done.exchanges.append(exchange)
    return done


async def _exchange_exists(connection: aio_pika.abc.AbstractConnection, name: str) -> bool:
    channel = await connection.channel()
    try:
        await channel.declare_exchange(name, passive=True)
        return True
    except aio_pika.exceptions.ChannelClosed:
        return False
    finally:
        if not channel.is_closed:
            await channel.close()
