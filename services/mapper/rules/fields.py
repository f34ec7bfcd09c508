"""Which Fortnox fields a rule's templates may set, and checking a template map when saved.

Each template is checked as templates.check does (Liquid that parses, only the allowed tags and
filters, within the caps on the sample order); a template in the syntax before Liquid is refused
with the Liquid to write instead.

Three maps of Fortnox field -> template, each rendered by the rules engine (actions.py):

- ``fields``: the document header (invoice or order), rendered over the Shopify order;
- ``customer_fields``: the Fortnox customer Fortbridge creates for the order, over the order;
- ``row_fields``: each line item's row, over the line item (the order as ``order.``, the line's
  properties by name as ``property.``).

Only writable text fields are allowed. Fields Fortbridge computes or matches by are refused
with the reason: a template must not change which customer an order is booked on, its VAT or
the document's amounts.
"""

from __future__ import annotations

from services.mapper.rules import legacy_templates
from services.mapper.rules.templates import TemplateError, check


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Fortnox invoice/order header fields a template may set. Fields Fortbridge computes
# (customer, currency, VAT basis, references, rows, totals, dates) are not among them.
HEADER_FIELDS = _names(
    "OurReference YourReference Remarks Comments TermsOfPayment TermsOfDelivery "
    "WayOfDelivery PriceList PrintTemplate Project CostCenter ExternalInvoiceReference2 "
    "DeliveryName DeliveryAddress1 DeliveryAddress2 DeliveryCity DeliveryCountry "
    "DeliveryZipCode Address1 Address2 City Country ZipCode Phone1 Phone2 CustomerName "
    "OrganisationNumber"
)

# Writable text fields of a Fortnox Customer (../shared/reference/fortnox.md).
CUSTOMER_FIELDS = _names(
    "Name Address1 Address2 ZipCode City Country Phone1 Phone2 Fax EmailInvoice "
    "EmailInvoiceCC EmailInvoiceBCC EmailOrder EmailOrderCC EmailOrderBCC EmailOffer "
    "EmailOfferCC EmailOfferBCC VATNumber Comments InvoiceRemark ExternalReference "
    "YourReference OurReference TermsOfPayment TermsOfDelivery WayOfDelivery PriceList "
    "CostCenter Project DeliveryName DeliveryAddress1 DeliveryAddress2 DeliveryZipCode "
    "DeliveryCity DeliveryCountry DeliveryPhone1 DeliveryPhone2 DeliveryFax GLN GLNDelivery "
    "VisitingAddress VisitingZipCode VisitingCity VisitingCountry WWW"
)
_MATCHED = "Fortbridge finds the customer by it (compared exactly), so a template could book "
CUSTOMER_REFUSED = {
    "CustomerNumber": "Fortnox numbers new customers; Fortbridge finds them by e-mail or "
    "organisation number",
    "Email": _MATCHED + "orders on another customer; use EmailInvoice to send invoices elsewhere",
    "OrganisationNumber": _MATCHED + "orders on another customer; Fortbridge reads it from the "
    "order (note attributes or customer metafields)",
    "Type": "Fortbridge sets it from the order (COMPANY when a company name is given)",
    "VATType": "Fortbridge sets it from the order's VAT market",
    "CountryCode": "Fortbridge sets it from the billing address; use Country for a text",
}

# Writable text fields of a Fortnox InvoiceRow / OrderRow.
ROW_FIELDS = frozenset(("Description", "Unit", "CostCenter", "Project"))
ROW_REFUSED = {
    name: "Fortbridge computes the row's amounts, VAT, account and article from the order"
    for name in _names(
        "ArticleNumber AccountNumber DeliveredQuantity OrderedQuantity Price Discount "
        "DiscountType VAT VATCode"
    )
}
ROW_DESCRIPTION_LENGTH = 50

KINDS: dict[str, tuple[str, frozenset[str], dict[str, str]]] = {
    "fields": ("", HEADER_FIELDS, {}),
    "customer_fields": (" on the customer", CUSTOMER_FIELDS, CUSTOMER_REFUSED),
    "row_fields": (" on a row", ROW_FIELDS, ROW_REFUSED),
}


class FieldTemplateError(ValueError):
    """Bad entries of a template map: (Fortnox field, message) each."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{name}: {message}" for name, message in problems))


def check_templates(kind: str, templates: dict[str, str]) -> dict[str, str]:
    """``templates`` when every field may be set and every template parses."""
    what, allowed, refused = KINDS[kind]
    problems: list[tuple[str, str]] = []
    for name, template in templates.items():
        if name in refused:
            problems.append((name, f"a rule may not set {name}: {refused[name]}"))
        elif name not in allowed:
            known = ", ".join(sorted(allowed))
            problems.append((name, f"not a Fortnox field a rule may set{what}; use one of {known}"))
        else:
            try:
                check(template, kind)
            except TemplateError as exc:
                problems.append((name, str(exc) + _legacy_hint(template)))
    if problems:
        raise FieldTemplateError(problems)
    return templates


def _legacy_hint(template: str) -> str:
    """For a template in the syntax before Liquid: the Liquid that says the same."""
    try:
        liquid = legacy_templates.to_liquid(template)
    except (legacy_templates.TemplateError, legacy_templates.UntranslatableTemplate):
        return ""
    try:
        check(liquid)
    except TemplateError as exc:
        return f"; templates are Liquid now: in Liquid this reads {liquid}, refused too: {exc}"
    return f"; templates are Liquid now: write {liquid}"
