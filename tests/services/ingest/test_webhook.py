import base64
import hashlib
import hmac
import json

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
