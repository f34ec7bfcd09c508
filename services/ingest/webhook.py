"""A Shopify webhook delivery: header parsing and HMAC verification (pure, no I/O)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
TOPIC = re.compile(r"^[a-z_]+/[a-z_]+$")


class WebhookRejected(Exception):
    """A delivery we refuse; ``status`` is the HTTP answer, ``code`` a bounded metric label."""

    def __init__(self, status: int, reason: str, code: str = "invalid") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.code = code


@dataclass(frozen=True)
class WebhookDelivery:
    shop: str
    topic: str
    webhook_id: str
    event_id: str | None
    api_version: str | None
    triggered_at: datetime | None
    payload: dict[str, Any]


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A Shopify header by name, with or without the ``X-`` prefix (Events deliveries)."""
    value = headers.get(f"X-Shopify-{name}") or headers.get(f"Shopify-{name}")
    return value.strip() if value else None


def verify_hmac(body: bytes, signature: str | None, secret: str) -> bool:
    """Base64 HMAC-SHA256 of the raw body, compared in constant time."""
    if not signature:
        return False
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.encode())


def parse_delivery(headers: Mapping[str, str], body: bytes, secret: str) -> WebhookDelivery:
    """Verify and parse a delivery; raises :class:`WebhookRejected` with a reason."""
    if not verify_hmac(body, header(headers, "Hmac-Sha256"), secret):
        raise WebhookRejected(
            401, "HMAC signature is missing or does not match the body", "bad_hmac"
        )
    missing = [
        f"X-Shopify-{name}"
        for name in ("Topic", "Shop-Domain", "Webhook-Id")
        if not header(headers, name)
    ]
    if missing:
        raise WebhookRejected(
            400, f"missing required header(s): {', '.join(missing)}", "missing_header"
        )
    shop = (header(headers, "Shop-Domain") or "").lower()
    topic = header(headers, "Topic") or ""
    if not SHOP_DOMAIN.match(shop):
        raise WebhookRejected(
            400, f"X-Shopify-Shop-Domain is not a myshopify.com domain: {shop!r}", "bad_shop"
        )
    if not TOPIC.match(topic):
        raise WebhookRejected(
            400, f"X-Shopify-Topic is not a topic like orders/create: {topic!r}", "bad_topic"
        )
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WebhookRejected(400, f"body is not valid JSON: {exc}", "bad_json") from exc
    if b"\x00" in body or b"\\u0000" in body:
        raise WebhookRejected(400, "body contains NUL characters, which cannot be stored", "nul")
    if not isinstance(payload, dict):
        raise WebhookRejected(400, "body must be a JSON object", "not_an_object")
    return WebhookDelivery(
        shop=shop,
        topic=topic,
        webhook_id=header(headers, "Webhook-Id") or "",
        event_id=header(headers, "Event-Id"),
        api_version=header(headers, "API-Version"),
        triggered_at=_parse_time(header(headers, "Triggered-At")),
        payload=payload,
    )


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def routing_key(topic: str) -> str:
    """``orders/create`` -> ``shopify.orders.create``."""
    return "shopify." + topic.replace("/", ".")
