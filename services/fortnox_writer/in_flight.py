"""The writer's part of "is anything in flight?" (``fortbridge quiet``): its set-aside commands
(``deferred_commands``) by reason, read-only. Commands waiting for a rate-limit slot or a retry
are in flight; commands parked until their shop reconnects Fortnox, and commands waiting on
usage billing (docs/billing.md), wait for the merchant."""

from __future__ import annotations

import asyncpg

from libs.common.quiet import Part

REASONS = ("rate_limit", "retry", "parked", "billing")


async def in_flight(pool: asyncpg.Pool) -> Part:
    rows = await pool.fetch(
        "SELECT reason, count(*) AS n FROM fortnox_writer.deferred_commands GROUP BY reason"
    )
    counts = dict.fromkeys(REASONS, 0) | {row["reason"]: int(row["n"]) for row in rows}
    part = Part(figures={"deferred_commands": counts})
    for reason, count in counts.items():
        if not count:
            continue
        if reason == "parked":
            part.waiting.append(f"{count} commands parked until their shop reconnects Fortnox")
        elif reason == "billing":
            part.waiting.append(
                f"{count} commands waiting on usage billing (a shop must approve its charges)"
            )
        else:
            part.busy.append(f"{count} commands set aside ({reason})")
    return part
