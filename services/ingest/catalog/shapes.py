"""Shopify Admin GraphQL pages of products and customers, in the REST webhook shape.

The mapper reads webhook payloads (REST JSON); a bulk sync makes the same shape from GraphQL so
that one mapping serves both.
"""

from __future__ import annotations

from typing import Any

# Shopify refuses a query over 1,000 points: 10 products x 90 variants stays under it; a product
# with more variants has the rest read by VARIANTS, page by page.
PAGE_SIZES = {"products": 10, "customers": 50}
VARIANTS_PER_PAGE = 90
VARIANT_FIELDS = "legacyResourceId title sku barcode price taxable inventoryQuantity position"

PRODUCTS = """
query products($first: Int!, $after: String, $query: String) {
  products(first: $first, after: $after, query: $query, sortKey: ID) {
    nodes {
      id legacyResourceId title handle vendor productType status tags updatedAt
      variants(first: 90) {
        nodes { VARIANTS_FIELDS_PLACEHOLDER }
        pageInfo { hasNextPage endCursor }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

VARIANTS = """
query variants($id: ID!, $after: String) {
  product(id: $id) {
    variants(first: 90, after: $after) {
      nodes { VARIANTS_FIELDS_PLACEHOLDER }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

CUSTOMERS = """
query customers($first: Int!, $after: String, $query: String) {
  customers(first: $first, after: $after, query: $query, sortKey: ID) {
    nodes {
      legacyResourceId email firstName lastName phone tags note taxExempt updatedAt
      defaultAddress { firstName lastName company address1 address2 city zip countryCodeV2 phone }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

# A filter by ids reads exactly those objects with nodes(ids:), a page of ids at a time.
BY_IDS = {
    "products": """
query productsByIds($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on Product {
      id legacyResourceId title handle vendor productType status tags updatedAt
      variants(first: 90) {
        nodes { VARIANTS_FIELDS_PLACEHOLDER }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
}
""",
    "customers": """
query customersByIds($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on Customer {
      legacyResourceId email firstName lastName phone tags note taxExempt updatedAt
      defaultAddress { firstName lastName company address1 address2 city zip countryCodeV2 phone }
    }
  }
}
""",
}
GID_TYPES = {"products": "Product", "customers": "Customer"}
BY_IDS = {
    kind: query.replace("VARIANTS_FIELDS_PLACEHOLDER", VARIANT_FIELDS)
    for kind, query in BY_IDS.items()
}
PRODUCTS = PRODUCTS.replace("VARIANTS_FIELDS_PLACEHOLDER", VARIANT_FIELDS)
VARIANTS = VARIANTS.replace("VARIANTS_FIELDS_PLACEHOLDER", VARIANT_FIELDS)
QUERIES = {"products": PRODUCTS, "customers": CUSTOMERS}
TOPICS = {"products": "products/update", "customers": "customers/update"}


def search_query(updated_since: str | None) -> str | None:
    """Shopify search syntax for the job's filter (None: everything)."""
    return f"updated_at:>='{updated_since}'" if updated_since else None


def gids(kind: str, ids: list[str]) -> list[str]:
    return [f"gid://shopify/{GID_TYPES[kind]}/{item}" for item in ids]


def _tags(value: Any) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value or "")


def product_payload(node: dict[str, Any]) -> dict[str, Any]:
    product_id = int(node["legacyResourceId"])
    variants = (node.get("variants") or {}).get("nodes") or []
    return {
        "id": product_id,
        "title": node.get("title"),
        "handle": node.get("handle"),
        "vendor": node.get("vendor"),
        "product_type": node.get("productType"),
        "status": str(node.get("status") or "").lower() or None,
        "tags": _tags(node.get("tags")),
        "updated_at": node.get("updatedAt"),
        "variants": [
            {
                "id": int(variant["legacyResourceId"]),
                "product_id": product_id,
                "title": variant.get("title"),
                "sku": variant.get("sku"),
                "barcode": variant.get("barcode"),
                "price": None if variant.get("price") is None else str(variant["price"]),
                "taxable": variant.get("taxable"),
                "inventory_quantity": variant.get("inventoryQuantity"),
                "position": variant.get("position"),
            }
            for variant in variants
        ],
    }


def customer_payload(node: dict[str, Any]) -> dict[str, Any]:
    address = node.get("defaultAddress")
    return {
        "id": int(node["legacyResourceId"]),
        "email": node.get("email"),
        "first_name": node.get("firstName"),
        "last_name": node.get("lastName"),
        "phone": node.get("phone"),
        "tags": _tags(node.get("tags")),
        "note": node.get("note"),
        "tax_exempt": node.get("taxExempt"),
        "updated_at": node.get("updatedAt"),
        "default_address": None
        if not address
        else {
            "first_name": address.get("firstName"),
            "last_name": address.get("lastName"),
            "company": address.get("company"),
            "address1": address.get("address1"),
            "address2": address.get("address2"),
            "city": address.get("city"),
            "zip": address.get("zip"),
            "country_code": address.get("countryCodeV2"),
            "phone": address.get("phone"),
        },
    }


def payload_of(kind: str, node: dict[str, Any]) -> dict[str, Any]:
    return product_payload(node) if kind == "products" else customer_payload(node)
