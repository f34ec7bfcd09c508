"""The one builder of dead-letter headers (consumer runner and writer alike)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from libs.common.errors import ErrorClass, PermanentError
from libs.common.messaging.dead_letters import (
    ATTEMPT_HEADER,
    FAILED_QUEUE_HEADER,
    ROUTING_KEY_HEADER,
    dead_letter_headers,
)

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_handler_error_carries_its_code_source_explanation_and_details() -> None:
    exc = PermanentError(
        "Fortnox answered 400",
        code="2000728",
        source_message="Kunde inte hitta moms",
        explanation="A VAT rate is missing.",
        details={"rate": "19"},
    )
    headers = dead_letter_headers(
        {"traceparent": "00-abc-def-01", ATTEMPT_HEADER: 2},
        exc,
        ErrorClass.PERMANENT,
        routing_key="fortnox.command.create_document",
        failed_queue="ns.fortnox_writer.commands",
        service="fortnox_writer",
        attempts=3,
        at=AT,
    )
    assert headers == {
        "traceparent": "00-abc-def-01",
        ATTEMPT_HEADER: 2,
        "x-fortbridge-error-class": "permanent",
        "x-fortbridge-error-message": "Fortnox answered 400",
        "x-fortbridge-error-code": "2000728",
        "x-fortbridge-error-source-message": "Kunde inte hitta moms",
        "x-fortbridge-error-explanation": "A VAT rate is missing.",
        "x-fortbridge-error-details": json.dumps({"rate": "19"}),
        ROUTING_KEY_HEADER: "fortnox.command.create_document",
        FAILED_QUEUE_HEADER: "ns.fortnox_writer.commands",
        "x-fortbridge-error-service": "fortnox_writer",
        "x-fortbridge-error-attempts": 3,
        "x-fortbridge-error-at": AT.isoformat(),
    }


def test_another_exception_is_named_by_its_type_and_the_first_routing_key_is_kept() -> None:
    headers = dead_letter_headers(
        {ROUTING_KEY_HEADER: "fortnox.command.register_payment"},
        ValueError("x" * 5000),
        ErrorClass.UNEXPECTED,
        routing_key="ns.fortnox_writer.commands",  # a retry re-entered by queue name
        failed_queue="q",
        service="s",
        attempts=1,
    )
    assert headers["x-fortbridge-error-code"] == "ValueError"
    assert len(headers["x-fortbridge-error-message"]) == 2000
    assert headers[ROUTING_KEY_HEADER] == "fortnox.command.register_payment"
    assert "x-fortbridge-error-explanation" not in headers
