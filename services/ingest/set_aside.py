"""Stored webhook events the outbox relay set aside: the operators' view of them.

``GET /admin/api/webhooks/set_aside.json`` (read_integrations) lists the shop's stored events no
valid message could be made of (services/ingest/events.py, ``relay_once``), newest first, with
the reason. They are also counted by ``fortbridge_ingest_outbox_set_aside`` and logged once,
with the reason, when set aside. Nothing retries them: the reason says what is wrong with the
stored row, which no retry changes.
"""

from __future__ import annotations

from aiohttp import web

from libs.common.access import authorize_for_shop
from libs.common.service import runtime_of

PATH = "/admin/api/webhooks/set_aside.json"
LIMIT = 100


async def list_set_aside(request: web.Request) -> web.Response:
    runtime = runtime_of(request)
    _, shop = await authorize_for_shop(
        request, runtime.settings, runtime.pool, "read_integrations", "manage_apps"
    )
    rows = await runtime.pool.fetch(
        """
        SELECT event_uid, topic, webhook_id, event_id, received_at, set_aside_at,
               set_aside_reason
        FROM ingest.webhook_events
        WHERE shop = $1 AND set_aside_at IS NOT NULL AND published_at IS NULL
        ORDER BY set_aside_at DESC
        LIMIT $2
        """,
        shop,
        LIMIT,
    )
    events = [
        {
            "event_uid": str(row["event_uid"]),
            "topic": row["topic"],
            "webhook_id": row["webhook_id"],
            "event_id": row["event_id"],
            "received_at": row["received_at"].isoformat(),
            "set_aside_at": row["set_aside_at"].isoformat(),
            "reason": row["set_aside_reason"],
        }
        for row in rows
    ]
    return web.json_response({"shop": shop, "set_aside_events": events})


def add_routes(app: web.Application) -> None:
    app.router.add_get(PATH, list_set_aside)
