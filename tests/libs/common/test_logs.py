from libs.common.logs import REDACTED, redact


def test_tokens_and_personal_data_are_redacted_recursively() -> None:
    event = redact(
        {
            "event": "customer anna@example.com synced",
            "access_token": "abc",
            "order": {"email": "anna@example.com", "name": "Anna", "total": "10.00"},
            "notes": ["call bo@example.org"],
            "shop": "demo.myshopify.com",
        }
    )
    assert event["access_token"] == REDACTED
    assert event["order"] == {"email": REDACTED, "name": REDACTED, "total": "10.00"}
    assert "anna@example.com" not in event["event"]
    assert event["notes"] == [f"call {REDACTED}"]
    assert event["shop"] == "demo.myshopify.com"
