"""Field lists of each Fortnox entity and the coercion of incoming JSON values.

Each entity has writable fields (with a kind) and read-only fields. On create/update:
unknown field names answer 400 code 2001399; read-only fields (and ``@url``-style keys) are
ignored, so a client can send back what it read; a value of the wrong type answers 2000108
(numeric), 2000134 (boolean) or 2000106 (text). Like Fortnox, numbers are accepted as strings
("25") and booleans as "true"/"false".

Bodies are parsed with ``parse_float=Decimal``, so money never passes through a float.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from simulators.fortnox import errors


class Kind(enum.Enum):
    STR = "str"
    DEC = "dec"
    INT = "int"
    BOOL = "bool"
    DATE = "date"
    ENUM = "enum"
    OBJ = "obj"
    LIST = "list"


@dataclass(frozen=True)
class FieldSpec:
    kind: Kind
    choices: frozenset[str] = frozenset()


def names(text: str) -> list[str]:
    """Split a whitespace-separated list of field names."""
    return text.split()


def _fields(kind: Kind, names: str) -> dict[str, FieldSpec]:
    return {name: FieldSpec(kind) for name in names.split()}


def _enum(name: str, *choices: str) -> dict[str, FieldSpec]:
    return {name: FieldSpec(Kind.ENUM, frozenset(choices))}


@dataclass(frozen=True)
class Schema:
    entity: str
    writable: Mapping[str, FieldSpec]
    read_only: frozenset[str]

    def parse(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and normalise writable fields; ignore read-only ones."""
        out: dict[str, Any] = {}
        for name, value in data.items():
            spec = self.writable.get(name)
            if spec is None:
                if name in self.read_only or name.startswith("@"):
                    continue
                raise errors.bad_request(errors.INVALID_FIELD_NAME, f"{self.entity}.{name}")
            out[name] = coerce(name, spec, value)
        return out


def coerce(name: str, spec: FieldSpec, value: Any) -> Any:
    """Normalise one JSON value; ``None`` is kept as ``None`` (clears the field)."""
    if value is None:
        return None
    kind = spec.kind
    if kind is Kind.STR:
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise errors.bad_request(errors.NOT_ALPHANUMERIC, name)
        return value if isinstance(value, str) else str(value)
    if kind is Kind.DEC:
        return to_decimal(name, value)
    if kind is Kind.INT:
        number = to_decimal(name, value)
        if number != number.to_integral_value():
            raise errors.bad_request(errors.NOT_NUMERIC, name)
        return int(number)
    if kind is Kind.BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise errors.bad_request(errors.NOT_BOOLEAN, name)
    if kind is Kind.DATE:
        if value == "":
            return None
        if isinstance(value, str) and len(value) == 10:
            try:
                return date.fromisoformat(value).isoformat()
            except ValueError:
                pass
        raise errors.bad_request(errors.SIM_INVALID_VALUE, f"{name}: {value!r}")
    if kind is Kind.ENUM:
        if isinstance(value, str) and value.upper() in spec.choices:
            return value.upper()
        if value == "":
            return None
        raise errors.bad_request(errors.SIM_INVALID_VALUE, f"{name}: {value!r}")
    if kind is Kind.OBJ:
        if isinstance(value, dict):
            return value
        raise errors.bad_request(errors.BAD_DATA_STRUCTURE, name)
    if isinstance(value, list):
        return value
    raise errors.bad_request(errors.BAD_DATA_STRUCTURE, name)


def to_decimal(name: str, value: Any) -> Decimal:
    if isinstance(value, bool):
        raise errors.bad_request(errors.NOT_NUMERIC, name)
    if isinstance(value, Decimal | int):
        result = Decimal(value)
    elif isinstance(value, float):  # only reachable from in-process callers
        result = Decimal(str(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise errors.bad_request(errors.NOT_NUMERIC, name) from None
    else:
        raise errors.bad_request(errors.NOT_NUMERIC, name)
    if not result.is_finite():
        raise errors.bad_request(errors.NOT_NUMERIC, name)
    return result


def _read_only(names: str, extra: Iterable[str] = ()) -> frozenset[str]:
    return frozenset(names.split()) | frozenset(extra)


CUSTOMER = Schema(
    "Customer",
    {
        **_fields(
            Kind.STR,
            "CustomerNumber Name Email EmailInvoice EmailInvoiceBCC EmailInvoiceCC EmailOffer "
            "EmailOfferBCC EmailOfferCC EmailOrder EmailOrderBCC EmailOrderCC OrganisationNumber "
            "VATNumber CountryCode Country Currency Address1 Address2 ZipCode City Phone1 Phone2 "
            "Fax DeliveryAddress1 DeliveryAddress2 DeliveryCity DeliveryCountry "
            "DeliveryCountryCode DeliveryFax DeliveryName DeliveryPhone1 DeliveryPhone2 "
            "DeliveryZipCode ExternalReference TermsOfPayment TermsOfDelivery WayOfDelivery "
            "PriceList Comments CostCenter Project OurReference YourReference InvoiceRemark "
            "GLN GLNDelivery VisitingAddress VisitingCity VisitingCountry VisitingCountryCode "
            "VisitingZipCode WWW",
        ),
        **_fields(Kind.DEC, "InvoiceAdministrationFee InvoiceDiscount InvoiceFreight"),
        **_fields(Kind.INT, "SalesAccount"),
        **_fields(Kind.BOOL, "Active ShowPriceVATIncluded"),
        **_fields(Kind.OBJ, "DefaultDeliveryTypes DefaultTemplates"),
        **_enum("Type", "PRIVATE", "COMPANY"),
        **_enum("VATType", "SEVAT", "SEREVERSEDVAT", "EUREVERSEDVAT", "EUVAT", "EXPORT"),
    },
    _read_only(""),
)

ARTICLE = Schema(
    "Article",
    {
        **_fields(
            Kind.STR,
            "ArticleNumber Description EAN Unit Manufacturer ManufacturerArticleNumber Note "
            "StockPlace SupplierNumber HouseworkType",
        ),
        **_fields(
            Kind.DEC,
            "VAT PurchasePrice QuantityInStock StockWarning Depth Height Width Weight",
        ),
        **_fields(
            Kind.INT,
            "SalesAccount EUAccount EUVATAccount ExportAccount PurchaseAccount "
            "ConstructionAccount StockAccount StockChangeAccount",
        ),
        **_fields(Kind.BOOL, "Active Bulky Expired Housework StockGoods WebshopArticle"),
        **_enum("Type", "STOCK", "SERVICE"),
    },
    _read_only(
        "DisposableQuantity ReservedQuantity SalesPrice StockValue SupplierName DirectCost "
        "FreightCost OtherCost DefaultStockPoint DefaultStockLocation CommodityCode "
        "CostCalculationMethod"
    ),
)

_ROW_COMMON: dict[str, FieldSpec] = {
    **_fields(
        Kind.STR,
        "ArticleNumber Description Unit CostCenter Project VATCode StockPointCode HouseWorkType",
    ),
    **_fields(Kind.DEC, "DeliveredQuantity Price Discount VAT HouseWorkHoursToReport"),
    **_fields(Kind.INT, "AccountNumber RowId"),
    **_fields(Kind.BOOL, "HouseWork"),
    **_enum("DiscountType", "AMOUNT", "PERCENT"),
}
_ROW_READ_ONLY = _read_only(
    "ContributionPercent ContributionValue Cost PriceExcludingVAT Total TotalExcludingVAT"
)

INVOICE_ROW = Schema("InvoiceRow", _ROW_COMMON, _ROW_READ_ONLY)
ORDER_ROW = Schema(
    "OrderRow",
    {**_ROW_COMMON, **_fields(Kind.DEC, "OrderedQuantity ReservedQuantity")},
    _ROW_READ_ONLY,
)

_HEADER_COMMON: dict[str, FieldSpec] = {
    **_fields(
        Kind.STR,
        "CustomerNumber CustomerName Address1 Address2 City Country ZipCode Phone1 Phone2 "
        "DeliveryName DeliveryAddress1 DeliveryAddress2 DeliveryCity DeliveryCountry "
        "DeliveryZipCode Currency ExternalInvoiceReference1 ExternalInvoiceReference2 "
        "YourOrderNumber OurReference YourReference Remarks Comments TermsOfPayment "
        "TermsOfDelivery WayOfDelivery PriceList PrintTemplate Project CostCenter "
        "OrganisationNumber TaxReductionType",
    ),
    **_fields(Kind.DEC, "CurrencyRate CurrencyUnit Freight AdministrationFee"),
    **_fields(Kind.INT, "DocumentNumber"),
    **_fields(Kind.BOOL, "VATIncluded EUQuarterlyReport NotCompleted"),
    **_fields(Kind.DATE, "DeliveryDate"),
    **_fields(Kind.OBJ, "EmailInformation EDIInformation"),
    **_fields(Kind.LIST, "Labels"),
    **_enum("Language", "SV", "EN"),
}
_HEADER_READ_ONLY = _read_only(
    "AdministrationFeeVAT BasisTaxReduction Cancelled ContributionPercent ContributionValue "
    "FreightVAT Gross HouseWork Net OfferReference RoundOff Sent TaxReduction Total TotalToPay "
    "TotalVAT WarehouseReady ContractReference InvoiceReference OrderReference"
)

INVOICE = Schema(
    "Invoice",
    {
        **_HEADER_COMMON,
        **_fields(Kind.STR, "OCR InvoicePeriodStart InvoicePeriodEnd"),
        **_fields(Kind.DATE, "InvoiceDate DueDate OutboundDate"),
        **_fields(Kind.LIST, "InvoiceRows"),
        **_enum(
            "InvoiceType",
            "INVOICE",
            "AGREEMENTINVOICE",
            "INTRESTINVOICE",
            "SUMMARYINVOICE",
            "CASHINVOICE",
        ),
        **_enum("PaymentWay", "CASH", "CARD", "AG"),
    },
    _HEADER_READ_ONLY
    | _read_only(
        "AccountingMethod Balance Booked Credit CreditInvoiceReference FinalPayDate "
        "LastRemindDate NoxFinans Reminders TimeBasisReference VoucherNumber VoucherSeries "
        "VoucherYear"
    ),
)

ORDER = Schema(
    "Order",
    {
        **_HEADER_COMMON,
        **_fields(Kind.DATE, "OrderDate"),
        **_fields(Kind.BOOL, "CopyRemarks"),
        **_fields(Kind.LIST, "OrderRows"),
        **_enum("OrderType", "ORDER", "INVOICE"),
        **_enum("DeliveryState", "RESERVATION", "DELIVERY"),
    },
    _HEADER_READ_ONLY | _read_only("OrderIsClosed"),
)

PAYMENT = Schema(
    "InvoicePayment",
    {
        **_fields(
            Kind.STR,
            "ExternalInvoiceReference1 ExternalInvoiceReference2 ModeOfPayment Source",
        ),
        **_fields(Kind.DEC, "Amount AmountCurrency CurrencyRate CurrencyUnit"),
        **_fields(Kind.INT, "InvoiceNumber ModeOfPaymentAccount"),
        **_fields(Kind.DATE, "PaymentDate"),
        **_fields(Kind.LIST, "WriteOffs"),
    },
    _read_only(
        "Booked Currency InvoiceCustomerName InvoiceCustomerNumber InvoiceDueDate InvoiceOCR "
        "InvoiceTotal Number VoucherNumber VoucherSeries VoucherYear"
    ),
)
