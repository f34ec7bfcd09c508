"""Notes on an order's sync timeline: added and edited by people; system events never change.

A note goes only on an order the timeline knows for the caller's shop (it has a sync event or a
status for it): another shop's order ids, and ids no shop ever synced, answer 404, so a shop
cannot write into ids it never had nor learn which ids other shops have (the same 404 either
way). A note is at most 5000 characters (libs/common/limits.py).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from libs.common.access import Principal, authorize_for_shop
from libs.common.http import json_error
from libs.common.limits import MAX_NOTE
from libs.common.messages import utcnow
from libs.common.service import runtime_of

MAX_NOTE_LENGTH = MAX_NOTE


async def note_body(request: web.Request) -> str | web.Response:
    """The note's text from ``{"timeline_event": {"message": ...}}``, or a 400/422 response."""
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return json_error(400, "the body is not valid JSON")
    event = body.get("timeline_event") if isinstance(body, dict) else None
    message = event.get("message") if isinstance(event, dict) else None
    field = "timeline_event.message"
    if not isinstance(message, str) or not message.strip():
        return json_error(422, f"{field}: a non-empty string is required", field=field)
    if len(message) > MAX_NOTE_LENGTH:
        return json_error(422, f"{field}: at most {MAX_NOTE_LENGTH} characters", field=field)
    return message.strip()


async def _caller(request: web.Request, *scopes: str) -> tuple[Principal, str]:
    runtime = runtime_of(request)
    return await authorize_for_shop(request, runtime.settings, runtime.pool, *scopes)


async def add_note(request: web.Request) -> web.Response:
    principal, shop = await _caller(request, "write_orders", "manage_timeline")
    message = await note_body(request)
    if isinstance(message, web.Response):
        return message
    runtime = runtime_of(request)
    order_id = request.match_info["order_id"]
    # Only on an order the timeline knows for this shop: one it has a sync event or a status
    # for. The insert and the check are one statement, so the answer cannot go stale between.
    row = await runtime.pool.fetchrow(
        """
        INSERT INTO timeline.events (shop, order_id, kind, message, author, occurred_at)
        SELECT $1, $2, 'note', $3, $4, $5
        WHERE EXISTS (SELECT 1 FROM timeline.order_status WHERE shop = $1 AND order_id = $2)
           OR EXISTS (SELECT 1 FROM timeline.events
                      WHERE shop = $1 AND order_id = $2 AND kind <> 'note')
        RETURNING *
        """,
        shop,
        order_id,
        message,
        principal.name,
        utcnow(),
    )
    if row is None:
        return json_error(
            404,
            f"no timeline for order {order_id[:30]} of {shop}: notes go on orders Fortbridge"
            " has synced (or tried to) for this shop",
        )
    return web.json_response({"timeline_event": note_json(row)}, status=201)


async def edit_note(request: web.Request) -> web.Response:
    principal, shop = await _caller(request, "write_orders", "manage_timeline")
    message = await note_body(request)
    if isinstance(message, web.Response):
        return message
    try:
        event_id = int(request.match_info["event_id"])
    except ValueError:
        return json_error(404, "no such timeline event")
    runtime = runtime_of(request)
    async with runtime.pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT kind FROM timeline.events WHERE id = $1 AND shop = $2 AND order_id = $3"
            " FOR UPDATE",
            event_id,
            shop,
            request.match_info["order_id"],
        )
        if row is None:
            return json_error(404, "no such timeline event on this order")
        if row["kind"] != "note":
            return json_error(409, "system events are immutable; only notes can be edited")
        updated = await conn.fetchrow(
            "UPDATE timeline.events SET message = $2, author = $3, updated_at = now()"
            " WHERE id = $1 RETURNING *",
            event_id,
            message,
            principal.name,
        )
    return web.json_response({"timeline_event": note_json(updated)})


def note_json(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "order_id": row["order_id"],
        "kind": row["kind"],
        "message": row["message"],
        "author": row["author"],
        "occurred_at": row["occurred_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat() if row["updated_at"] else None,
    }
