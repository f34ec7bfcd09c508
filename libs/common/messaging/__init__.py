"""Messaging over RabbitMQ: topology, the publisher, and the consumer runner."""

from libs.common.messaging.connection import connect
from libs.common.messaging.consumer import Consumer, Delivery, Handler
from libs.common.messaging.publisher import Publisher, PublishFailed
from libs.common.messaging.topology import (
    INGEST_RESULTS,
    MAPPER_EVENTS,
    TIMELINE_RESULTS,
    WRITER_COMMANDS,
    Topology,
    WorkQueue,
)

__all__ = [
    "INGEST_RESULTS",
    "MAPPER_EVENTS",
    "TIMELINE_RESULTS",
    "WRITER_COMMANDS",
    "Consumer",
    "Delivery",
    "Handler",
    "PublishFailed",
    "Publisher",
    "Topology",
    "WorkQueue",
    "connect",
]
