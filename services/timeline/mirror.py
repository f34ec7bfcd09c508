"""Mirroring an order's sync status into Shopify: a JSON metafield and a tag.

Shopify has no API that writes the native order timeline, so the app keeps its own timeline and
shows the latest status on the order as metafield ``fortbridge.sync_status`` (rewritten whole
each time: it always holds the current state) and a tag. An order carries only the tag of its
current status: when a failed order is replayed and synced, ``fortnox-sync-failed`` is removed
(``tagsRemove``, as Shopify documents it: ``id`` and ``tags``, answering ``node`` and
``userErrors``) once ``fortnox-synced`` is added.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from libs.common.errors import PermanentError
from libs.common.shopify_admin import ShopifyAdmin

METAFIELD_NAMESPACE = "fortbridge"
METAFIELD_KEY = "sync_status"

METAFIELDS_SET = """
mutation metafieldsSet($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { key namespace value updatedAt }
    userErrors { field message code }
  }
}
"""

TAGS_ADD = """
mutation tagsAdd($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) {
    node { id }
    userErrors { field message }
  }
}
"""

TAGS_REMOVE = """
mutation tagsRemove($id: ID!, $tags: [String!]!) {
  tagsRemove(id: $id, tags: $tags) {
    node { id }
    userErrors { field message }
  }
}
"""

TAGS = {"synced": "fortnox-synced", "failed": "fortnox-sync-failed"}


def stale_tags(status: str, earlier: Iterable[str]) -> list[str]:
    """Our tags the order may still carry from statuses it had before, other than its own."""
    return sorted({TAGS[s] for s in earlier if s in TAGS and s != status})


def order_gid(order_id: str) -> str:
    return f"gid://shopify/Order/{order_id}"


async def mirror_status(
    admin: ShopifyAdmin,
    shop: str,
    token: str,
    order_id: str,
    status: dict[str, Any],
    *,
    remove_tags: Sequence[str] = (),
) -> None:
    """Write the status metafield, then the status tag, then remove ``remove_tags`` (the tags
    of earlier statuses: the new tag is on before the old one goes)."""
    result = await admin.graphql(
        shop,
        token,
        "metafieldsSet",
        METAFIELDS_SET,
        {
            "metafields": [
                {
                    "ownerId": order_gid(order_id),
                    "namespace": METAFIELD_NAMESPACE,
                    "key": METAFIELD_KEY,
                    "type": "json",
                    "value": json.dumps(status, default=str),
                }
            ]
        },
    )
    _raise_user_errors("metafieldsSet", result)
    tag = TAGS.get(str(status.get("status")))
    if tag:
        result = await admin.graphql(
            shop, token, "tagsAdd", TAGS_ADD, {"id": order_gid(order_id), "tags": [tag]}
        )
        _raise_user_errors("tagsAdd", result)
    if remove_tags:
        result = await admin.graphql(
            shop,
            token,
            "tagsRemove",
            TAGS_REMOVE,
            {"id": order_gid(order_id), "tags": list(remove_tags)},
        )
        _raise_user_errors("tagsRemove", result)


def _raise_user_errors(operation: str, data: dict[str, Any]) -> None:
    errors = (data.get(operation) or {}).get("userErrors") or []
    if errors:
        raise PermanentError(f"Shopify {operation} refused: {errors}", code="shopify_user_error")
