"""Reading dead letters and explaining them: class, code, cause, fix, subject (no I/O)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from services.replayer import causes, dead_letters
from services.replayer.filters import FilterError, JobFilter, decode_cursor, encode_cursor
from tests.services.replayer.support import (
    MAPPER_QUEUE,
    TRACEPARENT,
    WRITER_QUEUE,
    broker_headers,
    command_body,
    consumer_headers,
)

SHOP = "demo.myshopify.com"


def classify(headers: dict[str, Any], body: bytes) -> tuple[dead_letters.DeadLetter, causes.Cause]:
    dead = dead_letters.read(headers, fallback_queue="dlq", routing_key="rk")
    return dead, causes.classify(dead, body)


def test_fortnox_validation_error_is_permanent_with_code_and_vat_cause() -> None:
    dead, cause = classify(consumer_headers(SHOP), command_body(SHOP, 1, ("25", "19.00")))
    assert dead.error_class == "permanent"
    assert dead.queue == WRITER_QUEUE
    assert dead.service == "fortnox_writer"
    assert dead.routing_key == "fortnox.command.create_document"
    assert dead.trace_id == TRACEPARENT.split("-")[1]
    assert cause.key == "fortnox:2000728:vat-19"
    assert cause.title == "VAT rate 19 % missing in Fortnox"
    assert cause.fortnox_code == "2000728"
    assert "VAT rate" in cause.explanation
    assert "19 %" in cause.fix and "replay" in cause.fix
    # The failed job links to the pre-flight check's finding for the same rate.
    assert "finding vat-19 " in cause.explanation
    assert "/admin/api/integrations/fortnox/preflight.json" in cause.explanation


def test_two_unusual_rates_and_known_codes() -> None:
    _, cause = classify(consumer_headers(SHOP), command_body(SHOP, 1, ("20", "19", "6")))
    assert cause.title == "VAT rates 19 %, 20 % missing in Fortnox"
    headers = consumer_headers(SHOP, code="2000428", source_message="Kan inte hitta artikeln")
    _, cause = classify(headers, command_body(SHOP, 1))
    assert cause.key == "fortnox:2000428"
    assert cause.title.startswith("Fortnox 2000428: The article")
    assert "Create the article" in cause.fix


def test_an_unknown_account_or_mode_of_payment_is_explained_with_its_finding() -> None:
    headers = consumer_headers(SHOP, code="2000423", source_message="Kan inte hitta kontot. (3107)")
    _, cause = classify(headers, command_body(SHOP, 1))
    assert cause.title == "Account 3107 missing in Fortnox"
    assert cause.key == "fortnox:2000423:account-3107"
    assert "refused the document" in cause.explanation
    assert "finding account-3107 " in cause.explanation
    assert "Add the account in Fortnox" in cause.fix and "replay" in cause.fix
    # Fortnox's code for an unknown mode of payment is not documented: its message tells.
    message = "Kan inte hitta betalningssättet. (PAYPAL)"
    headers = consumer_headers(SHOP, code="2999016", source_message=message)
    _, cause = classify(headers, command_body(SHOP, 1))
    assert "mode of payment" in cause.title and "does not exist in Fortnox" in cause.explanation
    assert "finding mode-of-payment-* " in cause.explanation
    assert "Create the mode of payment in Fortnox" in cause.fix


def voucher_body(*accounts: int) -> bytes:
    rows = [{"account": n, "debit": "1.00", "credit": "0"} for n in accounts]
    return json.dumps(
        {
            "shop": SHOP,
            "command_id": f"{SHOP}:payout:7:create",
            "document_key": f"{SHOP}:payout:7:voucher",
            "source": {"type": "payout", "id": "7"},
            "voucher": {"rows": rows},
        }
    ).encode()


def test_a_payout_voucher_to_an_account_fortnox_lacks_names_the_account() -> None:
    headers = consumer_headers(SHOP, code="2000423", source_message="Kan inte hitta kontot. (6064)")
    _, cause = classify(headers, voucher_body(1930, 6064, 1580))
    assert cause.title == "Account 6064 missing in Fortnox"
    assert "refused the voucher" in cause.explanation
    assert "finding account-6064 " in cause.explanation
    # Fortnox's documented message names no account: the voucher's accounts are named instead.
    headers = consumer_headers(SHOP, code="2000423", source_message="Kan inte hitta kontot.")
    _, cause = classify(headers, voucher_body(1930, 6064, 1580, 1930))
    assert cause.title == "One of accounts 1580, 1930, 6064 missing in Fortnox"
    assert cause.key == "fortnox:2000423:account-1580-1930-6064"
    assert "findings account-1580, account-1930, account-6064 " in cause.explanation
    # Nothing to name: the cause still links the pre-flight's account findings.
    _, cause = classify(headers, b"not json")
    assert cause.key == "fortnox:2000423" and "finding account-* " in cause.explanation


def test_transient_errors_exhausted() -> None:
    headers = consumer_headers(
        SHOP,
        error_class="transient_exhausted",
        code="1000003",
        message="Fortnox answered 503: Systemfel",
        source_message="Systemfel",
        attempts=6,
    )
    dead, cause = classify(headers, command_body(SHOP, 1))
    assert dead.error_class == "transient_exhausted" and dead.attempts == 6
    assert cause.key == "transient_exhausted:fortnox_writer:1000003"
    assert "6 attempts" in cause.explanation and "stopped retrying" in cause.explanation
    assert "replay" in cause.fix


def test_unmappable_order_keeps_the_mappers_reason() -> None:
    headers = consumer_headers(
        SHOP,
        code="bad_money",
        message="line_items[0].price must be a decimal string, got 199.0",
        source_message=None,
        explanation="line_items[0].price must be a decimal string, got 199.0",
        service="mapper",
        queue=MAPPER_QUEUE,
    )
    dead, cause = classify(headers, b"{}")
    assert dead.error_class == "permanent" and dead.service == "mapper"
    assert cause.key == "mapper:bad_money"
    assert cause.fortnox_code is None
    assert "decimal string" in cause.explanation
    assert cause.title == "An amount on the order is not a decimal number"


def test_needs_reconnection() -> None:
    headers = consumer_headers(SHOP, error_class="needs_reconnection", code="2000311")
    _, cause = classify(headers, b"{}")
    assert cause.key == "needs_reconnection:2000311"
    assert "reconnect" in cause.fix.lower()


def test_broker_dead_letters_delivery_limit_and_expired() -> None:
    dead, cause = classify(broker_headers(SHOP, "delivery_limit"), b"poison")
    assert dead.error_class == "delivery_limit"
    assert dead.queue == WRITER_QUEUE and dead.service == "fortnox_writer"
    assert dead.attempts == 4
    assert dead.routing_key == "rk"
    assert cause.key == "delivery_limit:fortnox_writer"
    dead, cause = classify(broker_headers(SHOP, "expired", queue=MAPPER_QUEUE), b"{}")
    assert dead.error_class == "expired" and cause.key == "expired:mapper"


def test_unexpected_crash_is_a_fault_in_fortbridge() -> None:
    headers = consumer_headers(
        SHOP, error_class="unexpected", code="RuntimeError", message="boom", attempts=4
    )
    _, cause = classify(headers, b"{}")
    assert cause.key == "unexpected:fortnox_writer:RuntimeError"
    assert "fault in Fortbridge" in cause.explanation


def test_failure_ids_tell_one_failure_from_the_next() -> None:
    headers = consumer_headers(SHOP)
    same = dead_letters.read(dict(headers), "q").failure_id
    assert dead_letters.read(dict(headers), "q").failure_id == same
    headers["x-fortbridge-error-at"] = "2030-01-01T00:00:00+00:00"
    assert dead_letters.read(headers, "q").failure_id != same


def test_subject_of_a_command_and_of_an_event() -> None:
    subject = causes.subject_of({}, command_body(SHOP, 42))
    assert (subject.shop, subject.object_type, subject.object_id, subject.object_name) == (
        SHOP,
        "order",
        "42",
        "#42",
    )
    assert subject.document_key == f"{SHOP}:order:42:invoice"
    event = {"shop": SHOP, "topic": "orders/create", "payload": {"id": 2**63 - 1, "name": "#7"}}
    subject = causes.subject_of({}, json.dumps(event).encode())
    assert (subject.object_type, subject.object_id) == ("order", str(2**63 - 1))
    assert causes.subject_of({}, b"not json").shop is None


def test_a_missing_rate_fortnox_names_is_the_cause_even_a_standard_one() -> None:
    """A company without 0 % refuses an untaxed row: the rate in Fortnox's message counts."""
    headers = consumer_headers(SHOP, source_message="Kunde inte hitta moms (0 %)")
    _, cause = classify(headers, command_body(SHOP, 1, ("25", "0")))
    assert cause.key == "fortnox:2000728:vat-0"
    assert "finding vat-0 " in cause.explanation


def test_unusual_vat_rates_ignores_garbage() -> None:
    body = json.dumps({"document": {"rows": [{"vat": "x"}, {"vat": "7.5"}, "junk"]}}).encode()
    assert causes.unusual_vat_rates(body) == [Decimal("7.5")]


def test_filters_and_cursors() -> None:
    job_filter = JobFilter.from_mapping(
        {"shop": SHOP, "cause": "fortnox:2000728:vat-19", "since": "2026-01-01T00:00:00Z"}
    )
    params: list[object] = []
    where = job_filter.where(params)
    assert where.count("$") == 3 and len(params) == 3
    assert job_filter.as_json()["since"] == "2026-01-01T00:00:00+00:00"
    assert JobFilter().is_empty()
    with pytest.raises(FilterError):
        JobFilter.from_mapping({"status": "bogus"})
    with pytest.raises(FilterError):
        JobFilter.from_mapping({"since": "yesterday"})
    assert decode_cursor(encode_cursor(1234)) == 1234
    with pytest.raises(FilterError):
        decode_cursor("not-a-cursor")
    with pytest.raises(FilterError):
        decode_cursor(encode_cursor(5, "al1"))
    with pytest.raises(FilterError):
        decode_cursor(encode_cursor(2**63))
    with pytest.raises(FilterError):
        JobFilter.from_mapping({"since": "0001-01-01T00:00:00+05:00"})


def test_terms_of_payment_fortnox_lacks_are_named_by_message_or_document() -> None:
    # Fortnox's code for unknown terms of payment is not documented: the message tells.
    message = "Kan inte hitta betalningsvillkoret. (45)"
    for code in ("2999020", None):
        headers = consumer_headers(SHOP, code=code, source_message=message)
        _, cause = classify(headers, command_body(SHOP, 1))
        assert cause.title == "Terms of payment 45 missing in Fortnox"
        assert "finding terms-of-payment-45 " in cause.explanation
        assert "Terms of payment" in cause.fix and "replay" in cause.fix
    body = json.loads(command_body(SHOP, 1))
    body["document"]["fields"] = {"TermsOfPayment": "60"}
    headers = consumer_headers(
        SHOP, code=None, source_message="Kan inte hitta betalningsvillkoret."
    )
    _, cause = classify(headers, json.dumps(body).encode())
    assert cause.title == "Terms of payment 60 missing in Fortnox"
