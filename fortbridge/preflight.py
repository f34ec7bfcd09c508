"""``fortbridge preflight --shop S [--json]``: run the pre-flight check of a shop's Fortnox now
and print its findings (the same check as ``POST /admin/api/integrations/fortnox/preflight.json``,
straight against the database and Fortnox, within the tenant's rate limit shared with the
running writers). Exit 0 when nothing is wrong (info only), 1 when there are warnings or
problems."""

from __future__ import annotations

import argparse
from typing import Any

import aiohttp

from fortbridge.output import NO, OK, Output, json_flag
from libs.common import database
from libs.common.crypto import TokenCipher
from libs.common.settings import Settings


def add_parser(commands: Any) -> None:
    preflight = commands.add_parser(
        "preflight",
        parents=[json_flag()],
        help="check a shop's Fortnox has what its orders, settings and rules need",
    )
    preflight.add_argument("--shop", required=True, help="the shop, e.g. example.myshopify.com")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    from services.fortnox_writer.connections import ConnectionStore
    from services.fortnox_writer.oauth import valid_shop
    from services.fortnox_writer.preflight.check import PreflightCheck, result_json
    from services.fortnox_writer.ratelimit import rate_limiter

    out = Output(args.json)
    if not valid_shop(args.shop):
        return out.error("--shop must be a shop domain like example.myshopify.com", NO)
    pool = await database.create_pool(settings.database_url, max_size=2, attempts=3)
    try:
        async with aiohttp.ClientSession() as http:
            cipher = TokenCipher(settings.token_encryption_keys.get_secret_value())
            check = PreflightCheck(
                pool=pool,
                http=http,
                settings=settings,
                connections=ConnectionStore(pool, cipher, http, settings),
                limiter=rate_limiter(pool, settings),
            )
            outcome = await check.run(args.shop)
    finally:
        await pool.close()
    result = result_json(outcome.result)
    if not outcome.ran:
        result["note"] = "another check of this shop was running; this is its last result"
    out.result({"shop": args.shop, "preflight": result}, describe(args.shop, result))
    return OK if result["status"] in ("ok", "running") else NO


def describe(shop: str, result: dict[str, Any]) -> list[str]:
    lines = [f"{shop}: {result['status']} (checked {result['checked_at'] or 'never'})"]
    if result.get("error"):
        lines.append(f"  could not finish: {result['error']}")
    for finding in result["findings"]:
        lines.append(f"  [{finding['severity']}] {finding['id']}: {finding['title']}")
        lines.append(f"      {finding['explanation']}")
        lines.append(f"      Fix: {finding['fix']}")
    return lines
