"""A Shopify webhook delivery: header parsing and HMAC verification (pure, no I/O)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from libs.common.json_depth import depth_error, nests_deeper_than

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
    """A verified delivery. It keeps the body as bytes and the order id read from it, not the
    parsed body: an 8 KB order parses into about a thousand Python objects, and holding them
    while the delivery waits for its group commit made them survive into the garbage
    collector's older generations (full collections ran often and took long). ``payload``
    parses the body again for the few that need it (the lifecycle and privacy topics)."""

    shop: str
    topic: str
    webhook_id: str
    event_id: str | None
    api_version: str | None
    triggered_at: datetime | None
    order_id: str | None
    body: bytes

    @property
    def payload(self) -> dict[str, Any]:
        """The body as a JSON object (checked by :func:`parse_body` when it arrived)."""
        payload: dict[str, Any] = orjson.loads(self.body)
        return payload


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A Shopify header by name, with or without the ``X-`` prefix (Events deliveries)."""
    value = headers.get(f"X-Shopify-{name}") or headers.get(f"Shopify-{name}")
    return value.strip() if value else None


def verify_hmac(body: bytes, signature: str | None, secret: str | bytes) -> bool:
    """Base64 HMAC-SHA256 of the raw body, compared in constant time.

    A signature that is not ASCII (base64 never is anything else) simply does not match.
    """
    if not signature:
        return False
    try:
        given = signature.encode("ascii")
    except UnicodeEncodeError:
        return False
    key = secret if isinstance(secret, bytes) else secret.encode()
    expected = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, given)


def parse_delivery(headers: Mapping[str, str], body: bytes, secret: str | bytes) -> WebhookDelivery:
    """Verify and parse a delivery; raises :class:`WebhookRejected` with a reason.

    The HMAC first (401, before anything else is looked at), then the headers, then the body
    (:func:`parse_body`).
    """
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
    return WebhookDelivery(
        shop=shop,
        topic=topic,
        webhook_id=header(headers, "Webhook-Id") or "",
        event_id=header(headers, "Event-Id"),
        api_version=header(headers, "API-Version"),
        triggered_at=_parse_time(header(headers, "Triggered-At")),
        order_id=order_id_of(topic, parse_body(body)),
        body=body,
    )


def order_id_of(topic: str, payload: dict[str, Any]) -> str | None:
    """The order an event is about: orders/* carry it as ``id``, refunds as ``order_id``."""
    value = payload.get("order_id") if topic.startswith("refunds/") else None
    if topic.startswith("orders/"):
        value = payload.get("id")
    return None if value is None or isinstance(value, bool) else str(value)


def parse_body(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, if every later step can carry it (else 400 with the reason).

    UTF-8 (it is stored as text), no NUL characters (no text column stores them), nested at most
    ``MAX_JSON_DEPTH`` levels, strict JSON (RFC 8259: no NaN or Infinity, no number beyond a
    double, no unpaired surrogate escapes: the message carries the body as received and consumers
    parse it strictly), an object. orjson checks the UTF-8 and the strict grammar in one pass in
    Rust, several times faster than the standard library on Shopify's 8 KB orders; the parsed
    value serves only ingest's own reads (ids), never what is stored or published.
    """
    if b"\x00" in body or b"\\u0000" in body:
        raise WebhookRejected(400, "body contains NUL characters, which cannot be stored", "nul")
    if nests_deeper_than(body):
        raise WebhookRejected(400, depth_error(), "too_deep")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        reason = str(exc)
        if "UTF-8" in reason:
            raise WebhookRejected(400, f"body is not UTF-8: {reason}", "bad_json") from exc
        if "surrogate" in reason:
            reason = f"an escaped surrogate (\\uD800-\\uDFFF) is unpaired ({reason})"
        raise WebhookRejected(400, f"body is not valid JSON: {reason}", "bad_json") from exc
    if not isinstance(payload, dict):
        raise WebhookRejected(400, "body must be a JSON object", "not_an_object")
    return payload


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
