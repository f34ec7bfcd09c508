"""A batch of publishes written on an aiormq channel at once: the publisher's one send path.

aiormq's ``Channel.basic_publish`` does per message what a batch needs once: it takes the
channel's lock, starts a timeout, queues the message's frames for the connection's writer and
awaits the confirm in its own task, about 60 us of CPU per message on top of building it
(bench/README.md). :func:`write_publishes` does aiormq's own bookkeeping once per batch: under
the channel's lock each message takes the next delivery tag and a confirmation future made by
the channel (so aiormq resolves it with the broker's ack, fails it with a nack or a return, and
rejects it when the channel or connection closes, exactly as for ``basic_publish``), and the
frames of all messages go to the connection's write queue as one chunk. Taking the lock and
putting into the write queue (bounded: a stalled socket fills it) can wait without end: the
caller bounds them, as ``basic_publish``'s timeout does (Publisher, one deadline for the write
and the confirms).

The frames are encoded here rather than by pamqp's generic marshalling (about 40 us of CPU for
a message's content header and 10 us for its Basic.Publish method on a loaded machine, more than
everything else the publish does): the method frame is the same for every message of an
exchange and routing key and is encoded once (:func:`_publish_method`), and so are the content
type and type properties; the headers table is encoded by pamqp's own ``field_table``. A
property the publisher never sets (content_encoding, priority, ...) hands the whole header to
pamqp. tests/libs/common/messaging/test_frames.py checks the bytes equal pamqp's.

This reaches into aiormq's channel (``lock``, ``delivery_tag``, ``confirmations``,
``message_id_delivery_tag``, ``write_queue``): uv.lock pins aiormq, and
tests/libs/common/messaging/test_publisher.py drives it against the broker (confirms, an
unroutable return, no confirm in time, a connection cut before the confirm).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Sequence
from functools import lru_cache, partial

import aiormq
import pamqp.frame
from aiormq.abc import ChannelFrame
from pamqp import encode
from pamqp.header import ContentHeader

# (body, routing key, properties) of one message.
Prepared = tuple[bytes, str, aiormq.spec.Basic.Properties]


async def write_publishes(
    channel: aiormq.Channel, exchange: str, messages: Sequence[Prepared]
) -> list[asyncio.Future[object]]:
    """Queue persistent, mandatory publishes of ``messages`` in order; returns each one's
    confirmation future (a result: acked; an exception: returned, nacked or the channel lost).
    Raises, with nothing queued, when the frames cannot be written."""
    if not channel.publisher_confirms:
        raise RuntimeError("write_publishes needs a channel in confirm mode")
    async with channel.lock:
        first = channel.delivery_tag
        confirmations: list[asyncio.Future[object]] = []
        frames: list[bytes] = []
        try:
            for body, routing_key, properties in messages:
                if len(routing_key.encode()) > 255:
                    raise ValueError(f"routing key longer than 255 bytes: {routing_key[:64]!r}")
                channel.delivery_tag += 1
                tag = channel.delivery_tag
                confirmation = channel.create_future()
                channel.confirmations[tag] = confirmation
                message_id = str(properties.message_id)
                channel.message_id_delivery_tag[message_id] = tag
                confirmation.add_done_callback(partial(_forget, channel, message_id, tag))
                confirmations.append(confirmation)
                frames.append(_publish_method(channel.number, exchange, routing_key))
                frames.append(content_header(channel.number, properties, len(body)))
                size = channel.max_content_size
                for start in range(0, len(body), size):
                    frames.append(_frame(_BODY, channel.number, body[start : start + size]))
            chunk = ChannelFrame(payload=b"".join(frames), should_close=False)
            await channel.write_queue.put(chunk)
        except BaseException:
            # Nothing reached the writer: the tags are handed back, as basic_publish does.
            channel.delivery_tag = first
            for tag in range(first + 1, first + 1 + len(confirmations)):
                channel.confirmations.pop(tag, None)
            for confirmation in confirmations:
                confirmation.cancel()
            raise
    return confirmations


def _forget(channel: aiormq.Channel, message_id: str, tag: int, _: object) -> None:
    """A settled publish no longer needs its message id (only a return looks it up)."""
    if channel.message_id_delivery_tag.get(message_id) == tag:
        channel.message_id_delivery_tag.pop(message_id)


_FRAME = struct.Struct(">BHI")
_METHOD, _HEADER, _BODY = 1, 2, 3
_FRAME_END = b"\xce"
_HEADER_HEAD = struct.Struct(">HHQH")  # class id, weight, body size, property flags
_BASIC = 60
_PUBLISH = struct.pack(">IH", aiormq.spec.Basic.Publish.index, 0)  # method, deprecated ticket
# Property flags (AMQP 0-9-1 Basic properties, in their wire order).
_CONTENT_TYPE, _HEADERS, _DELIVERY_MODE = 1 << 15, 1 << 13, 1 << 12
_MESSAGE_ID, _TIMESTAMP, _TYPE = 1 << 7, 1 << 6, 1 << 5
_ENCODED_HERE = frozenset(
    {"content_type", "headers", "delivery_mode", "message_id", "timestamp", "message_type"}
)
_TIMESTAMP_VALUE = struct.Struct(">Q")


def _frame(kind: int, channel: int, payload: bytes) -> bytes:
    return _FRAME.pack(kind, channel, len(payload)) + payload + _FRAME_END


@lru_cache(maxsize=1024)
def _publish_method(channel: int, exchange: str, routing_key: str) -> bytes:
    """The Basic.Publish frame of a persistent mandatory publish, the same for every message
    of an exchange and routing key."""
    return _frame(
        _METHOD,
        channel,
        _PUBLISH + encode.short_string(exchange) + encode.short_string(routing_key) + b"\x01",
    )


@lru_cache(maxsize=256)
def _short_string(value: str) -> bytes:
    return encode.short_string(value)


def content_header(channel: int, properties: aiormq.spec.Basic.Properties, body_size: int) -> bytes:
    """The content header frame of a message, the bytes pamqp would write."""
    if any(
        getattr(properties, name) not in (None, "")
        for name in properties.__slots__
        if name not in _ENCODED_HERE
    ):
        return pamqp.frame.marshal(
            ContentHeader(properties=properties, body_size=body_size), channel
        )
    flags = 0
    parts: list[bytes] = []
    if properties.content_type not in (None, ""):
        flags |= _CONTENT_TYPE
        parts.append(_short_string(properties.content_type))
    if properties.headers is not None:
        flags |= _HEADERS
        parts.append(encode.field_table(properties.headers))
    if properties.delivery_mode is not None:
        flags |= _DELIVERY_MODE
        parts.append(encode.octet(properties.delivery_mode))
    if properties.message_id not in (None, ""):
        flags |= _MESSAGE_ID
        parts.append(encode.short_string(properties.message_id))
    if properties.timestamp is not None:
        flags |= _TIMESTAMP
        parts.append(encode.timestamp(properties.timestamp))
    if properties.message_type not in (None, ""):
        flags |= _TYPE
        parts.append(_short_string(properties.message_type))
    head = _HEADER_HEAD.pack(_BASIC, 0, body_size, flags)
    return _frame(_HEADER, channel, head + b"".join(parts))
