"""What the broker holds: per queue, ready and unacknowledged messages and consumers.

AMQP alone answers only part of it: a passive ``queue.declare`` gives a queue's *ready* messages
and its consumers, at the moment of asking, but never the messages delivered to a consumer and
not yet acknowledged (for quorum queues as for classic ones). Those come from RabbitMQ's
management HTTP API (``AMQP_MANAGEMENT_URL``, the plugin production brokers run), whose figures
are refreshed every statistics interval (5 s by default). So: ready messages and consumers always
come from AMQP, unacknowledged ones from the management API when it is configured and answers;
otherwise they are ``None`` and :attr:`BrokerReport.unmeasured` says why.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

import aiohttp
import aiormq
from aio_pika.abc import AbstractChannel, AbstractConnection

from libs.common.logs import get_logger

log = get_logger(__name__)
MANAGEMENT_PAGE_SIZE = 500


@dataclass(frozen=True)
class QueueStats:
    name: str
    exists: bool
    ready: int | None = None
    unacked: int | None = None
    consumers: int | None = None

    @property
    def holds_messages(self) -> bool:
        return bool(self.ready) or bool(self.unacked)


@dataclass
class BrokerReport:
    queues: dict[str, QueueStats]
    unmeasured: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ManagementApi:
    """RabbitMQ's management HTTP API: its base URL, credentials and the stack's vhost."""

    base_url: str
    login: str
    password: str
    vhost: str

    @classmethod
    def configured(cls, management_url: str, amqp_url: str) -> ManagementApi | None:
        """From ``AMQP_MANAGEMENT_URL`` (empty: none); credentials from it, else from
        ``AMQP_URL``, whose vhost it is."""
        if not management_url:
            return None
        amqp = urlsplit(amqp_url)
        management = urlsplit(management_url)
        vhost = unquote(amqp.path[1:]) if len(amqp.path) > 1 else "/"
        host = management.hostname or "127.0.0.1"
        netloc = f"{host}:{management.port}" if management.port else host
        base = f"{management.scheme or 'http'}://{netloc}{management.path.rstrip('/')}"
        return cls(
            base_url=base,
            login=unquote(management.username or amqp.username or "guest"),
            password=unquote(management.password or amqp.password or "guest"),
            vhost=vhost,
        )

    async def queues(self, http: aiohttp.ClientSession, prefix: str) -> dict[str, QueueStats]:
        """Every queue whose name starts with ``prefix``, page by page."""
        found: dict[str, QueueStats] = {}
        page = 1
        while True:
            params = {
                "page": str(page),
                "page_size": str(MANAGEMENT_PAGE_SIZE),
                "name": "^" + _regex_escape(prefix),
                "use_regex": "true",
                "columns": "name,messages_ready,messages_unacknowledged,consumers",
            }
            async with http.get(
                f"{self.base_url}/api/queues/{quote(self.vhost, safe='')}",
                params=params,
                auth=aiohttp.BasicAuth(self.login, self.password),
                timeout=aiohttp.ClientTimeout(total=10),
            ) as response:
                response.raise_for_status()
                body = await response.json()
            for item in body.get("items", []):
                found[item["name"]] = QueueStats(
                    name=item["name"],
                    exists=True,
                    ready=_count(item.get("messages_ready")),
                    unacked=_count(item.get("messages_unacknowledged")),
                    consumers=_count(item.get("consumers")),
                )
            if page >= int(body.get("page_count", 1)):
                return found
            page += 1


async def passive_stats(
    connection: AbstractConnection, names: Iterable[str]
) -> dict[str, QueueStats]:
    """Ready messages and consumers of each queue (a passive declare; a missing queue closes
    the channel, so each missing one gets a fresh channel)."""
    found: dict[str, QueueStats] = {}
    channel: AbstractChannel | None = None
    try:
        for name in names:
            if channel is None or channel.is_closed:
                channel = await connection.channel()
            underlay = await channel.get_underlay_channel()
            try:
                declared = await underlay.queue_declare(name, passive=True)
            except aiormq.exceptions.ChannelNotFoundEntity:
                found[name] = QueueStats(name=name, exists=False)
                channel = None
                continue
            found[name] = QueueStats(
                name=name,
                exists=True,
                ready=declared.message_count or 0,
                consumers=declared.consumer_count or 0,
            )
    finally:
        if channel is not None and not channel.is_closed:
            with contextlib.suppress(Exception):
                await channel.close()
    return found


async def inspect_queues(
    connection: AbstractConnection,
    http: aiohttp.ClientSession,
    names: Sequence[str],
    *,
    management: ManagementApi | None,
    prefix: str,
) -> BrokerReport:
    """Each named queue: ready and consumers now (AMQP), unacknowledged from the management API
    when there is one (``None`` and a reason in ``unmeasured`` when not)."""
    amqp = await passive_stats(connection, names)
    report = BrokerReport(queues=amqp)
    if management is None:
        report.unmeasured.append(
            "unacknowledged messages: AMQP_MANAGEMENT_URL is not set (AMQP reports only ready "
            "messages)"
        )
        return report
    try:
        listed = await management.queues(http, prefix)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.warning("management API unavailable", error=str(exc))
        report.unmeasured.append(
            f"unacknowledged messages: the management API at {management.base_url} did not "
            f"answer ({type(exc).__name__}: {exc})"
        )
        return report
    for name, stats in amqp.items():
        if stats.exists and name in listed:
            report.queues[name] = QueueStats(
                name=name,
                exists=True,
                ready=stats.ready,
                unacked=listed[name].unacked,
                consumers=stats.consumers,
            )
    return report


def _count(value: object) -> int:
    return int(value) if isinstance(value, int | float) else 0


def _regex_escape(text: str) -> str:
    return "".join(f"\\{char}" if char in r".^$*+?()[]{}|\/" else char for char in text)
