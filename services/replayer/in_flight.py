"""The replayer's part of "is anything in flight?" (``fortbridge quiet``): its failed jobs,
read-only. Jobs queued in a paced bulk replay are in flight; open jobs wait for an operator's
decision (replay or discard)."""

from __future__ import annotations

import asyncpg

from libs.common.quiet import Part


async def in_flight(pool: asyncpg.Pool) -> Part:
    row = await pool.fetchrow(
        """
        SELECT count(*) FILTER (WHERE status = 'open') AS open,
               count(*) FILTER (WHERE status = 'queued') AS queued
        FROM replayer.failed_jobs WHERE status IN ('open', 'queued')
        """
    )
    assert row is not None
    part = Part(figures={"failed_jobs": {"open": int(row["open"]), "queued": int(row["queued"])}})
    if row["queued"]:
        part.busy.append(f"{row['queued']} failed jobs queued for a paced replay")
    if row["open"]:
        part.waiting.append(f"{row['open']} failed jobs open (replay or discard them)")
    return part
