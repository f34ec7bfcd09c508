"""Shopify customer and addresses -> the Fortnox customer to find or create.

- Company or private: a company name from the billing address's ``company``, a note attribute
  or a customer metafield (keys per settings) makes a COMPANY customer; otherwise PRIVATE.
- VAT number and organisation number come from note attributes or customer metafields.
- Matching, compared exactly by the writer: organisation number for companies that have one,
  otherwise the e-mail address (trimmed, lower case). A checkout without e-mail is a guest and
  is booked on the shop's default customer. No fuzzy matching: never the wrong customer.
- A rule's customer templates (``settings.customer_fields``) add to or replace the fields of
  a customer made from the order, but never the guest customer (shared by every guest) and
  never what the customer is matched by or its VAT type.
- VATType follows the market (see vat.py); EU reverse charge also sets EUQuarterlyReport on
  the invoice.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from libs.common.messages import CustomerDraft
from services.mapper.accounting.settings import ShopSettings
from services.mapper.accounting.vat import VAT_TYPES, Market

if TYPE_CHECKING:
    from services.mapper.accounting.vat_numbers import VatCheck

_ADDRESS_FIELDS = (
    ("Address1", "address1"),
    ("Address2", "address2"),
    ("ZipCode", "zip"),
    ("City", "city"),
    ("CountryCode", "country_code"),
    ("Phone1", "phone"),
)


# What the customer is found by, its VAT and its identity: never from settings.customer_fields.
_KEPT = frozenset(("CustomerNumber", "Email", "OrganisationNumber", "Type", "VATType"))


def _attributes(order: dict[str, Any]) -> dict[str, str]:
    """Note attributes and customer metafields as one lower-cased key -> value map."""
    found: dict[str, str] = {}
    customer = order.get("customer") or {}
    metafields = customer.get("metafields") or []
    if isinstance(metafields, dict):
        metafields = [{"key": k, "value": v} for k, v in metafields.items()]
    for entry in [*metafields, *(order.get("note_attributes") or [])]:
        if not isinstance(entry, dict):
            continue
        key = str(entry.get("key") or entry.get("name") or "").strip().lower()
        value = str(entry.get("value") or "").strip()
        if key and value:
            found.setdefault(key, value)
    return found


def _first(attributes: dict[str, str], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if attributes.get(key.lower()):
            return attributes[key.lower()]
    return None


def company_details(
    order: dict[str, Any], settings: ShopSettings
) -> tuple[str | None, str | None, str | None]:
    """(company name, VAT number, organisation number) as the order states them."""
    attributes = _attributes(order)
    billing = order.get("billing_address") or {}
    company = (billing.get("company") or "").strip() or _first(attributes, settings.company_keys)
    vat_number = _first(attributes, settings.vat_number_keys)
    org_number = _first(attributes, settings.organisation_number_keys)
    if vat_number:
        vat_number = re.sub(r"[\s.]", "", vat_number).upper()
    if org_number:
        org_number = org_number.replace(" ", "")
    return company, vat_number, org_number


def destination_country(order: dict[str, Any], home: str) -> str:
    """Where the goods go (shipping address), else the billing country, else the shop's."""
    for field in ("shipping_address", "billing_address"):
        address = order.get(field) or {}
        if address.get("country_code"):
            return str(address["country_code"]).upper()
    return home.upper()


def customer_draft(
    order: dict[str, Any], settings: ShopSettings, market: Market, *, vat: VatCheck | None = None
) -> CustomerDraft:
    """The customer to find or create. ``current_fields`` names what is kept current on a
    customer Fortnox already has: the billing address, a VAT number VIES confirmed (``vat``,
    with its consultation in ``vies_note``) and the rules' customer templates; never the name,
    type, e-mail, organisation number or VAT type, nor any field Fortbridge does not map."""
    customer = order.get("customer") or {}
    email = str(order.get("email") or customer.get("email") or "").strip().lower()
    company, vat_number, org_number = company_details(order, settings)
    if not email and not (company and org_number):
        return CustomerDraft(
            match_key="default",
            match_value=settings.guest_customer_name,
            fields={"Name": settings.guest_customer_name, "Type": "PRIVATE"},
        )
    billing = order.get("billing_address") or {}
    person = " ".join(
        str(part) for part in (customer.get("first_name"), customer.get("last_name")) if part
    )
    name = company or person or billing.get("name") or email
    fields: dict[str, Any] = {
        "Name": str(name)[:1024],
        "Type": "COMPANY" if company else "PRIVATE",
        "VATType": VAT_TYPES[market],
    }
    if email:
        fields["Email"] = email
    current: list[str] = []
    vies_note = None
    if vat is not None and vat.valid:
        fields["VATNumber"] = vat.number
        current.append("VATNumber")
        vies_note = vat.vies_note()
    elif vat_number and vat is None:  # a number that decides nothing is kept as given
        fields["VATNumber"] = vat_number
    if org_number:
        fields["OrganisationNumber"] = org_number
    for fortnox_field, shopify_field in _ADDRESS_FIELDS:
        if billing.get(shopify_field):
            fields[fortnox_field] = str(billing[shopify_field])
            current.append(fortnox_field)
    for fortnox_field, value in settings.customer_fields.items():  # the rules' templates
        if fortnox_field not in _KEPT:
            fields[fortnox_field] = value
            current.append(fortnox_field)
    kept = sorted(set(current))
    by_email = settings.customer_match == "email" and email
    match_key: Literal["email", "organisation_number"]
    if company and org_number and not by_email:
        match_key, match_value = "organisation_number", org_number
    else:
        match_key, match_value = "email", email
    return CustomerDraft(
        match_key=match_key,
        match_value=match_value,
        fields=fields,
        current_fields=kept,
        vies_note=vies_note,
    )
