import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from services.ingest.webhook import WebhookRejected, parse_delivery, routing_key, verify_hmac

SECRET = "test-secret"


def signed_headers(body: bytes, **overrides: str) -> dict[str, str]:
    digest = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    headers = {
        "X-Shopify-Hmac-Sha256": digest,
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Shop-Domain": "demo.myshopify.com",
        "X-Shopify-Webhook-Id": "wh-1",
        "X-Shopify-Event-Id": "ev-1",
        "X-Shopify-API-Version": "2025-07",
        "X-Shopify-Triggered-At": "2026-11-28T10:00:00.000Z",
    }
    headers.update(overrides)
    return headers


def test_valid_delivery_is_parsed_with_ids_kept_exact() -> None:
    body = json.dumps({"id": 5_000_000_000_123, "total_price": "186.90"}).encode()
    delivery = parse_delivery(signed_headers(body), body, SECRET)
    assert delivery.shop == "demo.myshopify.com"
    assert delivery.topic == "orders/create"
    assert delivery.payload["id"] == 5_000_000_000_123
    assert delivery.order_id == "5000000000123"  # read once, on arrival
    assert delivery.body == body
    assert delivery.event_id == "ev-1"
    assert delivery.triggered_at is not None and delivery.triggered_at.utcoffset() is not None


def test_hmac_over_other_bytes_is_401() -> None:
    body = b'{"id": 1}'
    headers = signed_headers(body)
    with pytest.raises(WebhookRejected) as caught:
        parse_delivery(headers, b'{"id": 2}', SECRET)
    assert caught.value.status == 401


def test_hex_signature_is_not_accepted() -> None:
    body = b"{}"
    hex_digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert not verify_hmac(body, hex_digest, SECRET)
    assert not verify_hmac(body, None, SECRET)


def test_headers_without_x_prefix_are_accepted() -> None:
    body = b'{"id": 1}'
    headers = {key.removeprefix("X-"): value for key, value in signed_headers(body).items()}
    assert parse_delivery(headers, body, SECRET).webhook_id == "wh-1"


@pytest.mark.parametrize(
    ("body", "overrides", "reason"),
    [
        (b"{not json", {}, "not valid JSON"),
        (b"[1, 2]", {}, "JSON object"),
        (b"{}", {"X-Shopify-Topic": ""}, "X-Shopify-Topic"),
        (b"{}", {"X-Shopify-Shop-Domain": "evil.example.com"}, "myshopify.com"),
    ],
)
def test_malformed_deliveries_are_400_with_reason(
    body: bytes, overrides: dict[str, str], reason: str
) -> None:
    with pytest.raises(WebhookRejected) as caught:
        parse_delivery(signed_headers(body, **overrides), body, SECRET)
    assert caught.value.status == 400
    assert reason in caught.value.reason


def test_routing_key_from_topic() -> None:
    assert routing_key("orders/create") == "shopify.orders.create"


def test_nul_characters_are_refused_after_the_hmac_check() -> None:
    body = json.dumps({"id": 1, "note": "a\x00b"}).encode()
    with pytest.raises(WebhookRejected) as rejected:
        parse_delivery(signed_headers(body), body, SECRET)
    assert rejected.value.status == 400
    assert "NUL" in rejected.value.reason
    forged = signed_headers(b"other")
    with pytest.raises(WebhookRejected) as unsigned:
        parse_delivery(forged, body, SECRET)
    assert unsigned.value.status == 401


def test_a_signature_that_is_not_ascii_is_a_bad_signature() -> None:
    body = b'{"id": 1}'
    assert not verify_hmac(body, "sïgnätürë", SECRET)
    assert not verify_hmac(body, "\udcff\udcfe", SECRET)  # undecodable bytes, as aiohttp keeps them
    with pytest.raises(WebhookRejected) as caught:
        parse_delivery(signed_headers(body, **{"X-Shopify-Hmac-Sha256": "ä" * 44}), body, SECRET)
    assert caught.value.status == 401


@pytest.mark.parametrize(
    ("body", "reason", "code"),
    [
        (b'{"a":' * 65 + b"1" + b"}" * 65, "deeper than 64", "too_deep"),
        (b'{"total": NaN}', "not valid JSON: unexpected character", "bad_json"),
        (b'{"total": -Infinity}', "not valid JSON", "bad_json"),
        (b'{"total": 1e400}', "not valid JSON: number is infinity", "bad_json"),
        (b'{"total": 1}{"x": 2}', "not valid JSON", "bad_json"),
        (b'{"note": "\\ud800"}', "unpaired", "bad_json"),
        (b'{"note": "\xff"}', "not UTF-8", "bad_json"),
    ],
)
def test_signed_bodies_later_steps_cannot_carry_are_400(
    body: bytes, reason: str, code: str
) -> None:
    with pytest.raises(WebhookRejected) as caught:
        parse_delivery(signed_headers(body), body, SECRET)
    assert (caught.value.status, caught.value.code) == (400, code)
    assert reason in caught.value.reason


def test_a_body_at_the_depth_limit_and_a_paired_surrogate_are_accepted() -> None:
    deep = b'{"a":' * 63 + b'{"b": "\\ud83d\\ude00"}' + b"}" * 63
    assert parse_delivery(signed_headers(deep), deep, SECRET).payload["a"]["a"]


@pytest.mark.parametrize(
    ("topic", "payload", "order_id"),
    [
        ("orders/paid", {"id": 7, "order_id": 9}, "7"),
        ("refunds/create", {"id": 3, "order_id": 9}, "9"),
        ("products/update", {"id": 7}, None),
        ("orders/create", {"id": True}, None),
    ],
)
def test_the_order_a_delivery_is_about_is_read_on_arrival(
    topic: str, payload: dict[str, object], order_id: str | None
) -> None:
    body = json.dumps(payload).encode()
    delivery = parse_delivery(signed_headers(body, **{"X-Shopify-Topic": topic}), body, SECRET)
    assert delivery.order_id == order_id


def test_every_header_of_a_delivery_is_kept() -> None:
    body = b'{"id": 1}'
    delivery = parse_delivery(
        signed_headers(body, **{"X-Shopify-Shop-Domain": "Demo.MyShopify.com"}), body, SECRET
    )
    assert delivery.shop == "demo.myshopify.com"  # shop domains compare lower-case
    assert (delivery.webhook_id, delivery.event_id, delivery.api_version) == (
        "wh-1",
        "ev-1",
        "2025-07",
    )
    assert delivery.triggered_at == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("triggered_at", "parsed"),
    [
        ("2026-11-28T12:00:00+02:00", datetime(2026, 11, 28, 10, 0, tzinfo=UTC)),
        ("2026-11-28T10:00:00", datetime(2026, 11, 28, 10, 0, tzinfo=UTC)),  # naive: UTC
        ("yesterday", None),
    ],
)
def test_the_trigger_time_is_an_instant_in_utc_or_none(
    triggered_at: str, parsed: datetime | None
) -> None:
    body = b"{}"
    headers = signed_headers(body, **{"X-Shopify-Triggered-At": triggered_at})
    got = parse_delivery(headers, body, SECRET).triggered_at
    assert got == parsed
    assert got is None or got.utcoffset() is not None


def test_optional_headers_may_be_absent() -> None:
    body = b"{}"
    headers = signed_headers(body)
    for name in ("X-Shopify-Event-Id", "X-Shopify-API-Version", "X-Shopify-Triggered-At"):
        del headers[name]
    delivery = parse_delivery(headers, body, SECRET)
    assert (delivery.event_id, delivery.api_version, delivery.triggered_at) == (None, None, None)


def test_a_bytes_secret_verifies_like_its_text() -> None:
    body = b'{"id": 1}'
    assert parse_delivery(signed_headers(body), body, SECRET.encode()).webhook_id == "wh-1"
    assert not verify_hmac(body, signed_headers(body)["X-Shopify-Hmac-Sha256"], b"other")


# Each refusal: the HTTP status, the metric label (fortbridge_webhooks_rejected_total's reason),
# and a reason that names what is wrong (the answer's body, and str() of the exception in logs).
@pytest.mark.parametrize(
    ("body", "overrides", "status", "code", "reason"),
    [
        (
            b"{}",
            {"X-Shopify-Hmac-Sha256": "bm90IGl0"},
            401,
            "bad_hmac",
            "HMAC signature is missing or does not match the body",
        ),
        (
            b"{}",
            {"X-Shopify-Topic": "", "X-Shopify-Webhook-Id": ""},
            400,
            "missing_header",
            "missing required header(s): X-Shopify-Topic, X-Shopify-Webhook-Id",
        ),
        (
            b"{}",
            {"X-Shopify-Webhook-Id": ""},
            400,
            "missing_header",
            "missing required header(s): X-Shopify-Webhook-Id",
        ),
        (
            b"{}",
            {"X-Shopify-Shop-Domain": "evil.example.com"},
            400,
            "bad_shop",
            "X-Shopify-Shop-Domain is not a myshopify.com domain: 'evil.example.com'",
        ),
        (
            b"{}",
            {"X-Shopify-Topic": "orders.create"},
            400,
            "bad_topic",
            "X-Shopify-Topic is not a topic like orders/create: 'orders.create'",
        ),
        (b'{"a": "\x00"}', {}, 400, "nul", "body contains NUL characters, which cannot be stored"),
        (b"[1, 2]", {}, 400, "not_an_object", "body must be a JSON object"),
    ],
)
def test_each_refusal_has_its_status_code_and_reason(
    body: bytes, overrides: dict[str, str], status: int, code: str, reason: str
) -> None:
    with pytest.raises(WebhookRejected) as caught:
        parse_delivery(signed_headers(body, **overrides), body, SECRET)
    rejected = caught.value
    assert (rejected.status, rejected.code, rejected.reason) == (status, code, reason)
    assert str(rejected) == reason
