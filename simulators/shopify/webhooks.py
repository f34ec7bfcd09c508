"""Shopify-style webhook deliveries: signing, building, sending (with duplicates and retries).

Used by the simulator and directly by the app's tests and demo:

    hook = build_webhook("orders/create", "demo.myshopify.com", order_payload(), secret)
    statuses = await deliver(session, url, hook, copies=3)   # at-least-once duplicates
    again = redelivery(hook)        # the same event under a new webhook id (another subscription)

The body is compact UTF-8 JSON (ids stay ints, money stays strings, non-ASCII unescaped) and
X-Shopify-Hmac-Sha256 is base64(HMAC-SHA256(secret, raw body)).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import aiohttp

DEFAULT_API_VERSION = "2025-07"
DELIVERY_TIMEOUT = 5.0  # Shopify counts a delivery as failed after 5 s
MAX_RETRIES = 8  # since 2024-09: 8 retries over about 4 hours


def shopify_backoff(retry: int) -> float:
    """Seconds before retry number `retry` (1-based): 60 s doubling, ~4.25 h in total."""
    return 60.0 * float(2 ** max(retry - 1, 0))


def sign(body: bytes, secret: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True)
class Webhook:
    topic: str
    shop_domain: str
    body: bytes
    headers: Mapping[str, str]
    webhook_id: str
    event_id: str
    triggered_at: datetime
    api_version: str = DEFAULT_API_VERSION

    @property
    def payload(self) -> Any:
        return json.loads(self.body)

    def with_body(self, body: bytes, *, secret: str | None = None) -> Webhook:
        """The same delivery with another body; re-signed only if `secret` is given (so a
        tampered body keeps the old, now wrong, HMAC)."""
        headers = dict(self.headers)
        if secret is not None:
            headers["X-Shopify-Hmac-Sha256"] = sign(body, secret)
        return replace(self, body=body, headers=headers)


def encode_body(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def build_webhook(
    topic: str,
    shop_domain: str,
    payload: Any,
    secret: str,
    *,
    api_version: str = DEFAULT_API_VERSION,
    webhook_id: str | None = None,
    event_id: str | None = None,
    triggered_at: datetime | None = None,
) -> Webhook:
    body = encode_body(payload)
    webhook_id = webhook_id or str(uuid.uuid4())
    event_id = event_id or str(uuid.uuid4())
    triggered_at = triggered_at or datetime.now(UTC)
    if triggered_at.tzinfo is None:
        triggered_at = triggered_at.replace(tzinfo=UTC)
    stamp = triggered_at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Shopify-Captain-Hook",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(body, secret),
        "X-Shopify-Shop-Domain": shop_domain,
        "X-Shopify-API-Version": api_version,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Event-Id": event_id,
        "X-Shopify-Triggered-At": stamp,
    }
    return Webhook(
        topic, shop_domain, body, headers, webhook_id, event_id, triggered_at, api_version
    )


def redelivery(webhook: Webhook, *, webhook_id: str | None = None) -> Webhook:
    """The same event delivered again under a new webhook id.

    Shopify sends one webhook per subscription for an event, and duplicates that share only the
    X-Shopify-Event-Id ("the same value across more than one webhook indicates a duplicate",
    shopify.dev, Ignore duplicate webhooks). The body, its HMAC, the topic, the event id and
    X-Shopify-Triggered-At stay; X-Shopify-Webhook-Id is new.
    """
    new_id = webhook_id or str(uuid.uuid4())
    if new_id == webhook.webhook_id:
        raise ValueError("a redelivery has a webhook id of its own")
    headers = dict(webhook.headers)
    headers["X-Shopify-Webhook-Id"] = new_id
    return replace(webhook, headers=headers, webhook_id=new_id)


async def _post(
    session: aiohttp.ClientSession, url: str, webhook: Webhook, timeout: float
) -> tuple[int | None, str | None]:
    try:
        async with session.post(
            url,
            data=webhook.body,
            headers=dict(webhook.headers),
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=False,  # a redirect is not a successful delivery
        ) as response:
            await response.read()
            return response.status, None
    except TimeoutError:
        return None, f"timeout after {timeout} s"
    except aiohttp.ClientError as exc:
        return None, f"{type(exc).__name__}: {exc}"


async def deliver(
    session: aiohttp.ClientSession,
    url: str,
    webhook: Webhook,
    *,
    copies: int = 1,
    concurrently: bool = True,
    timeout: float = DELIVERY_TIMEOUT,
) -> list[int]:
    """POST the very same delivery `copies` times (same body, webhook id and event id), as
    Shopify's at-least-once delivery may. Returns the statuses; 0 means no HTTP answer
    (timeout or connection error)."""
    if copies < 1:
        raise ValueError("copies must be >= 1")
    if concurrently:
        results = await asyncio.gather(
            *(_post(session, url, webhook, timeout) for _ in range(copies))
        )
    else:
        results = [await _post(session, url, webhook, timeout) for _ in range(copies)]
    return [status or 0 for status, _ in results]


@dataclass
class DeliveryAttempt:
    webhook_id: str
    url: str
    attempt: int  # 1 = first try
    status: int | None
    error: str | None
    started_at: float
    duration: float

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class DeliveryResult:
    webhook: Webhook
    attempts: list[DeliveryAttempt] = field(default_factory=list)

    @property
    def delivered(self) -> bool:
        return bool(self.attempts) and self.attempts[-1].ok

    @property
    def status(self) -> int | None:
        return self.attempts[-1].status if self.attempts else None


class WebhookSender:
    """Delivers like Shopify: a non-2xx answer, a connection error or no answer within
    `timeout` counts as failed and is retried up to `max_retries` times, waiting
    `backoff(n)` seconds before retry n. Every retry carries the original body and headers.
    For tests pass e.g. `backoff=lambda n: 0.01` and a small `timeout`."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout: float = DELIVERY_TIMEOUT,
        max_retries: int = MAX_RETRIES,
        backoff: Callable[[int], float] = shopify_backoff,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.session = session
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self._sleep = sleep
        self.attempts: list[DeliveryAttempt] = []

    async def redeliver(self, url: str, webhook: Webhook) -> DeliveryResult:
        """Deliver ``webhook``'s event once more under a new webhook id (:func:`redelivery`),
        with the same retries as :meth:`send`."""
        return await self.send(url, redelivery(webhook))

    async def send(self, url: str, webhook: Webhook) -> DeliveryResult:
        result = DeliveryResult(webhook)
        for attempt in range(1, self.max_retries + 2):
            if attempt > 1:
                await self._sleep(self.backoff(attempt - 1))
            started = time.monotonic()
            status, error = await _post(self.session, url, webhook, self.timeout)
            record = DeliveryAttempt(
                webhook.webhook_id,
                url,
                attempt,
                status,
                error,
                time.time(),
                time.monotonic() - started,
            )
            result.attempts.append(record)
            self.attempts.append(record)
            if record.ok:
                break
        return result
