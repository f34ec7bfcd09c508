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
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NotRequired, TypedDict

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


class SyncStatus(TypedDict):
    """What the status metafield holds (every writer of it builds this one shape)."""

    status: str
    document_kind: str | None
    document_number: str | None
    fortnox_total: Any
    order_total: Any
    currency: str | None
    error_code: str | None
    message: str
    notices: list[str]
    updated_at: str
    trace_id: str | None
    summary: NotRequired[str]  # summary mode: the daily summary document's key


# Shopify's most inputs in one metafieldsSet.
MAX_METAFIELDS_PER_CALL = 25


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
    status: Mapping[str, object],
    *,
    remove_tags: Sequence[str] = (),
) -> None:
    """Write the status metafield, then the status tag, then remove ``remove_tags`` (the tags
    of earlier statuses: the new tag is on before the old one goes)."""
    _raise_user_errors(
        "metafieldsSet", await _set_metafields(admin, shop, token, [(order_id, status)])
    )
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


async def mirror_statuses(
    admin: ShopifyAdmin, shop: str, token: str, statuses: Sequence[tuple[str, Mapping[str, object]]]
) -> dict[str, str]:
    """Write many orders' status metafields (no tags), up to 25 orders per metafieldsSet; the
    orders Shopify refused, each with its reason.

    metafieldsSet is atomic (a user error on one input writes none of them), so a refused call
    is made again one order at a time: an order Shopify refuses (deleted since) never keeps the
    others of its call from being written. Shopify unreachable raises (TransientError); a write
    that is repeated writes the same value.
    """
    refused: dict[str, str] = {}
    for start in range(0, len(statuses), MAX_METAFIELDS_PER_CALL):
        group = statuses[start : start + MAX_METAFIELDS_PER_CALL]
        errors = _user_errors("metafieldsSet", await _set_metafields(admin, shop, token, group))
        if not errors:
            continue
        if len(group) == 1:
            refused[group[0][0]] = str(errors)
            continue
        for one in group:
            alone = await _set_metafields(admin, shop, token, [one])
            if one_errors := _user_errors("metafieldsSet", alone):
                refused[one[0]] = str(one_errors)
    return refused


async def _set_metafields(
    admin: ShopifyAdmin, shop: str, token: str, statuses: Sequence[tuple[str, Mapping[str, object]]]
) -> dict[str, Any]:
    return await admin.graphql(
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
                for order_id, status in statuses
            ]
        },
    )


def _user_errors(operation: str, data: dict[str, Any]) -> list[Any]:
    return list((data.get(operation) or {}).get("userErrors") or [])


def _raise_user_errors(operation: str, data: dict[str, Any]) -> None:
    errors = _user_errors(operation, data)
    if errors:
        raise PermanentError(f"Shopify {operation} refused: {errors}", code="shopify_user_error")
