"""``fortbridge billing usage --shop S [--json]``: a shop's usage billing, for operators.

The same report as ``GET /admin/api/billing/usage.json`` (docs/billing.md), read straight from
the writer's billing ledger in the database.
"""

from __future__ import annotations

import argparse
from typing import Any

from fortbridge.output import OK, USAGE, Output, json_flag
from libs.common import database
from libs.common.settings import Settings


def add_parser(commands: Any) -> None:
    billing = commands.add_parser("billing", help="usage billing of a shop")
    actions = billing.add_subparsers(dest="action", required=True)
    usage = actions.add_parser(
        "usage",
        parents=[json_flag()],
        help="trial credits, the subscription, syncs billed this cycle, work waiting on billing",
    )
    usage.add_argument("--shop", required=True, help="the shop, e.g. demo.myshopify.com")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    from services.fortnox_writer import oauth
    from services.fortnox_writer.billing_ledger import BillingLedger

    out = Output(args.json)
    if not oauth.valid_shop(args.shop):
        return out.error("--shop must be a shop domain like example.myshopify.com", USAGE)
    pool = await database.create_pool(settings.database_url, max_size=2, attempts=3)
    try:
        report = await BillingLedger(pool, settings).usage(args.shop)
    finally:
        await pool.close()
    out.result(report, describe(report))
    return OK


def describe(report: dict[str, Any]) -> list[str]:
    trial, sub, waiting = report["trial"], report["subscription"], report["waiting"]
    lines = [
        f"{report['shop']}: usage billing {'on' if report['enabled'] else 'OFF'},"
        f" {report['plan']['terms']}" + (" (test charges)" if report["plan"]["test"] else ""),
        f"  trial credits: {trial['used']} of {trial['credits']} used, {trial['left']} left",
        f"  subscription: {sub['status']}"
        + (
            f", {sub['amount_used']} of {sub['capped_amount']} {sub['currency']} used"
            if sub["capped_amount"]
            else ""
        ),
        f"  syncs billed this cycle: {report['syncs_billed_this_cycle']}"
        f" (usage records made {report['usage_records']['recorded']},"
        f" pending {report['usage_records']['pending']})",
        f"  waiting on billing: {waiting['count']}",
    ]
    if sub["confirmation_url"]:
        lines.append(f"  approve at: {sub['confirmation_url']}")
    if sub["approaching_cap_at"]:
        lines.append(f"  approaching the cap since {sub['approaching_cap_at']}")
    if waiting["reason"]:
        lines.append(f"  why: {waiting['reason']}")
    return lines
