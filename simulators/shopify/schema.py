"""The subset of the Admin GraphQL schema the simulator serves, and a validator for it.

Only type names, field names and argument names are modelled. A field whose type is not an
object type below is a scalar (or a list of scalars). Unknown fields and arguments, selections
on scalars and missing selections on objects are rejected the way Shopify rejects them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .operation import FieldNode, GraphQLError, InlineFragment, Operation, Selection

MAX_PAGE_SIZE = 250


@dataclass(frozen=True)
class F:
    type: str
    args: tuple[str, ...] = ()


_S = F("String")  # any scalar; the exact scalar type does not matter here
CONN = ("first", "after", "last", "before", "reverse")


def _scalars(names: str) -> dict[str, F]:
    return {name: _S for name in names.split()}


def _typed(type_name: str, names: str) -> dict[str, F]:
    return {name: F(type_name) for name in names.split()}


_MF = {
    "metafield": F("Metafield", ("namespace", "key")),
    "metafields": F("MetafieldConnection", (*CONN, "namespace", "keys")),
}

TYPES: dict[str, dict[str, F]] = {
    "QueryRoot": {
        "shop": F("Shop"),
        "order": F("Order", ("id",)),
        "orders": F("OrderConnection", (*CONN, "query", "sortKey", "savedSearchId")),
        "product": F("Product", ("id",)),
        "products": F("ProductConnection", (*CONN, "query", "sortKey", "savedSearchId")),
        "productVariant": F("ProductVariant", ("id",)),
        "customer": F("Customer", ("id",)),
        "customers": F("CustomerConnection", (*CONN, "query", "sortKey")),
        "node": F("Node", ("id",)),
        "nodes": F("Node", ("ids",)),
        "webhookSubscriptions": F(
            "WebhookSubscriptionConnection", (*CONN, "topics", "callbackUrl", "uri", "format")
        ),
        "shopifyPaymentsAccount": F("ShopifyPaymentsAccount"),
        "locations": F("LocationConnection", (*CONN, "query", "includeInactive")),
        "inventoryItems": F("InventoryItemConnection", (*CONN, "query")),
        "inventoryItem": F("InventoryItem", ("id",)),
        "currentAppInstallation": F("AppInstallation"),
    },
    "ShopifyPaymentsAccount": {
        **_scalars("id activated country defaultCurrency"),
        "payouts": F(
            "ShopifyPaymentsPayoutConnection",
            (*CONN, "query", "sortKey", "savedSearchId", "transactionType"),
        ),
        "balanceTransactions": F(
            "ShopifyPaymentsBalanceTransactionConnection",
            (*CONN, "query", "sortKey", "savedSearchId", "hideTransfers"),
        ),
    },
    "ShopifyPaymentsPayout": {
        **_scalars("id legacyResourceId issuedAt status transactionType"),
        "net": F("MoneyV2"),
        "summary": F("ShopifyPaymentsPayoutSummary"),
    },
    "ShopifyPaymentsPayoutSummary": _typed(
        "MoneyV2",
        "chargesGross chargesFee refundsFeeGross refundsFee adjustmentsGross adjustmentsFee "
        "reservedFundsGross reservedFundsFee retriedPayoutsGross retriedPayoutsFee",
    ),
    "ShopifyPaymentsBalanceTransaction": {
        **_scalars(
            "id type test sourceId sourceType sourceOrderTransactionId transactionDate "
            "adjustmentReason"
        ),
        **_typed("MoneyV2", "amount fee net"),
        "associatedOrder": F("ShopifyPaymentsAssociatedOrder"),
        "associatedPayout": F("ShopifyPaymentsBalanceTransactionAssociatedPayout"),
    },
    "ShopifyPaymentsAssociatedOrder": _scalars("id name"),
    "ShopifyPaymentsBalanceTransactionAssociatedPayout": _scalars("id status"),
    "Mutation": {
        "metafieldsSet": F("MetafieldsSetPayload", ("metafields",)),
        "tagsAdd": F("TagsAddPayload", ("id", "tags")),
        "tagsRemove": F("TagsRemovePayload", ("id", "tags")),
        "webhookSubscriptionCreate": F(
            "WebhookSubscriptionCreatePayload", ("topic", "webhookSubscription")
        ),
        "webhookSubscriptionDelete": F("WebhookSubscriptionDeletePayload", ("id",)),
        "inventorySetQuantities": F("InventorySetQuantitiesPayload", ("input",)),
        "appSubscriptionCreate": F(
            "AppSubscriptionCreatePayload",
            ("name", "returnUrl", "lineItems", "test", "trialDays", "replacementBehavior"),
        ),
        "appUsageRecordCreate": F(
            "AppUsageRecordCreatePayload",
            ("subscriptionLineItemId", "price", "description", "idempotencyKey"),
        ),
        "appSubscriptionCancel": F("AppSubscriptionCancelPayload", ("id", "prorate")),
        "appSubscriptionLineItemUpdate": F(
            "AppSubscriptionLineItemUpdatePayload", ("id", "cappedAmount")
        ),
    },
    "InventorySetQuantitiesPayload": {
        "inventoryAdjustmentGroup": F("InventoryAdjustmentGroup"),
        "userErrors": F("InventorySetQuantitiesUserError"),
    },
    "InventorySetQuantitiesUserError": _scalars("code field message"),
    "InventoryAdjustmentGroup": {
        **_scalars("id createdAt reason referenceDocumentUri"),
        "changes": F("InventoryChange"),
    },
    "InventoryChange": {
        **_scalars("name delta quantityAfterChange"),
        "item": F("InventoryItem"),
        "location": F("Location"),
    },
    "Location": _scalars("id legacyResourceId name isActive"),
    "InventoryItem": {
        **_scalars("id legacyResourceId sku tracked updatedAt"),
        "variant": F("ProductVariant"),
        "inventoryLevels": F("InventoryLevelConnection", CONN),
        "inventoryLevel": F("InventoryLevel", ("locationId",)),
    },
    "InventoryLevel": {
        **_scalars("id updatedAt"),
        "location": F("Location"),
        "item": F("InventoryItem"),
        "quantities": F("InventoryQuantity", ("names",)),
    },
    "InventoryQuantity": _scalars("name quantity updatedAt"),
    # The Billing API (billing.py)
    "AppSubscriptionCreatePayload": {
        "appSubscription": F("AppSubscription"),
        "confirmationUrl": _S,
        "userErrors": F("UserError"),
    },
    "AppSubscriptionLineItemUpdatePayload": {
        "appSubscription": F("AppSubscription"),
        "confirmationUrl": _S,
        "userErrors": F("UserError"),
    },
    "AppSubscriptionCancelPayload": {
        "appSubscription": F("AppSubscription"),
        "userErrors": F("UserError"),
    },
    "AppUsageRecordCreatePayload": {
        "appUsageRecord": F("AppUsageRecord"),
        "userErrors": F("UserError"),
    },
    "AppSubscription": {
        **_scalars("id name status test trialDays returnUrl createdAt currentPeriodEnd"),
        "lineItems": F("AppSubscriptionLineItem"),
    },
    "AppSubscriptionLineItem": {"id": _S, "plan": F("AppPlanV2")},
    "AppPlanV2": {"pricingDetails": F("AppPricingDetails")},
    "AppUsagePricing": {
        **_scalars("terms interval"),
        **_typed("MoneyV2", "cappedAmount balanceUsed"),
    },
    "AppRecurringPricing": {**_scalars("interval"), "price": F("MoneyV2")},
    "AppUsageRecord": {
        **_scalars("id description idempotencyKey createdAt"),
        "price": F("MoneyV2"),
        "subscriptionLineItem": F("AppSubscriptionLineItem"),
    },
    "AppInstallation": {
        "id": _S,
        "activeSubscriptions": F("AppSubscription"),
        "accessScopes": F("AccessScope"),
    },
    "AccessScope": {"handle": _S, "description": _S},
    "WebhookSubscriptionCreatePayload": {
        "webhookSubscription": F("WebhookSubscription"),
        "userErrors": F("UserError"),
    },
    "WebhookSubscriptionDeletePayload": {
        "deletedWebhookSubscriptionId": _S,
        "userErrors": F("UserError"),
    },
    "WebhookSubscription": {
        **_scalars(
            "id legacyResourceId topic format callbackUrl uri includeFields createdAt updatedAt"
        ),
        "endpoint": F("WebhookSubscriptionEndpoint"),
    },
    "WebhookHttpEndpoint": _scalars("callbackUrl"),
    "MetafieldsSetPayload": {
        "metafields": F("Metafield"),
        "userErrors": F("MetafieldsSetUserError"),
    },
    "MetafieldsSetUserError": _scalars("field message code elementIndex"),
    "TagsAddPayload": {"node": F("Node"), "userErrors": F("UserError")},
    "TagsRemovePayload": {"node": F("Node"), "userErrors": F("UserError")},
    "UserError": _scalars("field message"),
    "Metafield": _scalars(
        "id namespace key value type createdAt updatedAt compareDigest ownerType jsonValue"
    ),
    "Shop": {
        **_scalars(
            "id name email contactEmail myshopifyDomain currencyCode "
            "enabledPresentmentCurrencies ianaTimezone taxesIncluded"
        ),
        **_MF,
    },
    "Order": {
        **_scalars(
            "id legacyResourceId name email phone createdAt updatedAt processedAt cancelledAt "
            "closedAt cancelReason test confirmed currencyCode presentmentCurrencyCode "
            "taxesIncluded displayFinancialStatus displayFulfillmentStatus note tags "
            "discountCodes paymentGatewayNames sourceName"
        ),
        **_typed(
            "MoneyBag",
            "totalPriceSet subtotalPriceSet totalTaxSet totalDiscountsSet totalShippingPriceSet "
            "currentTotalPriceSet currentSubtotalPriceSet currentTotalTaxSet "
            "currentTotalDiscountsSet totalOutstandingSet totalTipReceivedSet",
        ),
        "customAttributes": F("Attribute"),
        "lineItems": F("LineItemConnection", CONN),
        "shippingLines": F("ShippingLineConnection", (*CONN, "includeRemovals")),
        "taxLines": F("TaxLine"),
        "customer": F("Customer"),
        **_typed("MailingAddress", "billingAddress shippingAddress"),
        "refunds": F("Refund", ("first",)),
        "transactions": F("OrderTransaction", ("first", "capturable", "manuallyResolvable")),
        **_MF,
    },
    "OrderTransaction": {
        **_scalars("id kind status gateway processedAt createdAt test errorCode"),
        "amountSet": F("MoneyBag"),
    },
    "LineItem": {
        **_scalars(
            "id name title variantTitle sku quantity currentQuantity taxable requiresShipping "
            "isGiftCard vendor"
        ),
        **_typed("MoneyBag", "originalUnitPriceSet originalTotalSet totalDiscountSet"),
        "taxLines": F("TaxLine", ("first",)),
        "discountAllocations": F("DiscountAllocation"),
        "duties": F("Duty"),
        "customAttributes": F("Attribute"),
        "variant": F("ProductVariant"),
        "product": F("Product"),
    },
    "ShippingLine": {
        **_scalars("id title code source isRemoved"),
        **_typed("MoneyBag", "originalPriceSet discountedPriceSet"),
        "taxLines": F("TaxLine"),
        "discountAllocations": F("DiscountAllocation"),
    },
    "Duty": {
        **_scalars("id harmonizedSystemCode countryCodeOfOrigin"),
        "price": F("MoneyBag"),
        "taxLines": F("TaxLine"),
    },
    "TaxLine": {**_scalars("title rate ratePercentage channelLiable"), "priceSet": F("MoneyBag")},
    "DiscountAllocation": {"allocatedAmountSet": F("MoneyBag")},
    "Refund": {
        **_scalars("id legacyResourceId createdAt updatedAt note"),
        "totalRefundedSet": F("MoneyBag"),
        "refundLineItems": F("RefundLineItemConnection", CONN),
        "refundShippingLines": F("RefundShippingLineConnection", CONN),
        "orderAdjustments": F("OrderAdjustmentConnection", CONN),
        "duties": F("RefundDuty"),
        "transactions": F("OrderTransactionConnection", CONN),
    },
    "RefundShippingLine": {
        **_scalars("id"),
        "shippingLine": F("ShippingLine"),
        **_typed("MoneyBag", "subtotalAmountSet taxAmountSet"),
    },
    "OrderAdjustment": {
        **_scalars("id reason"),
        **_typed("MoneyBag", "amountSet taxAmountSet"),
    },
    "RefundDuty": {"amountSet": F("MoneyBag"), "originalDuty": F("Duty")},
    "RefundLineItem": {
        **_scalars("id quantity restockType restocked"),
        **_typed("MoneyBag", "priceSet subtotalSet totalTaxSet"),
        "lineItem": F("LineItem"),
    },
    "MoneyBag": _typed("MoneyV2", "shopMoney presentmentMoney"),
    "MoneyV2": _scalars("amount currencyCode"),
    "Attribute": _scalars("key value"),
    "MailingAddress": _scalars(
        "id firstName lastName name company address1 address2 city zip province provinceCode "
        "country countryCodeV2 phone"
    ),
    "Customer": {
        **_scalars(
            "id legacyResourceId email firstName lastName displayName phone createdAt updatedAt "
            "tags note state taxExempt locale verifiedEmail numberOfOrders"
        ),
        "defaultAddress": F("MailingAddress"),
        **_MF,
    },
    "Product": {
        **_scalars(
            "id legacyResourceId title handle vendor productType status tags createdAt "
            "updatedAt publishedAt descriptionHtml totalInventory"
        ),
        "variants": F("ProductVariantConnection", CONN),
        **_MF,
    },
    "ProductVariant": {
        **_scalars(
            "id legacyResourceId title sku price compareAtPrice barcode inventoryQuantity "
            "taxable position createdAt updatedAt"
        ),
        "product": F("Product"),
        "inventoryItem": F("InventoryItem"),
        **_MF,
    },
    "PageInfo": _scalars("hasNextPage hasPreviousPage startCursor endCursor"),
}
_CONNECTION_NODES = (
    "Order LineItem ShippingLine Product ProductVariant Customer Metafield WebhookSubscription "
    "RefundLineItem RefundShippingLine OrderAdjustment OrderTransaction "
    "ShopifyPaymentsPayout ShopifyPaymentsBalanceTransaction "
    "InventoryItem InventoryLevel Location"
)
for _node in _CONNECTION_NODES.split():
    TYPES[f"{_node}Connection"] = {
        "edges": F(f"{_node}Edge"),
        "nodes": F(_node),
        "pageInfo": F("PageInfo"),
    }
    TYPES[f"{_node}Edge"] = {"cursor": _S, "node": F(_node)}

# Abstract types: name -> (fields every member has, member types)
_METAFIELD_OWNERS = "Order Product ProductVariant Customer Shop"
_NODE_TYPES = (
    "Order LineItem Product ProductVariant Customer Metafield Shop ShippingLine Refund "
    "WebhookSubscription RefundShippingLine OrderAdjustment OrderTransaction "
    "ShopifyPaymentsPayout ShopifyPaymentsBalanceTransaction "
    "InventoryItem InventoryLevel Location"
)
INTERFACES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "Node": (frozenset({"id"}), frozenset(_NODE_TYPES.split())),
    "HasMetafields": (
        frozenset({"metafield", "metafields"}),
        frozenset(_METAFIELD_OWNERS.split()),
    ),
    "WebhookSubscriptionEndpoint": (frozenset(), frozenset({"WebhookHttpEndpoint"})),
    "AppPricingDetails": (frozenset(), frozenset({"AppUsagePricing", "AppRecurringPricing"})),
}


def is_object_type(name: str) -> bool:
    return name in TYPES or name in INTERFACES


def type_matches(typename: str, condition: str | None) -> bool:
    """Does an object of `typename` take part in a fragment `... on condition`?"""
    if condition is None or condition == typename:
        return True
    return condition in INTERFACES and typename in INTERFACES[condition][1]


def _error(message: str, sel: Selection, path: list[str | int], **ext: object) -> GraphQLError:
    return GraphQLError(message, line=sel.line, column=sel.column, path=path, extensions=dict(ext))


def _fragment_allowed(parent: str, condition: str) -> bool:
    if condition == parent or type_matches(parent, condition):
        return True
    if parent in INTERFACES:
        members = INTERFACES[parent][1]
        return condition in members or (
            condition in INTERFACES and bool(members & INTERFACES[condition][1])
        )
    return False


def _check_page_size(field: FieldNode, path: list[str | int]) -> None:
    first, last = field.args.get("first"), field.args.get("last")
    if first is None and last is None:
        raise _error("you must provide one of first or last", field, path, code="BAD_REQUEST")
    for name, value in (("first", first), ("last", last)):
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise _error(
                f"Argument '{name}' on Field '{field.name}' has an invalid value ({value}). "
                "Expected type 'Int'.",
                field,
                path,
                code="argumentLiteralsIncompatible",
            )
        if value > MAX_PAGE_SIZE:
            raise _error(
                f"The {name} argument must be less than or equal to {MAX_PAGE_SIZE}.",
                field,
                path,
                code="BAD_REQUEST",
            )


def _validate(selections: Sequence[Selection], parent: str, path: list[str | int]) -> None:
    for sel in selections:
        if isinstance(sel, InlineFragment):
            cond = sel.type_condition or parent
            if not is_object_type(cond):
                raise _error(
                    f"No such type {cond}, so it can't be a fragment condition",
                    sel,
                    path,
                    code="undefinedType",
                    typeName=cond,
                )
            if not _fragment_allowed(parent, cond):
                raise _error(
                    f"Fragment on {cond} can't be spread inside {parent}",
                    sel,
                    path,
                    code="fragmentSpreadImpossible",
                )
            _validate(sel.selections, cond, path)
            continue
        here = [*path, sel.response_key]
        if sel.name == "__typename":
            continue
        if parent in INTERFACES:
            shared, members = INTERFACES[parent]
            spec = TYPES[min(members)].get(sel.name) if sel.name in shared else None
        else:
            spec = TYPES[parent].get(sel.name)
        if spec is None:
            raise _error(
                f"Field '{sel.name}' doesn't exist on type '{parent}'",
                sel,
                here,
                code="undefinedField",
                typeName=parent,
                fieldName=sel.name,
            )
        for arg in sel.args:
            if arg not in spec.args:
                raise _error(
                    f"Field '{sel.name}' doesn't accept argument '{arg}'",
                    sel,
                    here,
                    code="argumentNotAccepted",
                    name=sel.name,
                    typeName="Field",
                    argumentName=arg,
                )
        if is_object_type(spec.type):
            if not sel.selections:
                raise _error(
                    f"Field must have selections (field '{sel.name}' returns {spec.type} but "
                    f"has no selections. Did you mean '{sel.name} {{ ... }}'?)",
                    sel,
                    here,
                    code="selectionMismatch",
                    nodeName=f"field '{sel.name}'",
                    typeName=spec.type,
                )
            if spec.type.endswith("Connection"):
                _check_page_size(sel, here)
            _validate(sel.selections, spec.type, here)
        elif sel.selections:
            names = [s.name for s in sel.selections if isinstance(s, FieldNode)]
            raise _error(
                f"Selections can't be made on scalars (field '{sel.name}' returns "
                f"{spec.type} but has selections {names})",
                sel,
                here,
                code="selectionMismatch",
                nodeName=f"field '{sel.name}'",
                typeName=spec.type,
            )


def validate(operation: Operation) -> None:
    root = "Mutation" if operation.kind == "mutation" else "QueryRoot"
    _validate(operation.selections, root, [operation.kind])
