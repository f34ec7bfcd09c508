"""Who may use the replayer's admin endpoints, and who they are (for the audit log).

The one place the replayer checks access, through libs.common.access: reads need
read_integrations, changes write_integrations (manage_apps implies both). A caller bound to a
shop (session token or shop API token) only ever sees that shop's jobs: its filters are pinned
to the shop and other shops' job ids answer 404.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from libs.common.access import Principal, authorize
from libs.common.service import Runtime
from services.replayer.filters import JobFilter

READ = "read_integrations"
WRITE = "write_integrations"


async def caller(request: web.Request, runtime: Runtime, scope: str) -> Principal:
    """The caller, if it may act with ``scope`` (401/403 otherwise)."""
    return await authorize(request, runtime.settings, runtime.pool, scope)


def pinned(principal: Principal, job_filter: JobFilter) -> JobFilter:
    """The filter, limited to the caller's shop when the caller is bound to one."""
    if principal.shop is None:
        return job_filter
    return dataclasses.replace(job_filter, shop=principal.shop)


def may_see(principal: Principal, job: dict[str, Any] | None) -> bool:
    return job is not None and principal.may_act_for(str(job.get("shop") or ""))
