"""Personal data in Shopify payloads: find it (data requests) and redact it (redact requests).

Pure functions over the REST-shaped webhook bodies ingest stores. Personal fields (e-mail,
names, phone, street address, note, IP and browser) are replaced by ``[redacted]``; ids, money,
quantities, SKUs, tax lines and country codes stay, so the stored orders still add up and the
books derived from them stay right. ``name`` is personal only inside a person or an address
(an order's ``name`` is its number "#1001", a line item's is the product's). Any e-mail address
in any other string is redacted too.
"""

from __future__ import annotations

from typing import Any

from libs.common.emails import find_emails, redact_emails

REDACTED = "[redacted]"
PERSONAL_FIELDS = frozenset(
    {
        "email",
        "contact_email",
        "customer_email",
        "phone",
        "first_name",
        "last_name",
        "note",
        "address1",
        "address2",
        "city",
        "zip",
        "company",
        "latitude",
        "longitude",
        "browser_ip",
        "user_agent",
        "accept_language",
    }
)
# Objects that describe a person or an address: their ``name`` is personal too.
PERSON_OBJECTS = frozenset(
    {
        "customer",
        "billing_address",
        "shipping_address",
        "default_address",
        "addresses",
        "destination",
        "client_details",
    }
)


def _personal(key: str, in_person: bool) -> bool:
    return key in PERSONAL_FIELDS or (in_person and key == "name")


def _blank(value: Any) -> Any:
    return REDACTED if isinstance(value, str | dict | list) else None


def redact(value: Any, *, in_person: bool = False) -> Any:
    """A copy of ``value`` with the personal data replaced; ``in_person``: the root is a person
    (a customers/* payload)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if item is not None and _personal(key, in_person):
                out[key] = _blank(item)
            elif key == "note_attributes" and isinstance(item, list):
                out[key] = [
                    {**attr, "value": REDACTED} if isinstance(attr, dict) else attr for attr in item
                ]
            else:
                out[key] = redact(item, in_person=in_person or key in PERSON_OBJECTS)
        return out
    if isinstance(value, list):
        return [redact(item, in_person=in_person) for item in value]
    if isinstance(value, str):
        return redact_emails(value, REDACTED)
    return value


def personal_data(value: Any, *, in_person: bool = False, path: str = "") -> list[dict[str, Any]]:
    """Every personal value in ``value``, as ``{"field": "billing_address.city", "value": ...}``;
    values already redacted are left out."""
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else key
            if item is not None and item != REDACTED and _personal(key, in_person):
                found.append({"field": here, "value": item})
            elif key == "note_attributes" and isinstance(item, list):
                found += [
                    {"field": f"{here}.{attr.get('name')}", "value": attr.get("value")}
                    for attr in item
                    if isinstance(attr, dict) and attr.get("value") not in (None, REDACTED)
                ]
            else:
                nested = in_person or key in PERSON_OBJECTS
                found += personal_data(item, in_person=nested, path=here)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += personal_data(item, in_person=in_person, path=f"{path}[{index}]")
    elif isinstance(value, str):
        found += [{"field": path, "value": email} for email in find_emails(value)]
    return found


def is_person_topic(topic: str) -> bool:
    """Topics whose payload root is the customer itself."""
    return topic.startswith("customers/") and topic not in (
        "customers/redact",
        "customers/data_request",
    )
